// What a connection asks of its export: reads, writes, flush, trim, zero
// and block status, through the export's Driver. nbdkit itself refuses
// requests outside the export (EINVAL, or ENOSPC for writes) before they
// reach the plugin.
//
// Block status (extents) comes from block states: nbd/block_status.h.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "nbd/block_status.h"
#include "nbd/plugin.h"

namespace vblk::nbd {
namespace {

int refuse_if_read_only(void* h) {
  if (!static_cast<Handle*>(h)->read_only) return 0;
  nbdkit_error("%s is served read-only", static_cast<Handle*>(h)->exp->path.c_str());
  nbdkit_set_error(EROFS);
  return -1;
}

int flush_if_fua(void* h, uint32_t flags) { return flags & NBDKIT_FLAG_FUA ? report(driver_of(h).flush()) : 0; }

int vblk_pread(void* h, void* buf, uint32_t count, uint64_t offset, uint32_t) {
  return guarded("pread", [&] {
    auto* out = static_cast<uint8_t*>(buf);
    for (uint32_t done = 0; done < count;) {
      auto n = driver_of(h).read(offset + done, {out + done, count - done});
      if (!n) return report(n.status());
      if (*n == 0) return report(Status::out_of_range("read beyond the end of the image"));
      done += static_cast<uint32_t>(*n);
    }
    return 0;
  });
}

int vblk_pwrite(void* h, const void* buf, uint32_t count, uint64_t offset, uint32_t flags) {
  return guarded("pwrite", [&] {
    if (refuse_if_read_only(h) != 0) return -1;
    const auto* in = static_cast<const uint8_t*>(buf);
    for (uint32_t done = 0; done < count;) {
      auto n = driver_of(h).write(offset + done, {in + done, count - done});
      if (!n) return report(n.status());
      done += static_cast<uint32_t>(*n);
    }
    return flush_if_fua(h, flags);
  });
}

int vblk_flush(void* h, uint32_t) {
  return guarded("flush", [&] { return report(driver_of(h).flush()); });
}

int vblk_trim(void* h, uint32_t count, uint64_t offset, uint32_t flags) {
  return guarded("trim", [&] {
    if (refuse_if_read_only(h) != 0) return -1;
    if (report(driver_of(h).trim(offset, count)) != 0) return -1;
    return flush_if_fua(h, flags);
  });
}

// Both ways are fast (no data reaches the image), so fast zero is always
// honoured: with MAY_TRIM whole blocks become TRIMMED (edges zero-filled);
// without it zeros are written, which the store keeps as USED blocks
// without payload, so the range stays allocated as NBD asks.
int vblk_zero(void* h, uint32_t count, uint64_t offset, uint32_t flags) {
  return guarded("zero", [&] {
    if (refuse_if_read_only(h) != 0) return -1;
    if (flags & NBDKIT_FLAG_MAY_TRIM) {
      if (report(driver_of(h).trim(offset, count)) != 0) return -1;
      return flush_if_fua(h, flags);
    }
    static const std::vector<uint8_t> zeros(1u << 20);
    for (uint32_t done = 0; done < count;) {
      const uint32_t len = std::min<uint32_t>(count - done, static_cast<uint32_t>(zeros.size()));
      auto n = driver_of(h).write(offset + done, {zeros.data(), len});
      if (!n) return report(n.status());
      done += static_cast<uint32_t>(*n);
    }
    return flush_if_fua(h, flags);
  });
}

// Block status from block states (nbd/block_status.h). Answers for at
// least the first block; nbdkit merges and trims the runs.
int vblk_extents(void* h, uint32_t count, uint64_t offset, uint32_t flags, nbdkit_extents* extents) {
  return guarded("extents", [&] {
    inject::ImageStack& stack = *static_cast<Handle*>(h)->exp->stack;
    const uint64_t bs = stack.driver().block_size();
    const uint64_t first = offset / bs;
    const uint64_t last = (offset + count - 1) / bs;
    auto status =
        block_status(stack.driver(), stack.admin(), first, last - first + 1, (flags & NBDKIT_FLAG_REQ_ONE) != 0);
    if (!status) return report(status.status());
    for (const Extent& e : *status) {
      const uint32_t type = (e.hole ? NBDKIT_EXTENT_HOLE : 0) | (e.zero ? NBDKIT_EXTENT_ZERO : 0);
      if (nbdkit_add_extent(extents, e.first * bs, e.count * bs, type) == -1) return -1;
    }
    return 0;
  });
}

}  // namespace

void add_request_callbacks(nbdkit_plugin& p) {
  p.pread = vblk_pread;
  p.pwrite = vblk_pwrite;
  p.flush = vblk_flush;
  p.trim = vblk_trim;
  p.zero = vblk_zero;
  p.extents = vblk_extents;
}

}  // namespace vblk::nbd
