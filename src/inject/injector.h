#pragma once
// Injector: carries out fault-injection commands (inject/command.h) on a
// device stack, the same way offline (vblk-inject on an image) and live
// (the daemon, on a control request).
//
// Where each fault lives:
//   BAD marks     persistent, in the image (the store's bad-block list)
//   corruption    persistent, in the image (one stored byte flipped)
//   flaky, latency, remap
//                 rules of the FaultDevice; they persist beside the image in
//                 its rules file (inject/rules_file.h), which the daemon
//                 loads at mount and saves after every change and at unmount
//
// The stack is reached through its admin interface (vblk/admin_interface.h)
// only: offline the FaultDevice's, live the daemon's GuardedAdmin, which
// guards every change of stored state against the driver above.
// Every command that injects something logs "injecting X into Y" at warn and
// returns the same sentence.
// Thread safety: execute() may run concurrently with I/O on the device
// stack; callers serialize execute() calls among themselves.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "inject/command.h"
#include "util/json.h"
#include "vblk/admin_interface.h"

namespace vblk::inject {

struct Outcome {
  std::string message;         // "injecting ... into ..." or what clear removed
  bool rules_changed = false;  // the FaultDevice's rules changed: save them
  // What was done, for outcome_json.
  Command command;                  // as carried out
  BlockRange blocks;                // the blocks it covered (the whole device for latency and clear without a range)
  uint64_t record_offset = 0;       // corrupt: the record now damaged
  uint64_t bad_blocks_cleared = 0;  // clear: BAD blocks now TRIMMED
  size_t rules_removed = 0;         // clear
  PowerCutReport power_cut;         // powercut
  bool powered_off = false;         // powercut: the device is off afterwards
};

// Carries out `cmd` (not kList: see faults_json) on `stack`, which messages
// call `name` (the image path or mountpoint). Errors name the block(s) and
// the cause: OutOfRange beyond the device, InvalidArgument for a block with
// nothing stored to corrupt, the stack's error otherwise.
Result<Outcome> execute(AdminInterface& stack, const std::string& name, const Command& cmd);

// The facts of `o` as one object (vblk-inject(1), JSON OUTPUT): "action",
// "command" (the canonical text), "blocks" ({"first", "count"}; not for
// powercut), the action's own keys, and "message" last.
Json outcome_json(const Outcome& o);

// The faults in force: {"bad_blocks", "bad_range_count", "bad_ranges":
// [{"first", "count"}...] (the first max_ranges of them), "rules": [{"kind",
// "first", "count", "command", "remaining" (flaky), "latency_us"
// (latency)}...]}.
Json faults_json(AdminInterface& stack, size_t max_ranges = SIZE_MAX);

// The "rules" array of faults_json.
Json rules_json(const std::vector<FaultRule>& rules);

}  // namespace vblk::inject
