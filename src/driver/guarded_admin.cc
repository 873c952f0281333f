#include "driver/guarded_admin.h"

#include <optional>
#include <utility>

namespace vblk {
namespace {

// fn() inside driver.modify_below(first, count), its value carried out.
template <class T, class Fn>
Result<T> modify_below(Driver& driver, uint64_t first, uint64_t count, Fn&& fn) {
  std::optional<T> value;
  Status st = driver.modify_below(first, count, [&](BlockDevice&) -> Status {
    Result<T> r = fn();
    if (!r) return r.status();
    value = std::move(*r);
    return Status::ok();
  });
  if (!st) return st;
  return std::move(*value);
}

}  // namespace

Status GuardedAdmin::set_bad(uint64_t first, uint64_t count, bool bad) {
  return driver_.device().set_bad(first, count, bad);
}

Result<uint64_t> GuardedAdmin::corrupt_block(uint64_t block) {
  return modify_below<uint64_t>(driver_, block, 1, [&] { return below_.corrupt_block(block); });
}

// Every block is held, so the driver drops its whole cache: no read may
// then return data the cut dropped.
Result<PowerCutReport> GuardedAdmin::power_cut(bool then_power_on) {
  return modify_below<PowerCutReport>(driver_, 0, driver_.block_count(),
                                      [&] { return below_.power_cut(then_power_on); });
}

}  // namespace vblk
