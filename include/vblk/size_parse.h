#pragma once
// Parsing and printing of byte sizes as users type them on command lines.
//
// parse_size accepts what qemu-img accepts, in binary units: a decimal
// number with an optional suffix K, M, G, T, P or E (powers of 1024, any
// case), optionally followed by "B" or "iB" ("8G", "8GiB", "4k", "512",
// "512B"). A fraction ("1.5G") is accepted only when it is a whole number
// of bytes. Whitespace is allowed around the number, not inside it.
// Thread safety: pure functions.

#include <cstdint>
#include <string>
#include <string_view>

#include "vblk/status.h"

namespace vblk {

// Returns the size in bytes. On failure: InvalidArgument whose message
// quotes `text` and says why (empty, negative, garbage, not a whole number
// of bytes, too large).
Result<uint64_t> parse_size(std::string_view text);

// Human-readable binary size: "512 B", "4.0 KiB", "1.5 GiB" (one decimal).
std::string format_size(uint64_t bytes);

}  // namespace vblk
