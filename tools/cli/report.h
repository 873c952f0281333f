#pragma once
// One-line error reports shared by the tools: "<prog>: <file>: <cause>".
// Thread safety: writes to stderr; call from one thread.

#include <string>
#include <string_view>

#include "vblk/status.h"

namespace vblk::cli {

// The cause of a failed status for a message that already names `file`:
// the status message without a leading "<file>: ", newlines flattened.
std::string error_cause(const Status& status, std::string_view file);

// Prints "<prog>: <file>: <cause>\n" on stderr (or "<prog>: <cause>" when
// `file` is empty), flattening newlines so the report stays one line.
void report_error(std::string_view prog, std::string_view file, std::string_view cause);
inline void report_error(std::string_view prog, std::string_view file, const Status& status) {
  report_error(prog, file, error_cause(status, file));
}

}  // namespace vblk::cli
