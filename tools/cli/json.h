#pragma once
// The tools' JSON writer is the library's (src/util/json.h): the daemon
// writes the same documents for its live control interface.
#include "util/json.h"

namespace vblk::cli {
using ::vblk::json_quote;
using ::vblk::JsonWriter;
}  // namespace vblk::cli
