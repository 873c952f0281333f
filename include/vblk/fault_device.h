#pragma once
// FaultDevice: deterministic simulated hardware faults in front of another
// device.
//
// A DeviceWrapper that consults a list of runtime (not persistent) rules
// before forwarding a request:
//   - flaky write: the next K write attempts that touch the block fail with
//     IoError "injected write failure on block N" and change nothing; every
//     firing uses up one of the K. A write touching several flaky blocks fires
//     (and uses up) each of their rules once and names the lowest block.
//   - latency: every read, write and trim touching the range is delayed; when
//     several rules match, their delays add up. flush, stats and state
//     queries are never delayed.
//   - remap: the write policy for BAD blocks in the range, as a drive that
//     remaps a sector on write (dm-dust's "quiet mode off" vs. remap). A
//     write whose BAD blocks all lie in remap ranges first clears their
//     marks (target().set_bad(false): the store makes that persistent), then
//     goes ahead; a write touching any BAD block outside such a range fails
//     whole with BadBlock, as without the rule. Reads of BAD blocks still
//     fail. The rule stays after it fires (it is a policy, not a count).
// Every firing is logged at warn as "injecting <fault> into block N".
// BAD blocks are persistent and therefore not rules here: mark them with
// set_bad(), which this wrapper forwards unchanged.
// Its AdminInterface (vblk/admin_interface.h) holds the rules here and
// forwards everything else to the device below when that has one (an
// ImageDevice); below a device without one (a MemDevice) only set_bad and
// bad_ranges (from the states) work, the rest is NotSupported.
// Thread safety: every method is safe to call concurrently; the rule list is
// guarded by one mutex, which is never held while calling the target or
// sleeping.

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vblk/admin_interface.h"
#include "vblk/block_device.h"
#include "vblk/fault_rule.h"

namespace vblk {

class FaultDevice final : public DeviceWrapper, public AdminInterface {
 public:
  explicit FaultDevice(std::unique_ptr<BlockDevice> target);
  ~FaultDevice() override;

  // Makes the next `fail_writes` write attempts touching `block` fail. Replaces
  // an existing flaky rule for that block; 0 removes it.
  // OutOfRange if block is beyond the device.
  Status add_flaky(uint64_t block, uint64_t fail_writes);
  // Delays every request touching [first, first+count) by `latency`.
  // count 0 means "to the end of the device" (the whole device when first is
  // 0). OutOfRange if the range is beyond the device, InvalidArgument if
  // latency is negative.
  Status add_latency(std::chrono::microseconds latency, uint64_t first = 0, uint64_t count = 0);
  // Makes writes to BAD blocks in [first, first+count) clear the mark and
  // succeed (see "remap" above). A range already covered by remap rules adds
  // nothing. OutOfRange if the range is beyond the device or empty.
  Status add_remap(uint64_t first, uint64_t count);
  // Takes [first, first+count) out of the remap rules (a rule reaching past
  // either end keeps the part outside). Other rules stay.
  void remove_remap(uint64_t first, uint64_t count);
  // Takes [first, first+count) out of every rule: rules inside it go, rules
  // reaching past either end keep the parts outside (a flaky rule is one
  // block, so it goes). Returns the number of rules removed or cut.
  size_t cut(uint64_t first, uint64_t count);
  // Removes every rule overlapping [first, first+count) (count 0: to the end).
  // Returns the number of rules removed.
  size_t clear(uint64_t first, uint64_t count);
  void clear_all();
  // The rules in the order they were added; spent flaky rules are gone.
  std::vector<FaultRule> list() const;

  Status read_blocks(uint64_t first, uint64_t count, std::span<uint8_t> out) override;
  Status write_blocks(uint64_t first, std::span<const uint8_t> data) override;
  Status trim_blocks(uint64_t first, uint64_t count) override;

  // Both BlockDevice's and AdminInterface's: forwarded to the device below.
  uint64_t block_count() const override { return DeviceWrapper::block_count(); }
  Status set_bad(uint64_t first, uint64_t count, bool bad) override {
    return DeviceWrapper::set_bad(first, count, bad);
  }

  // AdminInterface: the rules here, the rest from the device below.
  std::vector<std::pair<uint64_t, uint64_t>> bad_ranges() override;
  Result<BlockLocation> locate(uint64_t block) override;
  Result<bool> stored_zero(uint64_t block) override;
  Result<uint64_t> corrupt_block(uint64_t block) override;
  Result<PowerCutReport> power_cut(bool then_power_on) override;
  std::vector<FaultRule> fault_rules() override { return list(); }
  Status add_fault_rule(const FaultRule& rule) override;
  size_t cut_fault_rules(uint64_t first, uint64_t count, std::optional<FaultKind> only) override;
  void clear_fault_rules() override { clear_all(); }

 private:
  // NotSupported: the device below has no admin interface for `what`.
  Status not_below(const char* what) const;
  // Sleeps for the sum of the latency rules matching the range (logging each).
  void apply_latency(uint64_t first, uint64_t count);
  // Clears the BAD marks a write to [first, first+count) may remap: only when
  // every BAD block in the range is covered by a remap rule.
  Status remap_for_write(uint64_t first, uint64_t count);

  // The rule list under its mutex (fault_device.cc, where the
  // thread-safety annotations say what it guards).
  struct Rules;

  AdminInterface* const below_;  // the target's admin interface; null when it has none
  const std::unique_ptr<Rules> rules_;
};

}  // namespace vblk
