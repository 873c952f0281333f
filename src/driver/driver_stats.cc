// The driver's statistics: what each request adds to them, and the
// snapshot Driver::stats() gives. Counters are relaxed atomics: a snapshot
// taken while requests run may mix counts from a little before and after.
#include <spdlog/spdlog.h>

#include "driver/driver_impl.h"

namespace vblk {

namespace {

uint64_t elapsed_ns(std::chrono::steady_clock::time_point start) {
  auto d = std::chrono::steady_clock::now() - start;
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count());
}

}  // namespace

void Driver::Impl::finish(const char* op, uint64_t offset, uint64_t length, const Status& st,
                          std::chrono::steady_clock::time_point start) {
  latency.record(elapsed_ns(start));
  if (!st.is_ok()) {
    failures.fetch_add(1, std::memory_order_relaxed);
    spdlog::error("{} offset={} length={} failed: {}", op, offset, length, st.to_string());
  }
}

uint64_t Driver::requests() const {
  const Impl& d = *impl_;
  return d.reads.load(std::memory_order_relaxed) + d.writes.load(std::memory_order_relaxed) +
         d.trims.load(std::memory_order_relaxed) + d.flushes.load(std::memory_order_relaxed);
}

DeviceStats Driver::device_stats() { return impl_->facade.stats(); }

DriverStats Driver::stats() {
  DriverStats s;
  Impl& d = *impl_;
  s.reads = d.reads.load(std::memory_order_relaxed);
  s.writes = d.writes.load(std::memory_order_relaxed);
  s.trims = d.trims.load(std::memory_order_relaxed);
  s.flushes = d.flushes.load(std::memory_order_relaxed);
  s.failures = d.failures.load(std::memory_order_relaxed);
  s.retries = d.retries.load(std::memory_order_relaxed);
  s.bytes_read = d.bytes_read.load(std::memory_order_relaxed);
  s.bytes_written = d.bytes_written.load(std::memory_order_relaxed);
  s.bytes_trimmed = d.bytes_trimmed.load(std::memory_order_relaxed);
  s.writes_in_flight_peak = d.writes_in_flight_peak.load(std::memory_order_relaxed);
  s.cache_hits = d.cache.hits();
  s.cache_misses = d.cache.misses();
  auto us = [](uint64_t ns) { return static_cast<double>(ns) / 1000.0; };
  s.latency_p50_us = us(d.latency.percentile_ns(0.50));
  s.latency_p90_us = us(d.latency.percentile_ns(0.90));
  s.latency_p99_us = us(d.latency.percentile_ns(0.99));
  s.latency_max_us = us(d.latency.max_ns());
  s.device = d.dev->stats();
  if (s.device.stored_bytes > 0) {
    const uint64_t data_blocks = s.device.used_blocks - std::min(s.device.zero_blocks, s.device.used_blocks);
    s.compression_ratio = static_cast<double>(data_blocks) * d.bs / static_cast<double>(s.device.stored_bytes);
  }
  return s;
}

}  // namespace vblk
