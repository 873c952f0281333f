// Design notes
// ============
//
// Request flow. read/write/trim first validate: offset + length must not
// overflow uint64 (InvalidArgument); a write or trim that starts at or beyond
// the end is OutOfRange (EFBIG); a request that crosses the end is cut short
// there; a read that starts at or beyond the end returns 0 bytes. The byte
// range is then walked as head / aligned body / tail:
//
//     offset                                                 offset + len
//       |  head  |          body (whole blocks)          |  tail  |
//   [...block h...][ block h+1 ] ... [ block t-1 ][...block t...]
//
//   - body: whole blocks, passed straight from / to the caller's buffer in
//     device calls of at most kMaxIoBytes (1 MiB) each, so that one call maps
//     to one bounded record in the store; longer requests take several calls.
//   - head / tail: a block only partly covered. A write does read-modify-write
//     (RMW) in a bounce block, allocated only when the request is unaligned:
//     read the whole block (through the cache), patch the bytes, write the
//     whole block back. Trim zero-fills its partial blocks the same way (and
//     skips the device write when those bytes already read as zero); its whole
//     blocks go to trim_blocks in chunks of the same bound.
//
// Locking. Every device mutation the driver makes (RMW, body write, trim;
// and write / trim / set_bad made through device(), coherent_device.h) holds
// the blocks of that device call in a BlockRangeLock (block_range_lock.h)
// from before its RMW read until after the cache has been updated. Two
// RMWs of one block are therefore serialized and never lose each other's
// bytes, and a whole-block write cannot slip between an RMW's read and its
// write (which would silently undo it). Calls conflict only when they share
// a block: writes side by side (a file written back as a run of adjacent
// requests) compress in parallel.
// Lock order: a thread holds at most one block range at a time; inside that,
// at most one cache shard mutex; the device's own locks are innermost. Reads
// take no range lock: the device returns whole blocks, and a read racing a
// write may return either version.
//
// Cache coherence. The cache holds whole blocks (see block_cache.h).
//   reader: lookup(b) misses and returns b's generation g; read the device;
//           insert(b, data, g), which is dropped if b's generation moved on.
//   writer: with b's range held: write the device; then invalidate(b) (bump
//           the generation, drop the entry), or for RMW replace(b, merged)
//           (bump, then store the block just written); unlock; return.
// A stale entry would need a reader whose device read began before the write
// completed but whose insert lands after it. If that reader's lookup came
// before the writer's bump, its insert sees a new generation and is dropped;
// if the lookup came after the bump, the device write had already completed,
// so the reader got the new data. An entry stored before the bump is removed
// by it. So once a write has returned, no read can serve or re-cache the old
// data, and while a block's range is held its cached copy (if any) is current,
// which is why RMW may read through the cache. Changes made to the device
// behind the driver's back (not through device()) are not seen by the cache.
//
// Retries. Each device write call (one RMW block, or one body chunk) gets up
// to opts.write_attempts attempts. Only IoError is retried; the same call is
// repeated (same blocks, same data) after retry_backoff_us, doubled after each
// failed attempt, with the range still held. Each retry is logged at warn
// with the original error and counted in stats.retries. When the attempts are
// used up the result is an IoError naming the offset, the block(s), the number
// of attempts and the last device error.
//
// Failures. A request stops at its first failing device call; the calls before
// it stay done (a failed long write may be partly applied, as on hardware). A
// read that touches a BAD block fails whole: no byte count is returned. Each
// failed request is logged at error once and counted once in stats.failures.
//
//   | path                     | range held   | cache after the device call | retried |
//   |--------------------------|--------------|-----------------------------|---------|
//   | read                     | none         | insert if generation same   | no      |
//   | write body               | the chunk's  | invalidate                  | IoError |
//   | write RMW                | the block's  | replace with merged block   | IoError |
//   | trim body                | the chunk's  | invalidate                  | no      |
//   | trim edge (zero-fill)    | the block's  | replace with merged block   | IoError |
//   | device() write           | the range's  | invalidate                  | no      |
//   | device() trim / set_bad  | each chunk's | invalidate                  | no      |
//   | modify_below             | the range's  | invalidate                  | no      |

#include "vblk/driver.h"

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cassert>
#include <chrono>
#include <cstring>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "driver/driver_impl.h"
#include "util/block_text.h"
#include "util/bytes.h"

namespace vblk {

using driver::BlockRangeLock;

Status Driver::Impl::read_whole(uint64_t first, uint64_t count, std::span<uint8_t> out) {
  assert(out.size() == count * bs);
  if (!cache.enabled()) return dev->read_blocks(first, count, out);
  std::vector<uint64_t> gens;
  uint64_t i = 0;
  while (i < count) {
    uint64_t gen = 0;
    if (cache.lookup(first + i, out.subspan(i * bs, bs), &gen)) {
      ++i;
      continue;
    }
    // A run of misses, read with one device call.
    const uint64_t run_first = i;
    gens.assign(1, gen);
    for (++i; i < count; ++i) {
      if (cache.lookup(first + i, out.subspan(i * bs, bs), &gen)) break;
      gens.push_back(gen);
    }
    const uint64_t run = gens.size();
    VBLK_RETURN_IF_ERROR(dev->read_blocks(first + run_first, run, out.subspan(run_first * bs, run * bs)));
    for (uint64_t k = 0; k < run; ++k) {
      cache.insert(first + run_first + k, out.subspan((run_first + k) * bs, bs), gens[k]);
    }
    if (i < count) ++i;  // the block that ended the run was a hit
  }
  return Status::ok();
}

Status Driver::Impl::write_with_retry(uint64_t first, std::span<const uint8_t> data, uint64_t pos,
                                      const char* op) {
  const uint64_t count = data.size() / bs;
  Status st;
  uint32_t attempt = 1;
  for (;; ++attempt) {
    st = dev->write_blocks(first, data);
    if (st.is_ok()) return st;
    if (!st.is_io_error() || attempt >= opts.write_attempts) break;
    retries.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("{} at offset {} ({}): attempt {} of {} failed, retrying: {}", op, pos, blocks_phrase(first, count),
                 attempt, opts.write_attempts, st.to_string());
    const uint32_t shift = std::min<uint32_t>(attempt - 1, 20);
    std::this_thread::sleep_for(std::chrono::microseconds(uint64_t{opts.retry_backoff_us} << shift));
  }
  assert(!st.is_ok());
  if (st.is_io_error()) {
    return Status::io_error(fmt::format("{} at offset {} ({}) failed after {} attempt{}: {}", op, pos,
                                        blocks_phrase(first, count), attempt, attempt == 1 ? "" : "s",
                                        st.message()));
  }
  return st.with_prefix(fmt::format("{} at offset {} ({})", op, pos, blocks_phrase(first, count)));
}

Status Driver::Impl::rmw(uint64_t pos, size_t len, const uint8_t* src, std::vector<uint8_t>& bounce,
                         const char* op) {
  const uint64_t block = pos / bs;
  const size_t in_block = pos % bs;
  assert(len > 0 && in_block + len <= bs && bounce.size() == bs);
  BlockRangeLock::Guard guard(locks, block, 1);
  Status st;
  uint64_t gen = 0;
  if (!cache.lookup(block, bounce, &gen)) {
    st = dev->read_blocks(block, 1, bounce);
    if (!st.is_ok()) {
      return st.with_prefix(fmt::format("{} at offset {} (block {}): read for read-modify-write", op, pos, block));
    }
  }
  if (src == nullptr) {
    if (all_zero(bounce.data() + in_block, len)) return Status::ok();  // already reads as zeros
    std::memset(bounce.data() + in_block, 0, len);
  } else {
    std::memcpy(bounce.data() + in_block, src, len);
  }
  st = write_with_retry(block, bounce, pos, op);
  if (st.is_ok()) {
    cache.replace(block, bounce);
  } else {
    cache.invalidate(block, 1);
  }
  return st;
}

Result<size_t> Driver::Impl::do_read(uint64_t offset, std::span<uint8_t> out) {
  if (out.size() > std::numeric_limits<uint64_t>::max() - offset) {
    return Status::invalid_argument(fmt::format("read at offset {} of {} bytes overflows", offset, out.size()));
  }
  const uint64_t size = size_bytes.load(std::memory_order_acquire);
  if (offset >= size || out.empty()) return size_t{0};
  const uint64_t len = std::min<uint64_t>(out.size(), size - offset);
  std::vector<uint8_t> bounce;
  VBLK_RETURN_IF_ERROR(for_each_piece(
      offset, len,
      [&](uint64_t block, uint64_t n, uint64_t pos, uint64_t done) {
        Status st = read_whole(block, n, out.subspan(done, n * bs));
        return st.is_ok() ? st : st.with_prefix(fmt::format("read at offset {} ({})", pos, blocks_phrase(block, n)));
      },
      [&](uint64_t block, size_t in_block, size_t piece, uint64_t pos, uint64_t done) {
        if (bounce.empty()) bounce.resize(bs);
        Status st = read_whole(block, 1, bounce);
        if (!st.is_ok()) return st.with_prefix(fmt::format("read at offset {} (block {})", pos, block));
        std::memcpy(out.data() + done, bounce.data() + in_block, piece);
        return Status::ok();
      }));
  return static_cast<size_t>(len);
}

Result<size_t> Driver::Impl::do_write(uint64_t offset, std::span<const uint8_t> data) {
  if (data.size() > std::numeric_limits<uint64_t>::max() - offset) {
    return Status::invalid_argument(fmt::format("write at offset {} of {} bytes overflows", offset, data.size()));
  }
  const uint64_t size = size_bytes.load(std::memory_order_acquire);
  if (offset >= size) {
    return Status::out_of_range(fmt::format("write at offset {} (block {}) starts at or beyond the end of the "
                                            "device ({} bytes, {} blocks)",
                                            offset, offset / bs, size, size / bs));
  }
  const uint64_t len = std::min<uint64_t>(data.size(), size - offset);
  std::vector<uint8_t> bounce;
  VBLK_RETURN_IF_ERROR(for_each_piece(
      offset, len,
      [&](uint64_t block, uint64_t n, uint64_t pos, uint64_t done) {
        BlockRangeLock::Guard guard(locks, block, n);
        Status st = write_with_retry(block, data.subspan(done, n * bs), pos, "write");
        cache.invalidate(block, n);
        return st;
      },
      [&](uint64_t, size_t, size_t piece, uint64_t pos, uint64_t done) {
        if (bounce.empty()) bounce.resize(bs);
        return rmw(pos, piece, data.data() + done, bounce, "write");
      }));
  return static_cast<size_t>(len);
}

Status Driver::Impl::do_trim(uint64_t offset, uint64_t length) {
  if (length > std::numeric_limits<uint64_t>::max() - offset) {
    return Status::invalid_argument(fmt::format("trim at offset {} of {} bytes overflows", offset, length));
  }
  if (length == 0) return Status::ok();
  const uint64_t size = size_bytes.load(std::memory_order_acquire);
  if (offset >= size) {
    return Status::out_of_range(fmt::format("trim at offset {} (block {}) starts at or beyond the end of the "
                                            "device ({} bytes, {} blocks)",
                                            offset, offset / bs, size, size / bs));
  }
  const uint64_t len = std::min(length, size - offset);
  std::vector<uint8_t> bounce;
  return for_each_piece(
      offset, len,
      [&](uint64_t block, uint64_t n, uint64_t pos, uint64_t) {
        BlockRangeLock::Guard guard(locks, block, n);
        Status st = dev->trim_blocks(block, n);
        cache.invalidate(block, n);
        return st.is_ok() ? st : st.with_prefix(fmt::format("trim at offset {} ({})", pos, blocks_phrase(block, n)));
      },
      [&](uint64_t, size_t, size_t piece, uint64_t pos, uint64_t) {
        if (bounce.empty()) bounce.resize(bs);
        return rmw(pos, piece, nullptr, bounce, "trim");
      });
}

Driver::Driver(std::unique_ptr<BlockDevice> device, DriverOptions opts) {
  assert(device != nullptr);
  assert(device->block_count() <= std::numeric_limits<uint64_t>::max() / device->block_size());
  impl_ = std::make_unique<Impl>(std::move(device), opts);
}

Driver::~Driver() = default;

uint64_t Driver::size_bytes() const { return impl_->size_bytes.load(std::memory_order_acquire); }
uint32_t Driver::block_size() const { return impl_->bs; }
BlockDevice& Driver::device() { return impl_->facade; }

Status Driver::resize(uint64_t new_blocks, const std::function<Status()>& change) {
  Impl& d = *impl_;
  if (new_blocks > std::numeric_limits<uint64_t>::max() / d.bs)
    return Status::invalid_argument(fmt::format("{} blocks of {} bytes overflow", new_blocks, d.bs));
  const uint64_t old_blocks = size_bytes() / d.bs;
  const uint64_t lo = std::min(old_blocks, new_blocks), hi = std::max(old_blocks, new_blocks);
  // No write, trim or read-modify-write between the two ends while the
  // device changes size. One that started before, and waits for these
  // blocks, then finds the device's new end (a shrink fails it); requests
  // past a larger end are taken once the driver has it. A refused change
  // disturbs nothing.
  BlockRangeLock::Guard guard(d.locks, lo, hi - lo);
  Status st = change();
  // Whatever change() did, the device says where its end is now.
  d.size_bytes.store(d.dev->block_count() * d.bs, std::memory_order_release);
  // What was cached between the ends is gone (dropped by a shrink) or
  // cannot be there (past the old end).
  d.cache.invalidate(lo, hi - lo);
  return st;
}

Status Driver::modify_below(uint64_t first, uint64_t count, const std::function<Status(BlockDevice&)>& fn) {
  BlockRangeLock::Guard guard(impl_->locks, first, count);
  Status st = fn(*impl_->dev);
  impl_->cache.invalidate(first, count);
  return st;
}

Result<size_t> Driver::read(uint64_t offset, std::span<uint8_t> out) {
  const auto start = std::chrono::steady_clock::now();
  spdlog::trace("read offset={} length={}", offset, out.size());
  impl_->reads.fetch_add(1, std::memory_order_relaxed);
  Result<size_t> r = impl_->do_read(offset, out);
  impl_->finish("read", offset, out.size(), r.status(), start);
  if (r.is_ok()) impl_->bytes_read.fetch_add(r.value(), std::memory_order_relaxed);
  return r;
}

Result<size_t> Driver::write(uint64_t offset, std::span<const uint8_t> data) {
  const auto start = std::chrono::steady_clock::now();
  spdlog::trace("write offset={} length={}", offset, data.size());
  impl_->writes.fetch_add(1, std::memory_order_relaxed);
  const uint32_t in_flight = impl_->writes_in_flight.fetch_add(1, std::memory_order_relaxed) + 1;
  uint32_t peak = impl_->writes_in_flight_peak.load(std::memory_order_relaxed);
  while (in_flight > peak && !impl_->writes_in_flight_peak.compare_exchange_weak(peak, in_flight)) {
  }
  Result<size_t> r = impl_->do_write(offset, data);
  impl_->writes_in_flight.fetch_sub(1, std::memory_order_relaxed);
  impl_->finish("write", offset, data.size(), r.status(), start);
  if (r.is_ok()) impl_->bytes_written.fetch_add(r.value(), std::memory_order_relaxed);
  return r;
}

Status Driver::trim(uint64_t offset, uint64_t length) {
  const auto start = std::chrono::steady_clock::now();
  spdlog::trace("trim offset={} length={}", offset, length);
  impl_->trims.fetch_add(1, std::memory_order_relaxed);
  Status st = impl_->do_trim(offset, length);
  impl_->finish("trim", offset, length, st, start);
  const uint64_t size = size_bytes();
  if (st.is_ok() && offset < size) {
    impl_->bytes_trimmed.fetch_add(std::min(length, size - offset), std::memory_order_relaxed);
  }
  return st;
}

Status Driver::flush() {
  const auto start = std::chrono::steady_clock::now();
  spdlog::trace("flush");
  impl_->flushes.fetch_add(1, std::memory_order_relaxed);
  Status st = impl_->dev->flush();
  if (!st.is_ok()) st = st.with_prefix("flush");
  impl_->finish("flush", 0, 0, st, start);
  return st;
}

}  // namespace vblk
