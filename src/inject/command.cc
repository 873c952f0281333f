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

namespace {

// A command's words (the verb first) and its line, for error messages.
struct Words {
  std::string_view line;
  std::vector<std::string_view> w;
};

// Fills in what follows the verb; the argument count is already checked.
using ArgumentParser = Status (*)(const Words& in, Command& c);

Status range_at(const Words& in, size_t i, Command& c) {
  auto r = parse_range(in.w[i]);
  if (!r) return r.status();
  c.range = *r;
  return Status::ok();
}

Status block_at(const Words& in, size_t i, Command& c) {
  auto b = parse_block(in.w[i]);
  if (!b) return b.status();
  c.range = BlockRange{*b, 1};
  return Status::ok();
}

Status bad_arguments(const Words& in, Command& c) {
  VBLK_RETURN_IF_ERROR(range_at(in, 1, c));
  if (in.w.size() == 3 && in.w[2] == "remap") {
    c.on_write = WritePolicy::kRemap;
  } else if (in.w.size() == 3 && in.w[2] != "fail") {
    return bad_usage(in.line, fmt::format("'{}' is not a write policy (fail or remap)", in.w[2]));
  }
  return Status::ok();
}

Status range_argument(const Words& in, Command& c) { return range_at(in, 1, c); }

Status block_argument(const Words& in, Command& c) { return block_at(in, 1, c); }

Status flaky_arguments(const Words& in, Command& c) {
  VBLK_RETURN_IF_ERROR(block_at(in, 1, c));
  auto k = parse_u64(in.w[2]);
  if (!k || *k == 0) return bad_usage(in.line, fmt::format("'{}' is not a number of writes >= 1", in.w[2]));
  c.fail_writes = *k;
  return Status::ok();
}

Status latency_arguments(const Words& in, Command& c) {
  auto d = parse_duration(in.w[1]);
  if (!d) return d.status();
  if (d->count() <= 0) return bad_usage(in.line, "a latency must be at least 1us");
  c.latency = *d;
  return in.w.size() == 3 ? range_at(in, 2, c) : Status::ok();
}

Status clear_arguments(const Words& in, Command& c) {
  return in.w[1] == "all" ? Status::ok() : range_at(in, 1, c);
}

Status powercut_arguments(const Words& in, Command& c) {
  if (in.w.size() == 2) {
    if (in.w[1] != "continue")
      return bad_usage(in.line, fmt::format("'{}': the only option is 'continue'", in.w[1]));
    c.power_on = true;
  }
  return Status::ok();
}

Status no_arguments(const Words&, Command&) { return Status::ok(); }

struct Verb {
  std::string_view name;
  Action action;
  size_t min_args, max_args;
  std::string_view usage;
  ArgumentParser parse;
};

constexpr Verb kVerbs[] = {
    {"bad", Action::kBad, 1, 2, "bad RANGE [fail|remap]", bad_arguments},
    {"remap", Action::kRemap, 1, 1, "remap RANGE", range_argument},
    {"flaky", Action::kFlaky, 2, 2, "flaky BLOCK K", flaky_arguments},
    {"corrupt", Action::kCorrupt, 1, 1, "corrupt BLOCK", block_argument},
    {"latency", Action::kLatency, 1, 2, "latency DURATION [RANGE]", latency_arguments},
    {"clear", Action::kClear, 1, 1, "clear RANGE | clear all", clear_arguments},
    {"powercut", Action::kPowercut, 0, 1, "powercut [continue]", powercut_arguments},
    {"list", Action::kList, 0, 0, "list", no_arguments},
};

}  // namespace

Result<Command> parse_command(std::string_view line) {
  const Words in{line, split_words(line)};
  if (in.w.empty()) return Status::invalid_argument("empty command");
  Command c;
  const std::string_view verb = in.w[0];
  // null_blk's badblocks syntax: +a-b marks, -a-b clears.
  if (verb.size() > 1 && (verb[0] == '+' || verb[0] == '-')) {
    if (in.w.size() != 1) return bad_usage(line, "nothing may follow a +RANGE or -RANGE");
    auto r = parse_range(verb.substr(1));
    if (!r) return r.status();
    c.action = verb[0] == '+' ? Action::kBad : Action::kClear;
    c.range = *r;
    return c;
  }
  std::string verbs;
  for (const Verb& v : kVerbs) {
    verbs += fmt::format("{}, ", v.name);
    if (v.name != verb) continue;
    const size_t args = in.w.size() - 1;
    if (args < v.min_args || args > v.max_args) return bad_usage(line, fmt::format("usage: {}", v.usage));
    c.action = v.action;
    VBLK_RETURN_IF_ERROR(v.parse(in, c));
    return c;
  }
  return bad_usage(line, fmt::format("unknown command ({}+RANGE, -RANGE)", verbs));
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
