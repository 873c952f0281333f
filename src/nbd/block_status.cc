#include "nbd/block_status.h"

namespace vblk::nbd {

Result<std::vector<Extent>> block_status(Driver& driver, AdminInterface& admin, uint64_t first, uint64_t count,
                                         bool first_only) {
  struct Run {
    uint64_t first, count;
    BlockState state;
  };
  std::vector<Run> runs;
  VBLK_RETURN_IF_ERROR(driver.state_runs(first, count, [&](uint64_t f, uint64_t n, BlockState st) {
    runs.push_back(Run{f, n, st});
  }));
  std::vector<Extent> out;
  for (const Run& r : runs) {
    if (r.state == BlockState::kFree || r.state == BlockState::kTrimmed) {
      out.push_back({r.first, r.count, true, true});
    } else if (r.state == BlockState::kBad) {
      out.push_back({r.first, r.count, false, false});
    } else {
      // USED: split into stored-zero and data blocks.
      for (uint64_t b = r.first; b < r.first + r.count; ++b) {
        auto zero = admin.stored_zero(b);
        if (!zero) return zero.status();
        out.push_back({b, 1, false, *zero});
      }
    }
    if (first_only) break;
  }
  return out;
}

}  // namespace vblk::nbd
