// The control plane's view of the driver's device. See coherent_device.h.
#include "driver/coherent_device.h"

#include <algorithm>

namespace vblk::driver {

template <typename Fn>
Status CoherentDevice::chunked(uint64_t first, uint64_t count, const Fn& fn) {
  // A malformed range goes through whole, for the device to report.
  if (!check_block_range(*this, first, count).is_ok()) return fn(first, count);
  uint64_t done = 0;
  do {
    const uint64_t n = std::min(count - done, chunk_blocks_);
    BlockRangeLock::Guard guard(locks_, first + done, n);
    Status st = fn(first + done, n);
    cache_.invalidate(first + done, n);
    VBLK_RETURN_IF_ERROR(st);
    done += n;
  } while (done < count);
  return Status::ok();
}

Status CoherentDevice::write_blocks(uint64_t first, std::span<const uint8_t> data) {
  const uint64_t count = (data.size() + block_size() - 1) / block_size();
  BlockRangeLock::Guard guard(locks_, first, count);
  Status st = DeviceWrapper::write_blocks(first, data);
  cache_.invalidate(first, count);
  return st;
}

Status CoherentDevice::trim_blocks(uint64_t first, uint64_t count) {
  return chunked(first, count, [&](uint64_t f, uint64_t n) { return DeviceWrapper::trim_blocks(f, n); });
}

Status CoherentDevice::set_bad(uint64_t first, uint64_t count, bool bad) {
  return chunked(first, count, [&](uint64_t f, uint64_t n) { return DeviceWrapper::set_bad(f, n, bad); });
}

}  // namespace vblk::driver
