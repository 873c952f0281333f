#pragma once
// One-line error reports shared by the tools: "<prog>: <file>: <cause>".
// Thread safety: writes to stderr; call from one thread.

#include <string>
#include <string_view>

#include "util/error_text.h"
#include "vblk/status.h"

namespace vblk::cli {

// The cause of a failed status for a message that already names `file`
// (util/error_text.h).
using vblk::error_cause;

// Prints "<prog>: <file>: <cause>\n" on stderr (or "<prog>: <cause>" when
// `file` is empty), flattening newlines so the report stays one line.
void report_error(std::string_view prog, std::string_view file, std::string_view cause);
inline void report_error(std::string_view prog, std::string_view file, const Status& status) {
  report_error(prog, file, error_cause(status, file));
}

// A failure with the file it concerns and the exit code it earns (1 unless
// the user's input was at fault).
struct Failure {
  std::string file;
  std::string cause;
  int exit_code = 1;
};

// Reports `f` as one line and returns its exit code.
inline int report_failure(std::string_view prog, const Failure& f) {
  report_error(prog, f.file, f.cause);
  return f.exit_code;
}

}  // namespace vblk::cli
