#include "vblk/fault_device.h"

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <thread>
#include <utility>

#include "util/block_text.h"
#include "util/mutex.h"

namespace vblk {

namespace {

// Whether [a, a+n) and [b, b+m) share a block, without computing a+n or b+m.
bool overlaps(uint64_t a, uint64_t n, uint64_t b, uint64_t m) {
  if (n == 0 || m == 0) return false;
  return a <= b ? b - a < n : a - b < m;
}

}  // namespace

struct FaultDevice::Rules {
  // Takes [first, first+count) out of the rules of `only` kind (all kinds
  // when null). Returns the number removed or cut.
  size_t cut(uint64_t first, uint64_t count, const FaultKind* only) REQUIRES(mu);

  // Never held while calling the target or sleeping.
  mutable Mutex mu;
  std::vector<FaultRule> list GUARDED_BY(mu);  // in the order they were added
};

// The device below answers for the stored state when it can (an
// ImageDevice); asking it once, here, keeps the admin calls plain calls.
FaultDevice::FaultDevice(std::unique_ptr<BlockDevice> target)
    : DeviceWrapper(std::move(target)),
      below_(dynamic_cast<AdminInterface*>(&this->target())),
      rules_(std::make_unique<Rules>()) {}

FaultDevice::~FaultDevice() = default;

Status FaultDevice::add_flaky(uint64_t block, uint64_t fail_writes) {
  VBLK_RETURN_IF_ERROR(check_block_range(*this, block, 1).with_prefix("flaky rule"));
  MutexLock lock(rules_->mu);
  std::erase_if(rules_->list, [block](const FaultRule& r) {
    return r.kind == FaultKind::kFlakyWrite && r.first == block && r.count == 1;
  });
  if (fail_writes > 0) {
    rules_->list.push_back({FaultKind::kFlakyWrite, block, 1, fail_writes, std::chrono::microseconds{0}});
  }
  return Status::ok();
}

Status FaultDevice::add_latency(std::chrono::microseconds latency, uint64_t first, uint64_t count) {
  if (latency.count() < 0) {
    return Status::invalid_argument(fmt::format("negative latency {}us", latency.count()));
  }
  if (count == 0) {
    if (first >= block_count()) {
      return Status::out_of_range(
          fmt::format("latency rule: block {} is beyond the device's {} blocks", first, block_count()));
    }
    count = block_count() - first;
  }
  VBLK_RETURN_IF_ERROR(check_block_range(*this, first, count).with_prefix("latency rule"));
  MutexLock lock(rules_->mu);
  rules_->list.push_back({FaultKind::kLatency, first, count, 0, latency});
  return Status::ok();
}

Status FaultDevice::add_remap(uint64_t first, uint64_t count) {
  if (count == 0) return Status::out_of_range(fmt::format("remap rule: empty range at block {}", first));
  VBLK_RETURN_IF_ERROR(check_block_range(*this, first, count).with_prefix("remap rule"));
  MutexLock lock(rules_->mu);
  // Covered already when the existing remap rules leave no gap in the range.
  std::vector<std::pair<uint64_t, uint64_t>> have;
  for (const FaultRule& r : rules_->list) {
    if (r.kind == FaultKind::kRemapBad) have.emplace_back(r.first, r.count);
  }
  std::sort(have.begin(), have.end());
  uint64_t next = first;  // first block not yet known to be covered
  const uint64_t end = first + count;
  for (auto [f, n] : have) {
    if (f > next) break;
    next = std::max(next, f + n);
    if (next >= end) return Status::ok();
  }
  rules_->list.push_back({FaultKind::kRemapBad, first, count, 0, std::chrono::microseconds{0}});
  return Status::ok();
}

size_t FaultDevice::Rules::cut(uint64_t first, uint64_t count, const FaultKind* only) {
  if (count == 0) return 0;
  size_t changed = 0;
  std::vector<FaultRule> kept;
  for (const FaultRule& r : list) {
    if ((only != nullptr && r.kind != *only) || !overlaps(r.first, r.count, first, count)) {
      kept.push_back(r);
      continue;
    }
    ++changed;
    if (r.first < first) {  // the part before the range
      FaultRule head = r;
      head.count = first - r.first;
      kept.push_back(head);
    }
    const uint64_t last = first + (count - 1);  // inclusive ends: no overflow at the device's end
    const uint64_t r_last = r.first + (r.count - 1);
    if (last < r_last) {  // the part after the range
      FaultRule tail = r;
      tail.first = last + 1;
      tail.count = r_last - last;
      kept.push_back(tail);
    }
  }
  list = std::move(kept);
  return changed;
}

void FaultDevice::remove_remap(uint64_t first, uint64_t count) {
  const FaultKind remap = FaultKind::kRemapBad;
  MutexLock lock(rules_->mu);
  rules_->cut(first, count, &remap);
}

size_t FaultDevice::cut(uint64_t first, uint64_t count) {
  MutexLock lock(rules_->mu);
  return rules_->cut(first, count, nullptr);
}

size_t FaultDevice::clear(uint64_t first, uint64_t count) {
  if (count == 0) count = first < block_count() ? block_count() - first : 0;
  MutexLock lock(rules_->mu);
  return std::erase_if(rules_->list, [&](const FaultRule& r) { return overlaps(r.first, r.count, first, count); });
}

void FaultDevice::clear_all() {
  MutexLock lock(rules_->mu);
  rules_->list.clear();
}

std::vector<FaultRule> FaultDevice::list() const {
  MutexLock lock(rules_->mu);
  return rules_->list;
}

Status FaultDevice::not_below(const char* what) const {
  return Status::not_supported(fmt::format("{}: the device below the fault layer keeps no image", what));
}

std::vector<std::pair<uint64_t, uint64_t>> FaultDevice::bad_ranges() {
  if (below_ != nullptr) return below_->bad_ranges();
  // A whole-device query of a device in use does not fail; if it did, the
  // runs found before are what there is to show.
  std::vector<std::pair<uint64_t, uint64_t>> bad;
  (void)DeviceWrapper::state_runs(0, block_count(), [&](uint64_t first, uint64_t count, BlockState st) {
    if (st == BlockState::kBad) bad.emplace_back(first, count);
  });
  return bad;
}

Result<BlockLocation> FaultDevice::locate(uint64_t block) {
  return below_ != nullptr ? below_->locate(block) : not_below("locate");
}

Result<bool> FaultDevice::stored_zero(uint64_t block) {
  return below_ != nullptr ? below_->stored_zero(block) : not_below("stored_zero");
}

Result<uint64_t> FaultDevice::corrupt_block(uint64_t block) {
  return below_ != nullptr ? below_->corrupt_block(block) : not_below("corrupt");
}

Result<PowerCutReport> FaultDevice::power_cut(bool then_power_on) {
  return below_ != nullptr ? below_->power_cut(then_power_on) : not_below("power cut");
}

Status FaultDevice::add_fault_rule(const FaultRule& rule) {
  switch (rule.kind) {
    case FaultKind::kFlakyWrite:
      return add_flaky(rule.first, rule.remaining);
    case FaultKind::kLatency:
      return add_latency(rule.latency, rule.first, rule.count);
    case FaultKind::kRemapBad:
      return add_remap(rule.first, rule.count);
  }
  return Status::invalid_argument(fmt::format("unknown fault rule kind {}", static_cast<int>(rule.kind)));
}

size_t FaultDevice::cut_fault_rules(uint64_t first, uint64_t count, std::optional<FaultKind> only) {
  MutexLock lock(rules_->mu);
  return rules_->cut(first, count, only ? &*only : nullptr);
}

void FaultDevice::apply_latency(uint64_t first, uint64_t count) {
  std::chrono::microseconds total{0};
  {
    MutexLock lock(rules_->mu);
    for (const FaultRule& r : rules_->list) {
      if (r.kind != FaultKind::kLatency || !overlaps(r.first, r.count, first, count)) continue;
      spdlog::warn("injecting {}us latency into block {}", r.latency.count(), std::max(first, r.first));
      total += r.latency;
    }
  }
  if (total.count() > 0) std::this_thread::sleep_for(total);
}

Status FaultDevice::read_blocks(uint64_t first, uint64_t count, std::span<uint8_t> out) {
  apply_latency(first, count);
  return DeviceWrapper::read_blocks(first, count, out);
}

Status FaultDevice::remap_for_write(uint64_t first, uint64_t count) {
  std::vector<std::pair<uint64_t, uint64_t>> remap;
  {
    MutexLock lock(rules_->mu);
    for (const FaultRule& r : rules_->list) {
      if (r.kind == FaultKind::kRemapBad && overlaps(r.first, r.count, first, count)) remap.emplace_back(r.first, r.count);
    }
  }
  if (remap.empty()) return Status::ok();  // the common case: no state query
  auto covered = [&](uint64_t b) {
    return std::any_of(remap.begin(), remap.end(), [b](auto r) { return b >= r.first && b - r.first < r.second; });
  };
  std::vector<std::pair<uint64_t, uint64_t>> bad;  // BAD runs in the write
  VBLK_RETURN_IF_ERROR(DeviceWrapper::state_runs(first, count, [&](uint64_t f, uint64_t n, BlockState st) {
    if (st == BlockState::kBad) bad.emplace_back(f, n);
  }));
  for (auto [f, n] : bad) {
    for (uint64_t b = f; b < f + n; ++b) {
      if (!covered(b)) return Status::ok();  // the target refuses the whole write
    }
  }
  for (auto [f, n] : bad) {
    spdlog::warn("injecting remap into {} (a write clears the BAD mark)",
                 blocks_phrase(f, n));
    VBLK_RETURN_IF_ERROR(DeviceWrapper::set_bad(f, n, false));
  }
  return Status::ok();
}

Status FaultDevice::write_blocks(uint64_t first, std::span<const uint8_t> data) {
  const uint32_t bs = block_size();
  if (data.size() % bs != 0 || !check_block_range(*this, first, data.size() / bs).is_ok()) {
    return DeviceWrapper::write_blocks(first, data);  // the target reports the malformed request
  }
  const uint64_t count = data.size() / bs;
  apply_latency(first, count);
  bool fired = false;
  uint64_t lowest = 0;
  {
    MutexLock lock(rules_->mu);
    for (FaultRule& r : rules_->list) {
      if (r.kind != FaultKind::kFlakyWrite || r.remaining == 0 || !overlaps(r.first, r.count, first, count)) {
        continue;
      }
      const uint64_t block = std::max(first, r.first);
      spdlog::warn("injecting write failure into block {} ({} left)", block, r.remaining - 1);
      --r.remaining;
      lowest = fired ? std::min(lowest, block) : block;
      fired = true;
    }
    std::erase_if(rules_->list,
                  [](const FaultRule& r) { return r.kind == FaultKind::kFlakyWrite && r.remaining == 0; });
  }
  if (fired) return Status::io_error(fmt::format("injected write failure on block {}", lowest));
  VBLK_RETURN_IF_ERROR(remap_for_write(first, count));
  return DeviceWrapper::write_blocks(first, data);
}

Status FaultDevice::trim_blocks(uint64_t first, uint64_t count) {
  apply_latency(first, count);
  return DeviceWrapper::trim_blocks(first, count);
}

}  // namespace vblk
