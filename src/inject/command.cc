#include "inject/command.h"

#include <spdlog/fmt/fmt.h>

#include <charconv>
#include <limits>
#include <vector>

namespace vblk::inject {
namespace {

std::vector<std::string_view> split_words(std::string_view line) {
  std::vector<std::string_view> words;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\n' || line[i] == '\r')) ++i;
    const size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\n' && line[i] != '\r') ++i;
    if (i > start) words.push_back(line.substr(start, i - start));
  }
  return words;
}

// A whole decimal number: digits only, no sign, no overflow.
std::optional<uint64_t> parse_u64(std::string_view s) {
  if (s.empty()) return std::nullopt;
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

Status bad_usage(std::string_view line, std::string_view why) {
  return Status::invalid_argument(fmt::format("'{}': {}", line, why));
}

Result<uint64_t> parse_block(std::string_view text) {
  auto v = parse_u64(text);
  if (!v) return Status::invalid_argument(fmt::format("'{}' is not a block number", text));
  return *v;
}

}  // namespace

Result<BlockRange> parse_range(std::string_view text) {
  const size_t dash = text.find('-');
  auto first = parse_u64(text.substr(0, dash));
  if (!first) return Status::invalid_argument(fmt::format("'{}' is not a block range (N or N-M)", text));
  if (dash == std::string_view::npos) return BlockRange{*first, 1};
  auto last = parse_u64(text.substr(dash + 1));
  if (!last) return Status::invalid_argument(fmt::format("'{}' is not a block range (N or N-M)", text));
  if (*last < *first) return Status::invalid_argument(fmt::format("block range '{}' ends before it starts", text));
  if (*first == 0 && *last == std::numeric_limits<uint64_t>::max()) {
    return Status::invalid_argument(fmt::format("block range '{}' is too large", text));
  }
  return BlockRange{*first, *last - *first + 1};
}

std::string to_text(BlockRange r) {
  return r.count == 1 ? std::to_string(r.first) : fmt::format("{}-{}", r.first, r.last());
}

Result<std::chrono::microseconds> parse_duration(std::string_view text) {
  std::string_view num = text;
  uint64_t unit_us = 1000;
  for (auto [suffix, us] : {std::pair<std::string_view, uint64_t>{"us", 1}, {"ms", 1000}, {"s", 1000000}}) {
    if (num.size() > suffix.size() && num.substr(num.size() - suffix.size()) == suffix) {
      num.remove_suffix(suffix.size());
      unit_us = us;
      break;
    }
  }
  const size_t dot = num.find('.');
  auto whole = parse_u64(num.substr(0, dot));
  uint64_t frac_us = 0;
  if (whole && dot != std::string_view::npos) {
    std::string_view frac = num.substr(dot + 1);
    auto f = parse_u64(frac);
    if (!f || frac.size() > 9) {
      whole.reset();
    } else {
      // frac / 10^digits of a unit, in whole microseconds (rounded down).
      uint64_t scale = 1;
      for (size_t i = 0; i < frac.size(); ++i) scale *= 10;
      frac_us = *f * unit_us / scale;
    }
  }
  constexpr uint64_t kMaxUs = 3600ull * 1000000;
  if (!whole || *whole > kMaxUs / unit_us || *whole * unit_us + frac_us > kMaxUs) {
    return Status::invalid_argument(
        fmt::format("'{}' is not a duration (a number with us, ms or s; at most 1 hour)", text));
  }
  return std::chrono::microseconds(static_cast<int64_t>(*whole * unit_us + frac_us));
}

std::string duration_text(std::chrono::microseconds d) {
  const auto us = d.count();
  if (us != 0 && us % 1000000 == 0) return fmt::format("{}s", us / 1000000);
  if (us != 0 && us % 1000 == 0) return fmt::format("{}ms", us / 1000);
  return fmt::format("{}us", us);
}

std::string_view action_name(Action a) {
  switch (a) {
    case Action::kBad: return "bad";
    case Action::kRemap: return "remap";
    case Action::kFlaky: return "flaky";
    case Action::kCorrupt: return "corrupt";
    case Action::kLatency: return "latency";
    case Action::kClear: return "clear";
    case Action::kList: return "list";
    case Action::kPowercut: return "powercut";
  }
  return "unknown";
}

Result<Command> parse_command(std::string_view line) {
  std::vector<std::string_view> w = split_words(line);
  if (w.empty()) return Status::invalid_argument("empty command");
  Command c;
  std::string_view verb = w[0];
  // null_blk's badblocks syntax: +a-b marks, -a-b clears.
  if (verb.size() > 1 && (verb[0] == '+' || verb[0] == '-')) {
    if (w.size() != 1) return bad_usage(line, "nothing may follow a +RANGE or -RANGE");
    auto r = parse_range(verb.substr(1));
    if (!r) return r.status();
    c.action = verb[0] == '+' ? Action::kBad : Action::kClear;
    c.range = *r;
    return c;
  }
  auto want_args = [&](size_t lo, size_t hi, std::string_view usage) -> Status {
    if (w.size() - 1 < lo || w.size() - 1 > hi) return bad_usage(line, fmt::format("usage: {}", usage));
    return Status::ok();
  };
  if (verb == "bad") {
    VBLK_RETURN_IF_ERROR(want_args(1, 2, "bad RANGE [fail|remap]"));
    auto r = parse_range(w[1]);
    if (!r) return r.status();
    c.action = Action::kBad;
    c.range = *r;
    if (w.size() == 3) {
      if (w[2] == "remap") {
        c.on_write = WritePolicy::kRemap;
      } else if (w[2] != "fail") {
        return bad_usage(line, fmt::format("'{}' is not a write policy (fail or remap)", w[2]));
      }
    }
    return c;
  }
  if (verb == "remap") {
    VBLK_RETURN_IF_ERROR(want_args(1, 1, "remap RANGE"));
    auto r = parse_range(w[1]);
    if (!r) return r.status();
    c.action = Action::kRemap;
    c.range = *r;
    return c;
  }
  if (verb == "flaky") {
    VBLK_RETURN_IF_ERROR(want_args(2, 2, "flaky BLOCK K"));
    auto b = parse_block(w[1]);
    if (!b) return b.status();
    auto k = parse_u64(w[2]);
    if (!k || *k == 0) return bad_usage(line, fmt::format("'{}' is not a number of writes >= 1", w[2]));
    c.action = Action::kFlaky;
    c.range = BlockRange{*b, 1};
    c.fail_writes = *k;
    return c;
  }
  if (verb == "corrupt") {
    VBLK_RETURN_IF_ERROR(want_args(1, 1, "corrupt BLOCK"));
    auto b = parse_block(w[1]);
    if (!b) return b.status();
    c.action = Action::kCorrupt;
    c.range = BlockRange{*b, 1};
    return c;
  }
  if (verb == "latency") {
    VBLK_RETURN_IF_ERROR(want_args(1, 2, "latency DURATION [RANGE]"));
    auto d = parse_duration(w[1]);
    if (!d) return d.status();
    if (d->count() <= 0) return bad_usage(line, "a latency must be at least 1us");
    c.action = Action::kLatency;
    c.latency = *d;
    if (w.size() == 3) {
      auto r = parse_range(w[2]);
      if (!r) return r.status();
      c.range = *r;
    }
    return c;
  }
  if (verb == "clear") {
    VBLK_RETURN_IF_ERROR(want_args(1, 1, "clear RANGE | clear all"));
    c.action = Action::kClear;
    if (w[1] != "all") {
      auto r = parse_range(w[1]);
      if (!r) return r.status();
      c.range = *r;
    }
    return c;
  }
  if (verb == "powercut") {
    VBLK_RETURN_IF_ERROR(want_args(0, 1, "powercut [continue]"));
    c.action = Action::kPowercut;
    if (w.size() == 2) {
      if (w[1] != "continue") return bad_usage(line, fmt::format("'{}': the only option is 'continue'", w[1]));
      c.power_on = true;
    }
    return c;
  }
  if (verb == "list") {
    VBLK_RETURN_IF_ERROR(want_args(0, 0, "list"));
    c.action = Action::kList;
    return c;
  }
  return bad_usage(line, "unknown command (bad, remap, flaky, corrupt, latency, clear, powercut, list, +RANGE, -RANGE)");
}

std::string to_text(const Command& c) {
  switch (c.action) {
    case Action::kBad:
      return fmt::format("bad {} {}", to_text(*c.range), c.on_write == WritePolicy::kRemap ? "remap" : "fail");
    case Action::kRemap: return fmt::format("remap {}", to_text(*c.range));
    case Action::kFlaky: return fmt::format("flaky {} {}", c.range->first, c.fail_writes);
    case Action::kCorrupt: return fmt::format("corrupt {}", c.range->first);
    case Action::kLatency:
      return c.range ? fmt::format("latency {} {}", duration_text(c.latency), to_text(*c.range))
                     : fmt::format("latency {}", duration_text(c.latency));
    case Action::kClear: return c.range ? fmt::format("clear {}", to_text(*c.range)) : "clear all";
    case Action::kList: return "list";
    case Action::kPowercut: return c.power_on ? "powercut continue" : "powercut";
  }
  return "list";
}

std::string rule_command(const FaultRule& rule) {
  const BlockRange r{rule.first, rule.count};
  switch (rule.kind) {
    case FaultKind::kFlakyWrite:
      return fmt::format("flaky {} {}", rule.first, rule.remaining);
    case FaultKind::kLatency:
      return fmt::format("latency {} {}", duration_text(rule.latency), to_text(r));
    case FaultKind::kRemapBad:
      return fmt::format("remap {}", to_text(r));
  }
  return "";
}

}  // namespace vblk::inject
