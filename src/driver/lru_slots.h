#pragma once
// LruSlots: a fixed number of slots, each holding one key, kept in
// least-recently-used order and found by key through an open-addressing
// hash table (linear probing, backward-shift deletion). Arrays of indices
// only: find, touch, assign and erase allocate nothing, and a lookup touches one
// or two cache lines of the table instead of a hash node and a list node
// (std::unordered_map and std::list took 5% of the daemon's CPU on random
// 4 KiB reads). The caller keeps what each slot holds, by slot number.
// Not thread-safe.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace vblk::driver {

class LruSlots {
 public:
  static constexpr uint32_t kNone = ~0u;

  // REQUIRES: 0 < capacity < 2^30.
  explicit LruSlots(uint32_t capacity);

  uint32_t capacity() const { return static_cast<uint32_t>(keys_.size()); }
  uint32_t size() const { return size_; }
  // The slot holding key, or kNone.
  uint32_t find(uint64_t key) const;
  // Makes the slot the most recently used. REQUIRES: the slot is in use.
  void touch(uint32_t slot);
  // A slot for key, which must not be held: a free slot if there is one,
  // else the least recently used slot, whose key is dropped. The slot
  // becomes the most recently used.
  uint32_t assign(uint64_t key);
  // Frees the slot. REQUIRES: the slot is in use.
  void erase(uint32_t slot);
  uint64_t key(uint32_t slot) const { return keys_[slot]; }
  // The slots in use, most recently used first.
  std::vector<uint32_t> slots_in_use() const;

 private:
  size_t home_of(uint64_t key) const { return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_); }
  // The bucket that holds slot's key. REQUIRES: the slot is in use.
  size_t bucket_of(uint32_t slot) const;
  void unlink(uint32_t slot);
  void push_front(uint32_t slot);

  std::vector<uint32_t> buckets_;  // slot numbers; kNone = empty; size a power of two >= 2 x capacity
  size_t mask_ = 0;
  unsigned shift_ = 0;
  std::vector<uint64_t> keys_;
  std::vector<uint32_t> prev_, next_;  // the LRU list of slots in use; next_ also chains the free slots
  uint32_t head_ = kNone, tail_ = kNone;  // most and least recently used
  uint32_t free_ = kNone;
  uint32_t size_ = 0;
};

}  // namespace vblk::driver
