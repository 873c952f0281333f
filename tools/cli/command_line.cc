#include "cli/command_line.h"

#include <exception>
#include <new>
#include <string>

#include "cli/report.h"

namespace vblk::cli {

std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv, std::string_view prog) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help, --version
  } catch (const CLI::ParseError& e) {
    report_error(prog, "", std::string(e.what()) + " (see --help)");
    return kExitUsage;
  }
  return std::nullopt;
}

int report_current_exception(std::string_view prog) {
  try {
    throw;
  } catch (const std::bad_alloc&) {
    report_error(prog, "", "out of memory");
  } catch (const std::exception& e) {
    report_error(prog, "", e.what());
  } catch (...) {
    report_error(prog, "", "unknown error");
  }
  return kExitError;
}

}  // namespace vblk::cli
