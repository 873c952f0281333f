// Where the data is, for the front ends (FUSE lseek, NBD block status):
// block states and SEEK_DATA / SEEK_HOLE, through the driver's facade so
// that the front ends never reach the device below it.
#include <algorithm>

#include "driver/driver_impl.h"

namespace vblk {

uint64_t Driver::block_count() const { return impl_->facade.block_count(); }

Status Driver::state_runs(uint64_t first, uint64_t count, const StateRunFn& fn) {
  return impl_->facade.state_runs(first, count, fn);
}

Result<std::optional<uint64_t>> Driver::seek(uint64_t offset, bool want_data) {
  BlockDevice& dev = impl_->facade;
  const uint64_t bs = dev.block_size();
  // Scan in windows so that a nearby answer does not walk the whole device.
  constexpr uint64_t kWindow = 1u << 16;
  for (uint64_t b = offset / bs; b < dev.block_count(); b += kWindow) {
    const uint64_t n = std::min(kWindow, dev.block_count() - b);
    std::optional<uint64_t> found;
    VBLK_RETURN_IF_ERROR(dev.state_runs(b, n, [&](uint64_t first, uint64_t, BlockState st) {
      const bool data = st == BlockState::kUsed || st == BlockState::kBad;
      if (!found && data == want_data) found = first;
    }));
    if (found) return std::optional<uint64_t>(std::max<uint64_t>(*found * bs, offset));
  }
  if (want_data) return std::optional<uint64_t>();
  return std::optional<uint64_t>(size_bytes());  // the implicit hole at the end
}

}  // namespace vblk
