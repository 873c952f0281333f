#pragma once
// BlockCache: a bounded LRU cache of whole device blocks, keyed by block
// number, for the driver's read path.
//
// The cache is split into shards (block % shard count), each a fixed set of
// block buffers in LRU order (LruSlots) under its own mutex. Capacity is capacity_bytes /
// block_size blocks, shared evenly between the shards; capacity 0 (or less
// than one block) disables the cache: lookups miss and inserts are dropped.
//
// Coherence with writers (see the notes in driver.cc): every block has a
// generation number (kept in a fixed table per shard; blocks that share a
// slot share the number, which only costs spurious refusals). lookup() on a
// miss returns the current generation; invalidate() drops the block and
// bumps its generation; insert() stores data only if the generation is still
// the one returned by the lookup. A reader that fetched a block from the
// device before a writer invalidated it can therefore never put its stale
// copy back.
// Thread safety: every method is safe to call concurrently. Lock order: a
// caller may hold a driver block range while calling in; the cache takes at
// most one shard mutex at a time and calls nothing while holding it.

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "driver/lru_slots.h"
#include "util/mutex.h"

namespace vblk::driver {

class BlockCache {
 public:
  BlockCache(uint64_t capacity_bytes, uint32_t block_size);
  BlockCache(const BlockCache&) = delete;
  BlockCache& operator=(const BlockCache&) = delete;

  bool enabled() const { return !shards_.empty(); }
  uint64_t capacity_blocks() const { return capacity_blocks_; }

  // On a hit copies the block into out (REQUIRES out.size() == block_size)
  // and returns true. On a miss returns false and sets *generation to the
  // token insert() needs.
  bool lookup(uint64_t block, std::span<uint8_t> out, uint64_t* generation);
  // Stores a block read from the device, unless it was invalidated since the
  // lookup() that returned `generation`. Evicts the least recently used block
  // of the shard when full.
  void insert(uint64_t block, std::span<const uint8_t> data, uint64_t generation);
  // Drops [first, first+count) and bumps their generations.
  void invalidate(uint64_t first, uint64_t count);
  // invalidate(block, 1) and then stores `data` as the block's new content.
  // REQUIRES: the caller has just written `data` to the device and holds the
  // block's range lock, so no newer write can be racing.
  void replace(uint64_t block, std::span<const uint8_t> data);

  uint64_t hits() const { return hits_.load(std::memory_order_relaxed); }
  uint64_t misses() const { return misses_.load(std::memory_order_relaxed); }
  uint64_t size_blocks() const;

 private:
  static constexpr size_t kGenerationSlots = 256;

  struct Shard {
    // The shard's buffers are allocated at once, not zeroed: pages not yet
    // written cost no memory (with the kernel's default overcommit a cache
    // larger than RAM and swap fails here, at mount).
    explicit Shard(uint32_t capacity, uint32_t block_size)
        : slots(capacity), data(new uint8_t[size_t{capacity} * block_size]) {}
    Mutex mu;
    LruSlots slots GUARDED_BY(mu);  // which block each slot holds
    // Slot i's block at i x block_size. The bytes are guarded by mu (read
    // and written through slot_data, which requires it); the pointer is
    // constant. (PT_GUARDED_BY does not take a unique_ptr of an array.)
    const std::unique_ptr<uint8_t[]> data;
    std::array<uint64_t, kGenerationSlots> generation GUARDED_BY(mu){};
  };

  Shard& shard_for(uint64_t block) { return *shards_[block % shards_.size()]; }
  size_t slot_for(uint64_t block) const { return (block / shards_.size()) % kGenerationSlots; }
  void store_locked(Shard& s, uint64_t block, std::span<const uint8_t> data) REQUIRES(s.mu);
  void drop_locked(Shard& s, uint64_t block) REQUIRES(s.mu);
  uint8_t* slot_data(Shard& s, uint32_t slot) const REQUIRES(s.mu) { return s.data.get() + size_t{slot} * block_size_; }

  const uint32_t block_size_;
  uint64_t capacity_blocks_ = 0;
  uint64_t shard_capacity_ = 0;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::atomic<uint64_t> hits_{0};
  std::atomic<uint64_t> misses_{0};
};

}  // namespace vblk::driver
