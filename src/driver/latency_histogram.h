#pragma once
// LatencyHistogram: fixed-size, log-spaced histogram of operation latencies.
//
// Values (nanoseconds) below 16 get a bucket each; above, every power of two
// is split into 8 equal sub-buckets, so a reported percentile (the upper
// bound of its bucket, clamped to the largest value seen) is at most 12.5%
// above the true value. 496 buckets cover the whole uint64_t range, so
// memory never grows with the number of operations.
// Thread safety: record() and the queries are lock-free and may run
// concurrently; a query racing record() sees some consistent-enough
// snapshot (each counter is read once).

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace vblk::driver {

class LatencyHistogram {
 public:
  static constexpr int kSubBits = 3;
  static constexpr uint64_t kSub = uint64_t{1} << kSubBits;  // sub-buckets per power of two
  static constexpr size_t kBuckets = 2 * kSub + (64 - (kSubBits + 1)) * kSub;

  void record(uint64_t ns);

  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  uint64_t max_ns() const { return max_ns_.load(std::memory_order_relaxed); }
  // The value at or below which a fraction p (0 < p <= 1) of the recorded
  // values lie, in nanoseconds; 0 when nothing was recorded.
  uint64_t percentile_ns(double p) const;

  static size_t bucket_for(uint64_t ns);
  static uint64_t bucket_lower(size_t bucket);
  static uint64_t bucket_upper(size_t bucket);  // inclusive

 private:
  std::array<std::atomic<uint64_t>, kBuckets> counts_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> max_ns_{0};
};

}  // namespace vblk::driver
