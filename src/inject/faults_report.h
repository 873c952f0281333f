#pragma once
// FaultsReport: the faults in force on an image, its BAD ranges and fault
// rules, as `vblk-inject TARGET list --json`, user.vblk.faults and the
// "faults" of user.vblk.stats give them (vblk-inject(1), JSON OUTPUT).
// One list of members (util/json_fields.h) writes the document and reads
// it back: faults_json (inject/injector.h) is its writer, the tools that
// show a server's faults its readers.
// Thread safety: plain values.

#include <array>
#include <chrono>
#include <cstdint>
#include <vector>

#include "inject/command.h"
#include "inject/injector.h"
#include "util/json_fields.h"
#include "vblk/fault_device.h"

namespace vblk::inject {

inline constexpr std::array kFaultKinds{FaultKind::kFlakyWrite, FaultKind::kLatency, FaultKind::kRemapBad};

struct FaultsReport {
  uint64_t bad_blocks = 0;             // BAD blocks in all
  uint64_t bad_range_count = 0;        // BAD ranges in all, listed or not
  std::vector<BlockRange> bad_ranges;  // the first ranges, ascending
  std::vector<FaultRule> rules;
};

// The faults of `stack`, listing at most max_ranges BAD ranges.
FaultsReport faults_report(AdminInterface& stack, size_t max_ranges = SIZE_MAX);

// The members of one rule: "kind", "first", "count", "remaining" (flaky),
// "latency_us" (latency) and "command" (rule_command; not read back).
// R: FaultRule or const FaultRule.
template <class IO, class R>
void rule_fields(IO& io, R& r) {
  io.name("kind", r.kind, kFaultKinds);
  io.field("first", r.first);
  io.field("count", r.count);
  // The kind was read first: a reader requires what a writer wrote.
  if (r.kind == FaultKind::kFlakyWrite) io.field("remaining", r.remaining);
  if (r.kind == FaultKind::kLatency) {
    uint64_t us = static_cast<uint64_t>(r.latency.count());
    io.field("latency_us", us);
    if constexpr (!IO::kWriting) r.latency = std::chrono::microseconds(static_cast<int64_t>(us));
  }
  io.computed("command", [&r] { return rule_command(r); });
}

// The members of a FaultsReport (F: FaultsReport or const FaultsReport).
template <class IO, class F>
void faults_fields(IO& io, F& f) {
  io.field("bad_blocks", f.bad_blocks);
  io.field("bad_range_count", f.bad_range_count);
  io.array("bad_ranges", f.bad_ranges, [](auto& e, auto& range) {
    e.field("first", range.first);
    e.field("count", range.count);
  });
  io.array("rules", f.rules, [](auto& e, auto& rule) { rule_fields(e, rule); });
}

Json to_json(const FaultsReport& f);
// Fails (InvalidArgument naming the key) on a missing member or one of
// another type.
Result<FaultsReport> faults_report_from_json(const Json& j);

}  // namespace vblk::inject
