#pragma once
// The parts of every tool's main() that are the same: parsing with CLI11
// into one-line errors, and turning an escaped exception into an exit code.
#include <CLI/CLI.hpp>

#include <optional>
#include <string_view>

namespace vblk::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;

// Parses argv. Returns nullopt to carry on, or the exit code to return now:
// 0 after --help / --version, kExitUsage after a one-line error on stderr.
std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv, std::string_view prog);

// Call from `catch (...)` in main(): reports the exception in one line
// ("out of memory" for std::bad_alloc) and returns kExitError.
int report_current_exception(std::string_view prog);

}  // namespace vblk::cli
