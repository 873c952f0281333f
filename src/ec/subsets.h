#pragma once
// Walking the k-subsets of [0, n): a repair plan tries subsets of the
// global parity rows, the member report subsets of further failures.
// Thread safety: pure.

#include <cstdint>
#include <vector>

namespace vblk::ec {

// Steps `pick` (ascending, k = pick.size() entries of [0, n)) to the next
// k-subset in lexicographic order; false after the last. Start from
// {0, 1, ..., k-1}.
inline bool next_subset(std::vector<uint32_t>& pick, uint32_t n) {
  const auto k = static_cast<uint32_t>(pick.size());
  for (uint32_t i = k; i-- > 0;) {
    if (pick[i] < n - k + i) {
      ++pick[i];
      for (uint32_t j = i + 1; j < k; ++j) pick[j] = pick[j - 1] + 1;
      return true;
    }
  }
  return false;
}

}  // namespace vblk::ec
