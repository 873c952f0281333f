#include "inject/injector.h"

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <vector>

namespace vblk::inject {
namespace {

// The stack a command acts on, and its name for messages.
struct Target {
  AdminInterface& stack;
  const std::string& name;
};

std::string blocks(BlockRange r) { return fmt::format("{} {}", r.count == 1 ? "block" : "blocks", to_text(r)); }

std::string blocks_of(BlockRange r, const std::string& name) { return blocks(r) + " of " + name; }

Status check_range(const Target& t, BlockRange r) {
  const uint64_t n = t.stack.block_count();
  if (r.count == 0 || r.first >= n || r.count > n - r.first) {
    return Status::out_of_range(fmt::format("{} {}: beyond the end of the device ({} blocks, 0-{})",
                                            r.count == 1 ? "block" : "blocks", to_text(r), n, n == 0 ? 0 : n - 1));
  }
  return Status::ok();
}

// The outcome of `c` over `blocks`, logged. The action's own facts are
// filled in by the caller.
Outcome injected(std::string what, bool rules_changed, const Command& c, BlockRange blocks) {
  spdlog::warn("{}", what);
  Outcome o;
  o.message = std::move(what);
  o.rules_changed = rules_changed;
  o.command = c;
  o.blocks = blocks;
  return o;
}

// The BAD ranges of the stack that overlap r, cut to r.
std::vector<BlockRange> bad_within(Target& t, BlockRange r) {
  std::vector<BlockRange> out;
  for (auto [first, count] : t.stack.bad_ranges()) {
    const uint64_t lo = std::max(first, r.first);
    const uint64_t hi = std::min(first + (count - 1), r.last());
    if (lo <= hi) out.push_back({lo, hi - lo + 1});
  }
  return out;
}

Result<Outcome> bad(Target& t, const Command& c) {
  const BlockRange r = *c.range;
  const bool remap = c.on_write == WritePolicy::kRemap;
  // The policy first, so that no write slips in between under the old one.
  if (remap) {
    VBLK_RETURN_IF_ERROR(t.stack.add_fault_rule(remap_rule(r.first, r.count)));
  } else {
    t.stack.cut_fault_rules(r.first, r.count, FaultKind::kRemapBad);
  }
  VBLK_RETURN_IF_ERROR(t.stack.set_bad(r.first, r.count, true).with_prefix(blocks(r)));
  return injected(fmt::format("injecting BAD into {} (reads fail; writes {})", blocks_of(r, t.name),
                              remap ? "clear the mark and succeed (remap)" : "fail"),
                  true, c, r);
}

Result<Outcome> corrupt(Target& t, const Command& c) {
  const uint64_t block = c.range->first;
  const std::string where = blocks({block, 1});
  auto loc = t.stack.locate(block);
  if (!loc) return loc.status().with_prefix(where);
  if (loc->state == BlockState::kBad) {
    return Status::invalid_argument(where + ": the block is BAD; there is nothing to corrupt");
  }
  if (loc->state != BlockState::kUsed || loc->zero || loc->record_offset == 0) {
    return Status::invalid_argument(
        fmt::format("{}: nothing is stored for it ({}{}): write data to it first", where, to_string(loc->state),
                    loc->zero ? ", all zeros" : ""));
  }
  auto record_offset = t.stack.corrupt_block(block);
  if (!record_offset) return record_offset.status().with_prefix(where);
  Outcome o = injected(fmt::format("injecting corruption into {} (record at offset {}; reads now fail the checksum)",
                                   blocks_of({block, 1}, t.name), *record_offset),
                       false, c, {block, 1});
  o.record_offset = *record_offset;
  return o;
}

Result<Outcome> latency(Target& t, const Command& c) {
  const BlockRange r = c.range.value_or(BlockRange{0, t.stack.block_count()});
  VBLK_RETURN_IF_ERROR(t.stack.add_fault_rule(latency_rule(c.latency, r.first, r.count)));
  return injected(fmt::format("injecting {} latency into {}", duration_text(c.latency),
                              c.range ? blocks_of(r, t.name) : "every block of " + t.name),
                  true, c, r);
}

Result<Outcome> clear(Target& t, const Command& c) {
  std::vector<BlockRange> bad;
  size_t rules = 0;
  if (c.range) {
    bad = bad_within(t, *c.range);
    rules = t.stack.cut_fault_rules(c.range->first, c.range->count, std::nullopt);
  } else {
    for (auto [first, count] : t.stack.bad_ranges()) bad.push_back({first, count});
    rules = t.stack.fault_rules().size();
    t.stack.clear_fault_rules();
  }
  uint64_t bad_blocks = 0;
  for (BlockRange b : bad) {
    VBLK_RETURN_IF_ERROR(t.stack.set_bad(b.first, b.count, false).with_prefix(blocks(b)));
    bad_blocks += b.count;
  }
  std::string msg = fmt::format("cleared {}: {} BAD block{}{}, {} rule{}",
                                c.range ? blocks_of(*c.range, t.name) : "every fault of " + t.name, bad_blocks,
                                bad_blocks == 1 ? "" : "s", bad_blocks ? " (now TRIMMED: they read zeros)" : "", rules,
                                rules == 1 ? "" : "s");
  Outcome o = injected(std::move(msg), rules > 0, c, c.range.value_or(BlockRange{0, t.stack.block_count()}));
  o.bad_blocks_cleared = bad_blocks;
  o.rules_removed = rules;
  return o;
}

// Cuts the power of the whole device (and turns it back on with `continue`).
Result<Outcome> powercut(Target& t, const Command& c) {
  const bool power_on = c.power_on;
  auto cut = t.stack.power_cut(power_on);
  if (!cut) return cut.status().with_prefix("powercut");
  const PowerCutReport& report = *cut;
  std::string what =
      report.already_off
          ? fmt::format("{} was powered off already", t.name)
          : fmt::format("injecting a power cut into {}: {} write{} not yet flushed dropped ({} block{})", t.name,
                        report.dropped_writes, report.dropped_writes == 1 ? "" : "s", report.dropped_blocks,
                        report.dropped_blocks == 1 ? "" : "s");
  what += power_on ? "; powered on again with the flushed state"
                   : "; every request now fails with EIO until the image is unmounted and mounted again "
                     "(or `powercut continue`)";
  Outcome o = injected(std::move(what), false, c, {0, t.stack.block_count()});
  o.power_cut = report;
  o.powered_off = !power_on;
  return o;
}

}  // namespace

Result<Outcome> execute(AdminInterface& stack, const std::string& name, const Command& c) {
  Target t{stack, name};
  if (c.range) VBLK_RETURN_IF_ERROR(check_range(t, *c.range));
  switch (c.action) {
    case Action::kBad:
      return bad(t, c);
    case Action::kRemap:
      VBLK_RETURN_IF_ERROR(stack.add_fault_rule(remap_rule(c.range->first, c.range->count)));
      return injected(fmt::format("injecting remap-on-write into {} (a write to a BAD block there clears the mark)",
                                  blocks_of(*c.range, name)),
                      true, c, *c.range);
    case Action::kFlaky:
      VBLK_RETURN_IF_ERROR(stack.add_fault_rule(flaky_rule(c.range->first, c.fail_writes)));
      return injected(fmt::format("injecting {} write failure{} into {}", c.fail_writes, c.fail_writes == 1 ? "" : "s",
                                  blocks_of(*c.range, name)),
                      true, c, *c.range);
    case Action::kCorrupt:
      return corrupt(t, c);
    case Action::kLatency:
      return latency(t, c);
    case Action::kClear:
      return clear(t, c);
    case Action::kPowercut:
      return powercut(t, c);
    case Action::kList: break;
  }
  return Status::invalid_argument("list is answered by reading the faults, not executed");
}

Json outcome_json(const Outcome& o) {
  const Command& c = o.command;
  Json j;
  j["action"] = std::string(action_name(c.action));
  j["command"] = to_text(c);
  if (c.action != Action::kPowercut) j["blocks"] = {{"first", o.blocks.first}, {"count", o.blocks.count}};
  switch (c.action) {
    case Action::kBad:
      j["on_write"] = c.on_write == WritePolicy::kRemap ? "remap" : "fail";
      j["state_after"] = std::string(to_string(BlockState::kBad));
      break;
    case Action::kFlaky:
      j["fail_writes"] = c.fail_writes;
      break;
    case Action::kCorrupt:
      j["record_offset"] = o.record_offset;
      break;
    case Action::kLatency:
      j["latency_us"] = static_cast<uint64_t>(c.latency.count());
      break;
    case Action::kClear:
      j["bad_blocks_cleared"] = o.bad_blocks_cleared;
      j["state_after"] = std::string(to_string(BlockState::kTrimmed));
      j["rules_removed"] = o.rules_removed;
      break;
    case Action::kPowercut:
      j["already_powered_off"] = o.power_cut.already_off;
      j["dropped_writes"] = o.power_cut.dropped_writes;
      j["dropped_blocks"] = o.power_cut.dropped_blocks;
      j["powered_off"] = o.powered_off;
      break;
    case Action::kRemap:
    case Action::kList:
      break;
  }
  j["message"] = o.message;
  return j;
}

}  // namespace vblk::inject
