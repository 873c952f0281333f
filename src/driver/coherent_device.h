#pragma once
// CoherentDevice: what Driver::device() hands out to the control plane
// (fault injection, scrub). It forwards every call to the device below the
// driver, but its mutations (write_blocks, trim_blocks, set_bad) hold their
// blocks in the driver's BlockRangeLock and drop them from its BlockCache
// afterwards, so they stay coherent with the driver's own requests (see the
// design notes in driver.cc). Trims and set_bad of long ranges are split
// into calls of at most chunk_blocks, so that no call holds a long range
// for long; a failing chunk stops the call, the chunks before it stay done.
// Thread safety: as the device below; the lock and cache are shared with
// the driver.
#include <cstdint>
#include <memory>

#include "driver/block_cache.h"
#include "driver/block_range_lock.h"
#include "vblk/block_device.h"

namespace vblk::driver {

class CoherentDevice final : public DeviceWrapper {
 public:
  // REQUIRES: locks and cache outlive this device; chunk_blocks >= 1.
  CoherentDevice(std::unique_ptr<BlockDevice> target, BlockRangeLock& locks, BlockCache& cache, uint64_t chunk_blocks)
      : DeviceWrapper(std::move(target)), locks_(locks), cache_(cache), chunk_blocks_(chunk_blocks) {}

  Status write_blocks(uint64_t first, std::span<const uint8_t> data) override;
  Status trim_blocks(uint64_t first, uint64_t count) override;
  Status set_bad(uint64_t first, uint64_t count, bool bad) override;

 private:
  template <typename Fn>
  Status chunked(uint64_t first, uint64_t count, const Fn& fn);

  BlockRangeLock& locks_;
  BlockCache& cache_;
  const uint64_t chunk_blocks_;
};

}  // namespace vblk::driver
