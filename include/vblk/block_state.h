#pragma once
// BlockState: the persistent state of one device block.
// The numbers are stored on disk (see vblk(5)); 0 is FREE so an all-zero
// index page is a valid, empty page. Thread safety: plain values.

#include <cstdint>
#include <string_view>

namespace vblk {

enum class BlockState : uint8_t {
  kFree = 0,     // never written; reads zeros
  kUsed = 1,     // holds data (possibly all zeros, stored without payload)
  kTrimmed = 2,  // discarded; reads zeros; reusable
  kBad = 3,      // permanently unusable: reads and writes fail
};

inline std::string_view to_string(BlockState s) {
  switch (s) {
    case BlockState::kFree: return "FREE";
    case BlockState::kUsed: return "USED";
    case BlockState::kTrimmed: return "TRIMMED";
    case BlockState::kBad: return "BAD";
  }
  return "UNKNOWN";
}

// One character per state, for text maps: FREE '.', USED '#', TRIMMED '-', BAD 'X'.
inline char to_char(BlockState s) {
  switch (s) {
    case BlockState::kFree: return '.';
    case BlockState::kUsed: return '#';
    case BlockState::kTrimmed: return '-';
    case BlockState::kBad: return 'X';
  }
  return '?';
}

}  // namespace vblk
