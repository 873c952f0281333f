#pragma once
// GuardedAdmin: the admin interface (vblk/admin_interface.h) of a device
// stack served through a Driver, for the live control plane. The driver
// caches blocks and serializes its writes of a block range; a change made
// below it behind its back could be undone by a write in flight, or hidden
// by a cached copy. So every operation that changes stored state runs with
// the blocks it touches held in the driver's range lock, and drops them
// from its cache:
//   set_bad         through Driver::device(), which does so a chunk of
//                   blocks at a time (as writes through it)
//   corrupt_block   inside Driver::modify_below of the block
//   power_cut       inside Driver::modify_below of the whole device
// Queries and the fault rules (which change no stored data) go straight to
// the device below.
// Thread safety: as the Driver and the device below; callers serialize the
// changes among themselves (two power cuts at once are not meaningful).

#include "vblk/admin_interface.h"
#include "vblk/driver.h"

namespace vblk {

class GuardedAdmin final : public AdminInterface {
 public:
  // `below`: the admin interface of the device the driver was built on.
  // Both must outlive this.
  GuardedAdmin(Driver& driver, AdminInterface& below) : driver_(driver), below_(below) {}

  uint64_t block_count() const override { return below_.block_count(); }
  Status set_bad(uint64_t first, uint64_t count, bool bad) override;
  std::vector<std::pair<uint64_t, uint64_t>> bad_ranges() override { return below_.bad_ranges(); }
  Result<BlockLocation> locate(uint64_t block) override { return below_.locate(block); }
  Result<bool> stored_zero(uint64_t block) override { return below_.stored_zero(block); }
  Result<uint64_t> corrupt_block(uint64_t block) override;
  Result<PowerCutReport> power_cut(bool then_power_on) override;
  std::vector<FaultRule> fault_rules() override { return below_.fault_rules(); }
  Status add_fault_rule(const FaultRule& rule) override { return below_.add_fault_rule(rule); }
  size_t cut_fault_rules(uint64_t first, uint64_t count, std::optional<FaultKind> only) override {
    return below_.cut_fault_rules(first, count, only);
  }
  void clear_fault_rules() override { below_.clear_fault_rules(); }

 private:
  Driver& driver_;
  AdminInterface& below_;
};

}  // namespace vblk
