#pragma once
// The one-line causes vblk's messages are made of ("FILE: cause"), shared
// by the tools and the library code that reports on their behalf.
// Thread safety: pure functions.

#include <string>
#include <string_view>

#include "vblk/status.h"

namespace vblk {

// `s` on one line: line breaks become spaces, trailing spaces go.
std::string one_line(std::string_view s);

// The cause of a failed status for a message that already names `file`:
// the status message without a leading "<file>: " (stores and files name
// their path themselves), newlines flattened; the code's name when the
// message is empty.
std::string error_cause(const Status& status, std::string_view file);

}  // namespace vblk
