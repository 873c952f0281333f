#pragma once
// Byte-buffer predicates shared by every layer. Thread safety: pure.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace vblk {

// True when the n bytes at p are all zero (n == 0 included). Compares the
// buffer with itself one byte on, so that libc's vectorised memcmp does
// the work: a 4 KiB block in a few hundred nanoseconds.
inline bool all_zero(const uint8_t* p, size_t n) {
  return n == 0 || (p[0] == 0 && std::memcmp(p, p + 1, n - 1) == 0);
}
inline bool all_zero(std::span<const uint8_t> s) { return all_zero(s.data(), s.size()); }

}  // namespace vblk
