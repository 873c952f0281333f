#include "driver/lru_slots.h"

#include <cassert>

namespace vblk::driver {

LruSlots::LruSlots(uint32_t capacity) : keys_(capacity), prev_(capacity, kNone), next_(capacity, kNone) {
  assert(capacity > 0 && capacity < (1u << 30));
  unsigned bits = 1;
  while ((size_t{1} << bits) < size_t{2} * capacity) ++bits;
  buckets_.assign(size_t{1} << bits, kNone);
  mask_ = buckets_.size() - 1;
  shift_ = 64 - bits;
  for (uint32_t i = 0; i + 1 < capacity; ++i) next_[i] = i + 1;
  free_ = 0;
}

uint32_t LruSlots::find(uint64_t key) const {
  for (size_t b = home_of(key);; b = (b + 1) & mask_) {
    const uint32_t slot = buckets_[b];
    if (slot == kNone || keys_[slot] == key) return slot;
  }
}

size_t LruSlots::bucket_of(uint32_t slot) const {
  for (size_t b = home_of(keys_[slot]);; b = (b + 1) & mask_)
    if (buckets_[b] == slot) return b;
}

void LruSlots::unlink(uint32_t slot) {
  (prev_[slot] == kNone ? head_ : next_[prev_[slot]]) = next_[slot];
  (next_[slot] == kNone ? tail_ : prev_[next_[slot]]) = prev_[slot];
}

void LruSlots::push_front(uint32_t slot) {
  prev_[slot] = kNone;
  next_[slot] = head_;
  (head_ == kNone ? tail_ : prev_[head_]) = slot;
  head_ = slot;
}

void LruSlots::touch(uint32_t slot) {
  if (slot == head_) return;
  unlink(slot);
  push_front(slot);
}

uint32_t LruSlots::assign(uint64_t key) {
  assert(find(key) == kNone);
  if (free_ == kNone) erase(tail_);  // evicts the least recently used: its slot becomes free
  const uint32_t slot = free_;
  free_ = next_[slot];
  ++size_;
  keys_[slot] = key;
  size_t b = home_of(key);
  while (buckets_[b] != kNone) b = (b + 1) & mask_;
  buckets_[b] = slot;
  push_front(slot);
  return slot;
}

void LruSlots::erase(uint32_t slot) {
  // Backward-shift deletion: later entries of the probe run move into the
  // hole when it lies on their own probe path, so lookups never need
  // tombstones.
  size_t hole = bucket_of(slot);
  for (size_t b = (hole + 1) & mask_; buckets_[b] != kNone; b = (b + 1) & mask_) {
    const size_t home = home_of(keys_[buckets_[b]]);
    if (((hole - home) & mask_) < ((b - home) & mask_)) {
      buckets_[hole] = buckets_[b];
      hole = b;
    }
  }
  buckets_[hole] = kNone;
  unlink(slot);
  next_[slot] = free_;
  free_ = slot;
  --size_;
}

std::vector<uint32_t> LruSlots::slots_in_use() const {
  std::vector<uint32_t> out;
  out.reserve(size_);
  for (uint32_t s = head_; s != kNone; s = next_[s]) out.push_back(s);
  return out;
}

}  // namespace vblk::driver
