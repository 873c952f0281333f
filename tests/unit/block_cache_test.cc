// The driver's cache of decompressed blocks: eviction, invalidation, disabling.
#include "driver/block_cache.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace vblk {
namespace {

using Bytes = std::vector<uint8_t>;

TEST(BlockCache, EvictsLeastRecentlyUsed) {
  driver::BlockCache cache(2 * 512, 512);  // 2 shards x 1 block
  ASSERT_TRUE(cache.enabled());
  EXPECT_EQ(cache.capacity_blocks(), 2u);
  Bytes buf(512);
  uint64_t gen = 0;
  for (uint64_t b : {0, 2, 4}) {  // all in shard 0 (capacity 1)
    EXPECT_FALSE(cache.lookup(b, buf, &gen));
    cache.insert(b, Bytes(512, static_cast<uint8_t>(b)), gen);
  }
  EXPECT_LE(cache.size_blocks(), 2u);
  EXPECT_TRUE(cache.lookup(4, buf, &gen));
  EXPECT_EQ(buf, Bytes(512, 4));
  EXPECT_FALSE(cache.lookup(0, buf, &gen));
}

TEST(BlockCache, LruKeepsRecentlyUsedBlock) {
  driver::BlockCache cache(16 * 2 * 512, 512);  // 16 shards x 2 blocks
  Bytes buf(512);
  uint64_t gen = 0;
  for (uint64_t b : {0, 16}) {  // shard 0
    ASSERT_FALSE(cache.lookup(b, buf, &gen));
    cache.insert(b, Bytes(512, 1), gen);
  }
  ASSERT_TRUE(cache.lookup(0, buf, &gen));  // 0 becomes most recent
  ASSERT_FALSE(cache.lookup(32, buf, &gen));
  cache.insert(32, Bytes(512, 1), gen);  // evicts 16
  EXPECT_TRUE(cache.lookup(0, buf, &gen));
  EXPECT_FALSE(cache.lookup(16, buf, &gen));
  EXPECT_TRUE(cache.lookup(32, buf, &gen));
}

TEST(BlockCache, InsertAfterInvalidateIsDropped) {
  driver::BlockCache cache(64 * 512, 512);
  Bytes buf(512);
  uint64_t gen = 0;
  ASSERT_FALSE(cache.lookup(5, buf, &gen));
  cache.invalidate(5, 1);  // a writer finished between the reader's lookup and insert
  cache.insert(5, Bytes(512, 9), gen);
  EXPECT_FALSE(cache.lookup(5, buf, &gen));
  cache.insert(5, Bytes(512, 9), gen);  // a fresh lookup's generation works
  EXPECT_TRUE(cache.lookup(5, buf, &gen));
  cache.invalidate(0, 100'000);  // bulk path
  EXPECT_FALSE(cache.lookup(5, buf, &gen));
  EXPECT_EQ(cache.size_blocks(), 0u);
}

TEST(BlockCache, ZeroCapacityDisables) {
  driver::BlockCache cache(511, 512);
  EXPECT_FALSE(cache.enabled());
  Bytes buf(512);
  uint64_t gen = 0;
  cache.insert(1, buf, 0);
  EXPECT_FALSE(cache.lookup(1, buf, &gen));
}

}  // namespace
}  // namespace vblk
