#pragma once
// Driver: byte requests -> block operations on a BlockDevice.
//
// Validates requests (bounds, overflow), translates offsets to blocks, does
// partial-block read-modify-write (head, aligned body, tail; RMW of one block
// is serialized by a lock on block ranges), retries failed
// writes (transient IoError only; BadBlock, Corruption, OutOfRange and
// NoSpace are never retried), logs through spdlog (every operation at trace,
// retries at warn, failures at error), keeps stats and a bounded cache of
// decompressed blocks.
//
// Errors carry the byte offset and block number. A read that touches a BAD
// block fails whole (no partial data is returned).
// Thread safety: every method is safe to call concurrently.

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>

#include "vblk/block_device.h"
#include "vblk/status.h"

namespace vblk {

struct DriverOptions {
  uint32_t write_attempts = 3;        // total attempts per block write, >= 1
  uint32_t retry_backoff_us = 100;    // doubled after each failed attempt
  uint64_t cache_bytes = 64ull << 20; // decompressed-block read cache; 0 disables
};

struct DriverStats {
  uint64_t reads = 0, writes = 0, trims = 0, flushes = 0;
  uint64_t failures = 0, retries = 0;
  uint64_t bytes_read = 0, bytes_written = 0, bytes_trimmed = 0;
  uint64_t cache_hits = 0, cache_misses = 0;
  // The most writes served at the same time since the start.
  uint32_t writes_in_flight_peak = 0;
  // Latency percentiles over all operations, microseconds.
  double latency_p50_us = 0, latency_p90_us = 0, latency_p99_us = 0, latency_max_us = 0;
  DeviceStats device;
  // logical bytes of USED non-zero data / stored bytes; 0 when nothing stored
  double compression_ratio = 0;
};

class Driver {
 public:
  Driver(std::unique_ptr<BlockDevice> device, DriverOptions opts);
  ~Driver();
  Driver(const Driver&) = delete;
  Driver& operator=(const Driver&) = delete;

  uint64_t size_bytes() const;
  uint32_t block_size() const;

  // Reads [offset, offset+out.size()). A read that starts at or beyond the end
  // returns 0 bytes; one that crosses the end is cut short. Returns bytes read.
  Result<size_t> read(uint64_t offset, std::span<uint8_t> out);
  // Writes data at offset. Starting at or beyond the end: OutOfRange (EFBIG).
  // Crossing the end: cut short at the end. Returns bytes written.
  Result<size_t> write(uint64_t offset, std::span<const uint8_t> data);
  // Discards [offset, offset+length): whole blocks become TRIMMED, partial
  // blocks at the edges are zero-filled. Reads of the range then give zeros.
  Status trim(uint64_t offset, uint64_t length);
  Status flush();

  DriverStats stats();
  // Requests served so far (reads, writes, trims and flushes); cheap enough
  // for background work to poll to find whether the disk is in use.
  uint64_t requests() const;
  // The block-level queries a front end needs, through the driver (the
  // front ends do not reach the device below it).
  uint64_t block_count() const;
  DeviceStats device_stats();
  Status state_runs(uint64_t first, uint64_t count, const StateRunFn& fn);
  // What lseek(SEEK_DATA / SEEK_HOLE) answers at byte `offset` (REQUIRES
  // offset < size_bytes()): the first byte at or after it in a block that
  // holds data (USED or BAD) or, for a hole, that reads zeros without data
  // (FREE or TRIMMED; the end of the device is a hole). nullopt: no data at
  // or after offset.
  Result<std::optional<uint64_t>> seek(uint64_t offset, bool want_data);
  // The device below, for the control plane (fault injection, scrub).
  BlockDevice& device();
  // Changes the size to new_blocks blocks: `change` resizes the device below
  // (the image) while no write, trim or read-modify-write between the old
  // and the new end is under way; then the driver takes the device's
  // block_count() (the new one if change succeeded) and drops the cached
  // blocks between the ends. Returns change's status.
  // REQUIRES: change does not call back into this driver.
  Status resize(uint64_t new_blocks, const std::function<Status()>& change);
  // Runs fn on the device below the driver with the blocks of
  // [first, first+count) held, then drops those blocks from the cache, so a
  // change the driver cannot see (fault injection rewriting stored bytes)
  // is what the next read returns. Returns fn's status.
  // REQUIRES: fn does not call back into this driver.
  Status modify_below(uint64_t first, uint64_t count, const std::function<Status(BlockDevice&)>& fn);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vblk
