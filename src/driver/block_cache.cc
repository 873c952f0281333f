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
  shard_capacity_ = blocks / nshards;
  capacity_blocks_ = shard_capacity_ * nshards;
  shards_.reserve(nshards);
  for (uint64_t i = 0; i < nshards; ++i) shards_.push_back(std::make_unique<Shard>());
}

bool BlockCache::lookup(uint64_t block, std::span<uint8_t> out, uint64_t* generation) {
  assert(out.size() == block_size_);
  if (!enabled()) {
    *generation = 0;
    return false;
  }
  Shard& s = shard_for(block);
  std::lock_guard lock(s.mu);
  auto it = s.index.find(block);
  if (it == s.index.end()) {
    *generation = s.generation[slot_for(block)];
    misses_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  s.lru.splice(s.lru.begin(), s.lru, it->second);
  std::memcpy(out.data(), it->second->data.data(), block_size_);
  hits_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void BlockCache::store_locked(Shard& s, uint64_t block, std::span<const uint8_t> data) {
  auto it = s.index.find(block);
  if (it != s.index.end()) {
    s.lru.splice(s.lru.begin(), s.lru, it->second);
    std::memcpy(it->second->data.data(), data.data(), block_size_);
    return;
  }
  if (s.index.size() >= shard_capacity_) {
    // Reuse the evicted node's buffer.
    auto victim = std::prev(s.lru.end());
    s.index.erase(victim->block);
    victim->block = block;
    std::memcpy(victim->data.data(), data.data(), block_size_);
    s.lru.splice(s.lru.begin(), s.lru, victim);
  } else {
    s.lru.push_front(Node{block, std::vector<uint8_t>(data.begin(), data.end())});
  }
  s.index.emplace(block, s.lru.begin());
}

void BlockCache::drop_locked(Shard& s, uint64_t block) {
  auto it = s.index.find(block);
  if (it == s.index.end()) return;
  s.lru.erase(it->second);
  s.index.erase(it);
}

void BlockCache::insert(uint64_t block, std::span<const uint8_t> data, uint64_t generation) {
  assert(data.size() == block_size_);
  if (!enabled()) return;
  Shard& s = shard_for(block);
  std::lock_guard lock(s.mu);
  if (s.generation[slot_for(block)] != generation) return;  // invalidated since the lookup
  store_locked(s, block, data);
}

void BlockCache::invalidate(uint64_t first, uint64_t count) {
  if (!enabled() || count == 0) return;
  if (count > kBulkInvalidate) {
    for (auto& sp : shards_) {
      Shard& s = *sp;
      std::lock_guard lock(s.mu);
      for (uint64_t& g : s.generation) ++g;
      for (auto it = s.lru.begin(); it != s.lru.end();) {
        if (it->block - first < count) {
          s.index.erase(it->block);
          it = s.lru.erase(it);
        } else {
          ++it;
        }
      }
    }
    return;
  }
  for (uint64_t b = first; b - first < count; ++b) {
    Shard& s = shard_for(b);
    std::lock_guard lock(s.mu);
    ++s.generation[slot_for(b)];
    drop_locked(s, b);
  }
}

void BlockCache::replace(uint64_t block, std::span<const uint8_t> data) {
  assert(data.size() == block_size_);
  if (!enabled()) return;
  Shard& s = shard_for(block);
  std::lock_guard lock(s.mu);
  ++s.generation[slot_for(block)];
  store_locked(s, block, data);
}

uint64_t BlockCache::size_blocks() const {
  uint64_t n = 0;
  for (const auto& sp : shards_) {
    std::lock_guard lock(sp->mu);
    n += sp->index.size();
  }
  return n;
}

}  // namespace vblk::driver
