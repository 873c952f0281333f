#pragma once
// BadSet: the image's BAD blocks, as disjoint ascending ranges (vblk(5)
// BLOCK STATES). No lock of its own: StoreImpl holds mu_.

#include <cstdint>
#include <map>
#include <optional>

namespace vblk::store {

// Disjoint, ascending ranges of BAD blocks.
class BadSet {
 public:
  void add(uint64_t first, uint64_t count);
  void remove(uint64_t first, uint64_t count);
  bool contains(uint64_t block) const;
  // First bad block in [first, first+count), or nullopt.
  std::optional<uint64_t> first_in(uint64_t first, uint64_t count) const;
  // End (exclusive) of the range holding `block`. REQUIRES: contains(block).
  uint64_t run_end(uint64_t block) const;
  // BAD blocks in [first, first+count).
  uint64_t count_in(uint64_t first, uint64_t count) const;
  uint64_t total() const;
  const std::map<uint64_t, uint64_t>& ranges() const { return ranges_; }
  void clear() { ranges_.clear(); }

 private:
  std::map<uint64_t, uint64_t> ranges_;  // first -> count
};

}  // namespace vblk::store
