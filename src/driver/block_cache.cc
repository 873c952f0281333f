#include "driver/block_cache.h"

#include <algorithm>
#include <cassert>
#include <cstring>

namespace vblk::driver {

namespace {
constexpr uint64_t kMaxShards = 16;
// Invalidating more blocks than this walks each shard's entries once instead
// of looking every block up.
constexpr uint64_t kBulkInvalidate = 4096;
}  // namespace

BlockCache::BlockCache(uint64_t capacity_bytes, uint32_t block_size) : block_size_(block_size) {
  assert(block_size > 0);
  const uint64_t blocks = capacity_bytes / block_size;
  if (blocks == 0) return;
  const uint64_t nshards = std::min(kMaxShards, blocks);
  shard_capacity_ = std::min<uint64_t>(blocks / nshards, 1u << 29);  // LruSlots' limit: 2^33 blocks in all
  capacity_blocks_ = shard_capacity_ * nshards;
  shards_.reserve(nshards);
  for (uint64_t i = 0; i < nshards; ++i)
    shards_.push_back(std::make_unique<Shard>(static_cast<uint32_t>(shard_capacity_), block_size));
}

bool BlockCache::lookup(uint64_t block, std::span<uint8_t> out, uint64_t* generation) {
  assert(out.size() == block_size_);
  if (!enabled()) {
    *generation = 0;
    return false;
  }
  Shard& s = shard_for(block);
  MutexLock lock(s.mu);
  const uint32_t slot = s.slots.find(block);
  if (slot == LruSlots::kNone) {
    *generation = s.generation[slot_for(block)];
    misses_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  s.slots.touch(slot);
  std::memcpy(out.data(), slot_data(s, slot), block_size_);
  hits_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void BlockCache::store_locked(Shard& s, uint64_t block, std::span<const uint8_t> data) {
  uint32_t slot = s.slots.find(block);
  if (slot == LruSlots::kNone)
    slot = s.slots.assign(block);  // evicts the least recently used block when full
  else
    s.slots.touch(slot);
  std::memcpy(slot_data(s, slot), data.data(), block_size_);
}

void BlockCache::drop_locked(Shard& s, uint64_t block) {
  const uint32_t slot = s.slots.find(block);
  if (slot != LruSlots::kNone) s.slots.erase(slot);
}

void BlockCache::insert(uint64_t block, std::span<const uint8_t> data, uint64_t generation) {
  assert(data.size() == block_size_);
  if (!enabled()) return;
  Shard& s = shard_for(block);
  MutexLock lock(s.mu);
  if (s.generation[slot_for(block)] != generation) return;  // invalidated since the lookup
  store_locked(s, block, data);
}

void BlockCache::invalidate(uint64_t first, uint64_t count) {
  if (!enabled() || count == 0) return;
  if (count > kBulkInvalidate) {
    for (auto& sp : shards_) {
      Shard& s = *sp;
      MutexLock lock(s.mu);
      for (uint64_t& g : s.generation) ++g;
      for (uint32_t slot : s.slots.slots_in_use())
        if (s.slots.key(slot) - first < count) s.slots.erase(slot);
    }
    return;
  }
  for (uint64_t b = first; b - first < count; ++b) {
    Shard& s = shard_for(b);
    MutexLock lock(s.mu);
    ++s.generation[slot_for(b)];
    drop_locked(s, b);
  }
}

void BlockCache::replace(uint64_t block, std::span<const uint8_t> data) {
  assert(data.size() == block_size_);
  if (!enabled()) return;
  Shard& s = shard_for(block);
  MutexLock lock(s.mu);
  ++s.generation[slot_for(block)];
  store_locked(s, block, data);
}

uint64_t BlockCache::size_blocks() const {
  uint64_t n = 0;
  for (const auto& sp : shards_) {
    MutexLock lock(sp->mu);
    n += sp->slots.size();
  }
  return n;
}

}  // namespace vblk::driver
