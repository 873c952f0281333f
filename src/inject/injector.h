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
// Every command that injects something logs "injecting X into Y" at warn and
// returns the same sentence.
// Thread safety: execute() may run concurrently with I/O on the device
// stack; callers serialize execute() calls among themselves.

#include <cstdint>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "inject/command.h"
#include "util/json.h"
#include "vblk/block_device.h"
#include "vblk/fault_device.h"
#include "vblk/image_store.h"

namespace vblk::inject {

struct Target {
  std::string name;                  // image path or mountpoint, for messages
  ImageStore* store = nullptr;       // bad-block list, block locations, stored bytes
  BlockDevice* device = nullptr;     // the top of the stack: set_bad goes here
  FaultDevice* faults = nullptr;     // the runtime rules
  // Runs fn, which changes the store directly, with [first, first+count)
  // guarded against the requests of a driver above (live: the daemon's
  // Driver::modify_below). Offline nothing is above: call fn.
  std::function<Status(uint64_t first, uint64_t count, const std::function<Status()>& fn)> below;
};

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

// Carries out `cmd` (not kList: see faults_json). Errors name the
// block(s) and the cause: OutOfRange beyond the device, InvalidArgument for
// a block with nothing stored to corrupt, the store's error otherwise.
Result<Outcome> execute(Target& target, const Command& cmd);

// The facts of `o` as one object (vblk-inject(1), JSON OUTPUT): "action",
// "command" (the canonical text), "blocks" ({"first", "count"}; not for
// powercut), the action's own keys, and "message" last.
Json outcome_json(const Outcome& o);

// The faults in force: {"bad_blocks", "bad_range_count", "bad_ranges":
// [{"first", "count"}...] (the first max_ranges of them), "rules": [{"kind",
// "first", "count", "command", "remaining" (flaky), "latency_us"
// (latency)}...]}.
Json faults_json(Target& target, size_t max_ranges = SIZE_MAX);

// The "rules" array of faults_json.
Json rules_json(const std::vector<FaultRule>& rules);

// The command that re-creates a rule ("flaky 5 2", "latency 20ms 0-1023",
// "remap 10-20").
std::string rule_command(const FaultRule& rule);

}  // namespace vblk::inject
