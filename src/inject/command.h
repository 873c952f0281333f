#pragma once
// The fault-injection command language, shared by vblk-inject (offline, on
// an image) and the running daemon (live, through the user.vblk.control
// extended attribute; see vblkfs(1), CONTROL INTERFACE). One command per
// line; words are separated by blanks:
//
//   bad RANGE [fail|remap]     mark BAD; on write: fail (default) or remap
//   +RANGE                     the same as `bad RANGE` (null_blk's syntax)
//   -RANGE                     the same as `clear RANGE`
//   remap RANGE                writes to BAD blocks in RANGE clear the mark
//   flaky BLOCK K              the next K write attempts to BLOCK fail
//   corrupt BLOCK              change BLOCK's stored bytes (checksum fails)
//   latency DURATION [RANGE]   delay requests (whole device without RANGE)
//   clear RANGE | clear all    remove BAD marks and rules
//   powercut [continue]        drop every write no flush made durable; the
//                              device then fails every request until
//                              remounted, or with `continue` comes back at
//                              once with the flushed state (live only)
//   list                       (answered by reading user.vblk.faults)
//
// RANGE is N or N-M (blocks, inclusive, counted from 0). DURATION is a
// decimal number with a unit us, ms or s; a bare number means ms.
// Thread safety: pure functions.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "vblk/fault_rule.h"
#include "vblk/status.h"

namespace vblk::inject {

struct BlockRange {
  uint64_t first = 0;
  uint64_t count = 0;  // >= 1 once parsed
  uint64_t last() const { return first + count - 1; }
  bool operator==(const BlockRange&) const = default;
};

enum class Action : uint8_t { kBad, kRemap, kFlaky, kCorrupt, kLatency, kClear, kList, kPowercut };
enum class WritePolicy : uint8_t { kFail, kRemap };

struct Command {
  Action action = Action::kList;
  // bad, remap, flaky, corrupt: required (flaky and corrupt: one block).
  // latency: none means the whole device. clear: none means everything.
  std::optional<BlockRange> range;
  WritePolicy on_write = WritePolicy::kFail;  // bad
  uint64_t fail_writes = 0;                   // flaky, >= 1
  std::chrono::microseconds latency{0};       // latency, >= 1us
  bool power_on = false;                      // powercut: `continue`
  bool operator==(const Command&) const = default;
};

// "N" or "N-M" (inclusive; M >= N). InvalidArgument quoting `text` otherwise.
Result<BlockRange> parse_range(std::string_view text);
// "N" for one block, else "N-M".
std::string to_text(BlockRange range);
// "N[.F](us|ms|s)", or a bare number of milliseconds. At most one hour.
Result<std::chrono::microseconds> parse_duration(std::string_view text);
// "250us", "20ms", "2s", whichever is exact.
std::string duration_text(std::chrono::microseconds d);

// Parses one command line. InvalidArgument saying what is wrong otherwise.
Result<Command> parse_command(std::string_view line);
// The canonical text of a command: parse_command(to_text(c)) == c.
std::string to_text(const Command& c);

// The action's name as typed: "bad", "flaky", ...
std::string_view action_name(Action a);

// The command that re-creates a rule ("flaky 5 2", "latency 20ms 0-1023",
// "remap 10-20").
std::string rule_command(const FaultRule& rule);

}  // namespace vblk::inject
