#pragma once
// AdminInterface: what the control plane (fault injection, vblk-inject
// offline and live, the servers' block status) may do to a device stack
// besides reading and writing it: BAD marks, the stored bytes of a block,
// the power, and the runtime fault rules.
//
// Each layer that has a part in it implements it and forwards the rest to
// the layer below, as DeviceWrapper forwards I/O:
//   ImageDevice     answers from its ImageStore; it has no rules
//   FaultDevice     keeps the rules; forwards the rest to the device below
//   GuardedAdmin    (driver/guarded_admin.h) above a Driver, live: every
//                   change to stored state holds the driver's range lock
//                   and drops what it cached of the blocks changed
// A caller talks to the top of the stack only: offline (nothing above the
// FaultDevice) the FaultDevice itself, live the GuardedAdmin.
//
// A layer that cannot do an operation (a FaultDevice over an in-memory
// device has no stored records to damage) fails it with NotSupported.
// Thread safety: implementations are safe to call concurrently with each
// other and with I/O on the stack.

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "vblk/fault_rule.h"
#include "vblk/image_store.h"
#include "vblk/status.h"

namespace vblk {

class AdminInterface {
 public:
  AdminInterface() = default;
  AdminInterface(const AdminInterface&) = delete;
  AdminInterface& operator=(const AdminInterface&) = delete;
  virtual ~AdminInterface() = default;

  // The blocks of the device (as BlockDevice::block_count).
  virtual uint64_t block_count() const = 0;

  // ---- BAD marks: persistent where the device is (in the image) ----
  // Marks [first, first+count) BAD (bad=true) or clears the marks (the
  // blocks then read zeros, state TRIMMED). As BlockDevice::set_bad.
  virtual Status set_bad(uint64_t first, uint64_t count, bool bad) = 0;
  // The BAD ranges as (first, count), ascending.
  virtual std::vector<std::pair<uint64_t, uint64_t>> bad_ranges() = 0;

  // ---- the stored bytes of a block ----
  // Where `block`'s data lives (ImageStore::locate).
  virtual Result<BlockLocation> locate(uint64_t block) = 0;
  // Whether `block` is USED and stored without payload (ImageStore::stored_zero).
  virtual Result<bool> stored_zero(uint64_t block) = 0;
  // Damages the stored bytes of `block`, and of no other block: a block
  // stored in a record with others is first rewritten alone. Reads of it
  // then fail the checksum (Corruption). Returns the file offset of the
  // record now damaged. InvalidArgument when nothing is stored for it (a
  // block that holds only zeros); errors of the rewrite say which step.
  // REQUIRES: the caller has checked that the block is USED with data.
  virtual Result<uint64_t> corrupt_block(uint64_t block) = 0;

  // ---- power ----
  // Cuts the power (ImageStore::power_cut): every write not yet flushed is
  // dropped, and every request then fails with PoweredOff; with
  // `then_power_on` the device comes back at once with the flushed state
  // (ImageStore::power_on), as one step: no request reaches the device
  // between the cut and the power-on.
  virtual Result<PowerCutReport> power_cut(bool then_power_on) = 0;

  // ---- runtime fault rules (the FaultDevice's; not persistent here) ----
  // The rules in the order they were added (FaultDevice::list).
  virtual std::vector<FaultRule> fault_rules() = 0;
  // Adds `rule` as FaultDevice::add_flaky, add_latency or add_remap would,
  // by its kind (fault_rule.h makes them). NotSupported without a fault layer.
  virtual Status add_fault_rule(const FaultRule& rule) = 0;
  // Takes [first, first+count) out of the rules of kind `only` (every kind
  // when none), as FaultDevice::cut. Returns the number removed or cut.
  // Never calls the driver above (a resize calls it inside Driver::resize).
  virtual size_t cut_fault_rules(uint64_t first, uint64_t count, std::optional<FaultKind> only) = 0;
  // Removes every rule.
  virtual void clear_fault_rules() = 0;
};

}  // namespace vblk
