#pragma once
// Driver::Impl: the driver's state, shared by the files that implement it:
// driver.cc (the request paths, with the design notes: RMW, locking, cache
// coherence, retries), driver_stats.cc (statistics) and driver_seek.cc
// (block states and SEEK_DATA/SEEK_HOLE).
// Thread safety: as Driver; the members say what guards them.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <span>
#include <vector>

#include "driver/block_cache.h"
#include "driver/block_range_lock.h"
#include "driver/coherent_device.h"
#include "driver/latency_histogram.h"
#include "vblk/driver.h"

namespace vblk {

namespace driver {
// Upper bound on the bytes of one device read/write/trim call.
inline constexpr uint64_t kMaxIoBytes = uint64_t{1} << 20;
}  // namespace driver

struct Driver::Impl {
  Impl(std::unique_ptr<BlockDevice> device, DriverOptions o)
      : opts(o),
        bs(device->block_size()),
        size_bytes(device->block_count() * bs),
        max_io_blocks(std::max<uint64_t>(1, driver::kMaxIoBytes / bs)),
        cache(o.cache_bytes, bs),
        facade(std::move(device), locks, cache, max_io_blocks),
        dev(&facade.target()) {
    if (opts.write_attempts == 0) opts.write_attempts = 1;
  }

  // Walks the bytes [offset, offset + len) as the device sees them: runs of
  // whole blocks (at most max_io_blocks each) go to whole(block, n, pos,
  // done), a partial block at either end to partial(block, in_block,
  // piece, pos, done), where pos is the run's byte offset and done the
  // bytes before it. Stops at the first failure.
  template <class Whole, class Partial>
  Status for_each_piece(uint64_t offset, uint64_t len, Whole&& whole, Partial&& partial) {
    uint64_t done = 0;
    while (done < len) {
      const uint64_t pos = offset + done;
      const uint64_t block = pos / bs;
      const size_t in_block = pos % bs;
      const uint64_t left = len - done;
      if (in_block == 0 && left >= bs) {
        const uint64_t n = std::min(left / bs, max_io_blocks);
        VBLK_RETURN_IF_ERROR(whole(block, n, pos, done));
        done += n * bs;
      } else {
        const size_t piece = std::min<uint64_t>(bs - in_block, left);
        VBLK_RETURN_IF_ERROR(partial(block, in_block, piece, pos, done));
        done += piece;
      }
    }
    return Status::ok();
  }
  Result<size_t> do_read(uint64_t offset, std::span<uint8_t> out);
  Result<size_t> do_write(uint64_t offset, std::span<const uint8_t> data);
  Status do_trim(uint64_t offset, uint64_t length);

  // Reads `count` whole blocks into out, through the cache.
  Status read_whole(uint64_t first, uint64_t count, std::span<uint8_t> out);
  // Writes [pos, pos+len) inside one block by read-modify-write; src == nullptr
  // zero-fills. REQUIRES: the range lies in one block; bounce is block-sized.
  Status rmw(uint64_t pos, size_t len, const uint8_t* src, std::vector<uint8_t>& bounce, const char* op);
  // One device write call with the retry policy. pos is the byte offset of
  // data[0], for messages. REQUIRES: the blocks' range is held.
  Status write_with_retry(uint64_t first, std::span<const uint8_t> data, uint64_t pos, const char* op);

  // Accounts for a request that has ended: its latency and, if st failed,
  // a failure, logged at error once (driver_stats.cc).
  void finish(const char* op, uint64_t offset, uint64_t length, const Status& st,
              std::chrono::steady_clock::time_point start);

  DriverOptions opts;
  const uint32_t bs;
  // The device's size; changes only by Driver::resize(). Each request
  // reads it once.
  std::atomic<uint64_t> size_bytes;
  const uint64_t max_io_blocks;

  // Declared before facade, which refers to them.
  driver::BlockRangeLock locks;
  driver::BlockCache cache;
  driver::CoherentDevice facade;  // owns the device
  BlockDevice* const dev;         // the device itself, behind the facade

  driver::LatencyHistogram latency;
  std::atomic<uint64_t> reads{0}, writes{0}, trims{0}, flushes{0};
  std::atomic<uint64_t> failures{0}, retries{0};
  std::atomic<uint64_t> bytes_read{0}, bytes_written{0}, bytes_trimmed{0};
  // Writes being served now, and the most there ever were at once: shows
  // whether the kernel hands the daemon writes in parallel.
  std::atomic<uint32_t> writes_in_flight{0}, writes_in_flight_peak{0};
};

}  // namespace vblk
