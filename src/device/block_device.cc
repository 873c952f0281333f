#include "vblk/block_device.h"

#include <spdlog/fmt/fmt.h>

namespace vblk {

Status check_block_range(const BlockDevice& dev, uint64_t first, uint64_t count) {
  const uint64_t blocks = dev.block_count();
  // Written as two comparisons so that first + count cannot overflow.
  if (first > blocks || count > blocks - first) {
    return Status::out_of_range(fmt::format("block range [{}, +{}) is beyond the device's {} blocks",
                                            first, count, blocks));
  }
  return Status::ok();
}

}  // namespace vblk
