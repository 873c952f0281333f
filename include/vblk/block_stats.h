#pragma once
// The block-state figures every layer reports, from the store up to the
// driver: the counts by state (DeviceStats) and the runs of blocks sharing
// a state (StateRunFn). Kept apart from BlockDevice so that the store,
// which is below the device layer, need not include it.
// Thread safety: plain values.

#include <cstdint>
#include <functional>

#include "vblk/block_state.h"

namespace vblk {

struct DeviceStats {
  uint64_t free_blocks = 0;
  uint64_t used_blocks = 0;     // includes all-zero blocks stored without payload
  uint64_t zero_blocks = 0;     // USED blocks that hold only zeros
  uint64_t trimmed_blocks = 0;
  uint64_t bad_blocks = 0;
  uint64_t stored_bytes = 0;    // bytes of live data payload in the image (compressed)
  uint64_t host_file_bytes = 0; // bytes the image occupies on the host (allocated)
  uint64_t host_file_size = 0;  // apparent size of the image file
  uint64_t reuse_pool_bytes = 0; // of host_file_bytes: freed segments kept for reuse, punched when idle
};

// Called with maximal runs of blocks sharing one state, in ascending order.
using StateRunFn = std::function<void(uint64_t first, uint64_t count, BlockState state)>;

}  // namespace vblk
