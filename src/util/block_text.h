#pragma once
// Block numbers in messages and reports, written one way everywhere.
// Thread safety: pure.

#include <cstdint>
#include <string>

namespace vblk {

// "N" for one block, "N-M" (inclusive) for more: vblk-inject's --block syntax.
// REQUIRES count >= 1.
inline std::string block_range_text(uint64_t first, uint64_t count) {
  return count == 1 ? std::to_string(first) : std::to_string(first) + "-" + std::to_string(first + count - 1);
}

// "block N" or "blocks N-M".
inline std::string blocks_phrase(uint64_t first, uint64_t count) {
  return (count == 1 ? "block " : "blocks ") + block_range_text(first, count);
}

}  // namespace vblk
