#pragma once
// Block status for NBD (the extents callback of nbdkit-vblk-plugin(1)),
// from block states, apart from nbdkit so that the mapping reads as one
// table:
//
//   | state            | reads  | extent flags |
//   |------------------|--------|--------------|
//   | FREE, TRIMMED    | zeros  | HOLE | ZERO  |
//   | USED, stored zero| zeros  | ZERO         |
//   | USED, data       | data   | 0            |
//   | BAD              | EIO    | 0            |
//
// Thread safety: as the Driver and the admin interface it reads.

#include <cstdint>
#include <vector>

#include "vblk/admin_interface.h"
#include "vblk/driver.h"
#include "vblk/status.h"

namespace vblk::nbd {

struct Extent {
  uint64_t first = 0;  // blocks
  uint64_t count = 0;
  bool hole = false;
  bool zero = false;
  bool operator==(const Extent&) const = default;
};

// The extents of blocks [first, first+count) in order, adjacent ones of the
// same flags not merged (nbdkit merges them). `first_only`: stop after the
// first run of one state (NBD_CMD_FLAG_REQ_ONE). Errors are the driver's
// or the admin interface's.
Result<std::vector<Extent>> block_status(Driver& driver, AdminInterface& admin, uint64_t first, uint64_t count,
                                         bool first_only);

}  // namespace vblk::nbd
