#include "store/bad_set.h"

#include <algorithm>
#include <iterator>

namespace vblk::store {

void BadSet::add(uint64_t first, uint64_t count) {
  if (count == 0) return;
  uint64_t end = first + count;
  auto it = ranges_.upper_bound(first);
  if (it != ranges_.begin()) {
    auto prev = std::prev(it);
    if (prev->first + prev->second >= first) {
      first = prev->first;
      end = std::max(end, prev->first + prev->second);
      it = ranges_.erase(prev);
    }
  }
  while (it != ranges_.end() && it->first <= end) {
    end = std::max(end, it->first + it->second);
    it = ranges_.erase(it);
  }
  ranges_[first] = end - first;
}

void BadSet::remove(uint64_t first, uint64_t count) {
  if (count == 0) return;
  uint64_t end = first + count;
  auto it = ranges_.upper_bound(first);
  if (it != ranges_.begin()) --it;
  while (it != ranges_.end() && it->first < end) {
    uint64_t rf = it->first, re = it->first + it->second;
    if (re <= first) {
      ++it;
      continue;
    }
    it = ranges_.erase(it);
    if (rf < first) ranges_[rf] = first - rf;
    if (re > end) ranges_[end] = re - end;
  }
}

bool BadSet::contains(uint64_t block) const { return first_in(block, 1).has_value(); }

std::optional<uint64_t> BadSet::first_in(uint64_t first, uint64_t count) const {
  auto it = ranges_.upper_bound(first);
  if (it != ranges_.begin()) {
    auto prev = std::prev(it);
    if (prev->first + prev->second > first) return first;
  }
  if (it != ranges_.end() && it->first < first + count) return it->first;
  return std::nullopt;
}

uint64_t BadSet::run_end(uint64_t block) const {
  auto it = std::prev(ranges_.upper_bound(block));
  return it->first + it->second;
}

uint64_t BadSet::count_in(uint64_t first, uint64_t count) const {
  const uint64_t end = first + count;
  uint64_t n = 0;
  auto it = ranges_.upper_bound(first);
  if (it != ranges_.begin()) --it;
  for (; it != ranges_.end() && it->first < end; ++it) {
    uint64_t lo = std::max(first, it->first), hi = std::min(end, it->first + it->second);
    if (hi > lo) n += hi - lo;
  }
  return n;
}

uint64_t BadSet::total() const {
  uint64_t n = 0;
  for (auto& [f, c] : ranges_) n += c;
  return n;
}

}  // namespace vblk::store
