#pragma once
// Bytes as text: xxd's hex dump, and plain hex.
//
// hex_dump lays out lines as xxd does, 16 bytes a line:
//   00000010: 4865 6c6c 6f2c 2077 6f72 6c64 0a00 0102  Hello, world....
// the line's offset (8 hex digits, more when it needs them), the bytes in
// pairs, and the bytes as ASCII ('.' for anything not printable). A short
// last line is padded so its ASCII column lines up. `offset` is the first
// byte's offset (xxd -s): lines are counted from it, not from a multiple
// of 16. Options: squeeze a run of lines equal to the one before into one
// '*' (as xxd -a and hexdump do), and close with a line holding the end
// offset (as hexdump does).
// Thread safety: pure functions.

#include <cstdint>
#include <span>
#include <string>

namespace vblk::report {

struct HexDumpOptions {
  bool squeeze = false;     // repeated lines as one '*'
  bool end_offset = false;  // a last line with the offset after the last byte
};

// The dump above; every line ends with '\n'; empty for no bytes (unless
// end_offset).
std::string hex_dump(std::span<const uint8_t> bytes, uint64_t offset, const HexDumpOptions& options = {});

// "deadbeef": two lower-case hex digits a byte.
std::string hex_string(std::span<const uint8_t> bytes);

}  // namespace vblk::report
