// The driver's latency histogram: buckets and percentiles.
#include "driver/latency_histogram.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <vector>

namespace vblk {
namespace {

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

TEST(LatencyHistogram, BucketsCoverRangeContiguously) {
  using H = driver::LatencyHistogram;
  EXPECT_EQ(H::bucket_for(0), 0u);
  EXPECT_EQ(H::bucket_for(kMax), H::kBuckets - 1);
  EXPECT_EQ(H::bucket_upper(H::kBuckets - 1), kMax);
  for (size_t i = 0; i + 1 < H::kBuckets; ++i) {
    ASSERT_EQ(H::bucket_upper(i) + 1, H::bucket_lower(i + 1)) << i;
    ASSERT_EQ(H::bucket_for(H::bucket_lower(i)), i);
    ASSERT_EQ(H::bucket_for(H::bucket_upper(i)), i);
  }
}

TEST(LatencyHistogram, PercentilesWithinBucketError) {
  driver::LatencyHistogram h;
  EXPECT_EQ(h.percentile_ns(0.5), 0u);
  for (uint64_t v = 1; v <= 100'000; ++v) h.record(v * 1000);  // 1us .. 100ms
  EXPECT_EQ(h.count(), 100'000u);
  EXPECT_EQ(h.max_ns(), 100'000'000u);
  auto near = [](uint64_t got, double want) {
    return static_cast<double>(got) >= want && static_cast<double>(got) <= want * 1.125;
  };
  EXPECT_TRUE(near(h.percentile_ns(0.50), 50e6)) << h.percentile_ns(0.50);
  EXPECT_TRUE(near(h.percentile_ns(0.90), 90e6)) << h.percentile_ns(0.90);
  EXPECT_TRUE(near(h.percentile_ns(0.99), 99e6)) << h.percentile_ns(0.99);
  EXPECT_EQ(h.percentile_ns(1.0), 100'000'000u);
}

}  // namespace
}  // namespace vblk
