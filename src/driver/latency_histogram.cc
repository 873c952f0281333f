#include "driver/latency_histogram.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <cmath>

namespace vblk::driver {

size_t LatencyHistogram::bucket_for(uint64_t ns) {
  if (ns < 2 * kSub) return static_cast<size_t>(ns);
  const int exp = std::bit_width(ns) - 1;  // >= kSubBits + 1
  const uint64_t sub = (ns >> (exp - kSubBits)) & (kSub - 1);
  return static_cast<size_t>(2 * kSub + static_cast<uint64_t>(exp - (kSubBits + 1)) * kSub + sub);
}

uint64_t LatencyHistogram::bucket_lower(size_t bucket) {
  assert(bucket < kBuckets);
  if (bucket < 2 * kSub) return bucket;
  const uint64_t exp = (bucket - 2 * kSub) / kSub + (kSubBits + 1);
  const uint64_t sub = (bucket - 2 * kSub) % kSub;
  return (kSub + sub) << (exp - kSubBits);
}

uint64_t LatencyHistogram::bucket_upper(size_t bucket) {
  assert(bucket < kBuckets);
  if (bucket < 2 * kSub) return bucket;
  const uint64_t exp = (bucket - 2 * kSub) / kSub + (kSubBits + 1);
  return bucket_lower(bucket) + ((uint64_t{1} << (exp - kSubBits)) - 1);
}

void LatencyHistogram::record(uint64_t ns) {
  counts_[bucket_for(ns)].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  uint64_t seen = max_ns_.load(std::memory_order_relaxed);
  while (ns > seen && !max_ns_.compare_exchange_weak(seen, ns, std::memory_order_relaxed)) {
  }
}

uint64_t LatencyHistogram::percentile_ns(double p) const {
  assert(p > 0 && p <= 1);
  // Sum the buckets rather than trusting count_, so that a racing record()
  // cannot leave the rank beyond the last bucket.
  std::array<uint64_t, kBuckets> snap;
  uint64_t total = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    snap[i] = counts_[i].load(std::memory_order_relaxed);
    total += snap[i];
  }
  if (total == 0) return 0;
  const auto rank = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(p * static_cast<double>(total))));
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += snap[i];
    if (seen >= rank) return std::min(bucket_upper(i), std::max(max_ns(), bucket_lower(i)));
  }
  return max_ns();
}

}  // namespace vblk::driver
