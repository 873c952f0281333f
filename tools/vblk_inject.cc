// vblk-inject: makes a vblk disk misbehave on purpose, offline on an image or
// live on a running vblkfs daemon (see vblk-inject(1)).
//
//   vblk-inject TARGET bad (--block N[-M] | --offset BYTES --length BYTES) [--on-write fail|remap]
//   vblk-inject TARGET flaky --block N --fail-writes K
//   vblk-inject TARGET corrupt --block N
//   vblk-inject TARGET latency --ms X [--block N[-M]]
//   vblk-inject TARGET clear (--block N[-M] | --all)
//   vblk-inject TARGET list
//   vblk-inject MOUNTPOINT powercut [--continue]
//   vblk-inject TARGET +N[-M] | -N[-M]        null_blk's syntax for bad / clear
//
// Every action takes --json: one object on stdout instead of the line of
// text (vblk-inject(1), JSON OUTPUT).
//
// TARGET is an image file (offline; refused while a daemon holds it) or a
// vblkfs mountpoint or its disk file (live: the command goes to the daemon
// through its control interface and takes effect on the next request).
// Exit status: 0 done, 1 the injection failed (one line on stderr:
// "vblk-inject: TARGET: cause"), 2 invalid command line.

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <regex>
#include <string>
#include <variant>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/command_line.h"
#include "cli/json_output.h"
#include "cli/live.h"
#include "cli/report.h"
#include "inject/command.h"
#include "inject/faults_report.h"
#include "inject/offline.h"
#include "store/member_set_open.h"
#include "util/block_text.h"
#include "util/json.h"
#include "vblk/size_parse.h"
#include "vblk_config.h"

namespace {

using vblk::Result;
using vblk::Status;
using vblk::cli::kExitError;
using vblk::cli::kExitUsage;
namespace inj = vblk::inject;

constexpr const char* kProg = "vblk-inject";

struct Args {
  std::string target;
  std::string block;       // N or N-M
  std::string offset, length;
  std::string on_write = "fail";
  uint64_t fail_writes = 0;
  std::string ms;
  bool all = false;
  bool json = false;
  bool power_on = false;
  uint32_t unit = 0;          // member, box: which
  std::string change;         // member, box: fail|restore
};

int fail(const std::string& target, const std::string& cause) {
  vblk::cli::report_error(kProg, target, cause);
  return kExitError;
}

// "+N-M" / "-N-M" as an action: null_blk's badblocks syntax.
bool is_null_blk_range(const std::string& s) {
  static const std::regex re("[+-][0-9]+(-[0-9]+)?");
  return std::regex_match(s, re);
}

// --block N[-M], with null_blk's optional leading '+'.
Result<inj::BlockRange> block_range(const std::string& text) {
  return inj::parse_range(!text.empty() && text[0] == '+' ? text.substr(1) : text);
}

// The block size of TARGET: from the daemon when live, else the image.
Result<uint32_t> block_size_of(const std::string& target, bool live) {
  if (!live) return inj::image_block_size(target);
  auto stats = vblk::cli::read_live_stats(target);
  if (!stats) return stats.status();
  if (stats->block_size == 0) return Status::io_error(target + ": unreadable user.vblk.stats: block_size is 0");
  return stats->block_size;
}

// --offset/--length as the blocks they touch.
Result<inj::BlockRange> byte_range(const Args& a, bool live) {
  auto off = vblk::parse_size(a.offset);
  if (!off) return off.status().with_prefix("--offset");
  auto len = vblk::parse_size(a.length);
  if (!len) return len.status().with_prefix("--length");
  if (*len == 0) return Status::invalid_argument("--length must be at least 1 byte");
  if (*len - 1 > UINT64_MAX - *off) return Status::invalid_argument("--offset + --length overflows");
  auto bs = block_size_of(a.target, live);
  if (!bs) return bs.status();
  const uint64_t first = *off / *bs, last = (*off + (*len - 1)) / *bs;
  return inj::BlockRange{first, last - first + 1};
}

void print_faults(const inj::FaultsReport& f, const std::string& target) {
  std::printf("faults of %s:\n", target.c_str());
  std::string text;
  for (const inj::BlockRange& r : f.bad_ranges)
    text += (text.empty() ? "" : ", ") + vblk::block_range_text(r.first, r.count);
  if (f.bad_range_count > f.bad_ranges.size()) text += ", ... (" + std::to_string(f.bad_range_count) + " ranges)";
  std::printf("  BAD blocks: %s\n",
              f.bad_ranges.empty() ? "none" : (std::to_string(f.bad_blocks) + ": " + text).c_str());
  if (f.rules.empty()) std::printf("  rules: none\n");
  for (const vblk::FaultRule& r : f.rules) std::printf("  rule: %s\n", inj::rule_command(r).c_str());
}

// member N fail|restore, box N fail|restore: the member table of an image
// at rest, or the running backend of a mounted one (through its control
// interface).
int change_members(const Args& a, bool box) {
  using vblk::store::MemberChange;
  const bool restore = a.change == "restore";
  if (vblk::cli::is_live_target(a.target)) {
    const std::string command = std::string(box ? "box " : "member ") + std::to_string(a.unit) + " " + a.change;
    if (!a.json) {
      auto reply = vblk::cli::send_control(a.target, command);
      if (!reply) return fail(a.target, vblk::cli::error_cause(reply.status(), a.target));
      std::printf("%s\n", reply->c_str());
      return 0;
    }
    auto reply = vblk::cli::send_control_json(a.target, command);
    if (!reply) return fail(a.target, vblk::cli::error_cause(reply.status(), a.target));
    vblk::Json report = vblk::cli::json_document(vblk::cli::kInjectSchema);
    report["target"] = a.target;
    report["live"] = true;
    vblk::cli::json_append(report, *reply);
    vblk::cli::print_json(report);
    return 0;
  }
  const MemberChange c = box ? (restore ? MemberChange::kRestoreBox : MemberChange::kFailBox)
                             : (restore ? MemberChange::kRestoreMember : MemberChange::kFailMember);
  Status s = vblk::store::change_members(a.target, c, a.unit);
  if (!s) return fail(a.target, vblk::cli::busy_cause(s, a.target, "unmount it first"));
  const std::string message = std::string(box ? "box " : "member ") + std::to_string(a.unit) + " of " + a.target +
                              (restore ? ": restored" : ": failed (its chunks are rebuilt from the other members)");
  if (!a.json) {
    std::printf("%s\n", message.c_str());
    return 0;
  }
  vblk::Json report = vblk::cli::json_document(vblk::cli::kInjectSchema);
  report["target"] = a.target;
  report["live"] = false;
  report["image"] = a.target;
  report["action"] = box ? "box" : "member";
  report["index"] = a.unit;
  report["state"] = restore ? "restored" : "failed";
  report["message"] = message;
  vblk::cli::print_json(report);
  return 0;
}

int run(Args& a, const inj::Command& cmd) {
  struct stat st {};
  if (::stat(a.target.c_str(), &st) != 0) return fail(a.target, std::strerror(errno));
  const bool live = vblk::cli::is_live_target(a.target);
  if (!live && S_ISDIR(st.st_mode)) return fail(a.target, "a directory, but not a vblkfs mountpoint");

  if (cmd.action == inj::Action::kList) {
    Result<std::string> json = live ? vblk::cli::read_xattr(a.target, "user.vblk.faults")
                                    : inj::faults_json_offline(a.target);
    if (!json) return fail(a.target, vblk::cli::busy_cause(json.status(), a.target, "list the faults of the mountpoint"));
    auto parsed = vblk::parse_json(*json);
    if (!parsed) return fail(a.target, "unreadable fault list: " + parsed.status().message());
    if (!parsed->is_object()) return fail(a.target, "unreadable fault list: not a JSON object");
    auto faults = inj::faults_report_from_json(*parsed);
    if (!faults) return fail(a.target, "unreadable fault list: " + faults.status().message());
    if (a.json) {
      vblk::cli::print_json(vblk::cli::json_document(vblk::cli::kInjectSchema, inj::to_json(*faults)));
    } else {
      print_faults(*faults, a.target);
    }
    return 0;
  }

  const std::string text = inj::to_text(cmd);
  vblk::Json report = vblk::cli::json_document(vblk::cli::kInjectSchema);
  report["target"] = a.target;
  report["live"] = live;
  if (live && a.json) {
    auto reply = vblk::cli::send_control_json(a.target, text);
    if (!reply) return fail(a.target, vblk::cli::error_cause(reply.status(), a.target));
    vblk::cli::json_append(report, *reply);
  } else if (live) {
    auto reply = vblk::cli::send_control(a.target, text);
    if (!reply) return fail(a.target, vblk::cli::error_cause(reply.status(), a.target));
    std::printf("%s\n", reply->c_str());
    return 0;
  } else {
    auto done = inj::inject_offline(a.target, cmd);
    if (!done) return fail(a.target, vblk::cli::busy_cause(done.status(), a.target, "target the mountpoint"));
    if (!a.json) {
      std::printf("%s\n", done->message.c_str());
      return 0;
    }
    report["image"] = a.target;
    vblk::cli::json_append(report, inj::outcome_json(*done));
  }
  vblk::cli::print_json(report);
  return 0;
}

// null_blk's "+N-M" / "-N-M" in the action's place (the word after
// TARGET) become the bad / clear actions before CLI11 sees them (it would
// take "-1-5" for an option). Elsewhere such a word is an option's value
// ("--ms -5") and stays one.
std::vector<std::string> with_null_blk_actions(int argc, char** argv) {
  std::vector<std::string> words(argv, argv + argc);
  size_t positional = 0;
  for (size_t i = 1; i < words.size(); ++i) {
    const std::string& w = words[i];
    if (w == "-h" || w == "--help" || w == "--version") continue;
    if (++positional < 2) continue;
    if (is_null_blk_range(w)) {
      const std::string range = w.substr(1);
      const std::string action = w[0] == '+' ? "bad" : "clear";
      words.erase(words.begin() + static_cast<long>(i));
      words.insert(words.begin() + static_cast<long>(i), {action, "--block", range});
    }
    break;
  }
  return words;
}

struct Actions {
  CLI::App *bad, *flaky, *corrupt, *latency, *clear, *powercut, *list, *member, *box;
};

// The actions, each a subcommand with its options into `a`.
Actions add_actions(CLI::App& app, Args& a) {
  Actions act{};
  act.bad = app.add_subcommand("bad", "Mark blocks BAD (persistent): reads fail with EIO, writes fail or remap");
  auto* bad_block = act.bad->add_option("-B,--block", a.block, "Blocks N or N-M")->type_name("N[-M]");
  auto* bad_off = act.bad->add_option("--offset", a.offset, "First byte (K/M/G suffixes)")->type_name("BYTES");
  auto* bad_len =
      act.bad->add_option("--length", a.length, "Bytes; every block they touch goes BAD")->type_name("BYTES");
  bad_off->needs(bad_len);
  bad_len->needs(bad_off);
  bad_block->excludes(bad_off)->excludes(bad_len);
  act.bad
      ->add_option("--on-write", a.on_write, "fail: writes fail with EIO; remap: a write clears the mark and succeeds")
      ->type_name("fail|remap")
      ->check(vblk::cli::one_of({"fail", "remap"}))
      ->capture_default_str();

  act.flaky = app.add_subcommand("flaky", "Make the next K write attempts to a block fail (the driver tries 3 times)");
  act.flaky->add_option("-B,--block", a.block, "Block N")->required()->type_name("N");
  act.flaky->add_option("--fail-writes", a.fail_writes, "Write attempts to fail")
      ->required()
      ->type_name("K")
      ->check(vblk::cli::whole_number_in(1, UINT32_MAX));

  act.corrupt = app.add_subcommand("corrupt", "Change a block's stored bytes so its checksum fails on the next read");
  act.corrupt->add_option("-B,--block", a.block, "Block N")->required()->type_name("N");

  act.latency = app.add_subcommand("latency", "Delay every request touching the blocks (default: all)");
  act.latency->add_option("--ms", a.ms, "Delay in milliseconds (a decimal, e.g. 0.5)")->required()->type_name("X");
  act.latency->add_option("-B,--block", a.block, "Blocks N or N-M")->type_name("N[-M]");

  act.clear = app.add_subcommand("clear", "Remove BAD marks (the blocks then read zeros) and fault rules");
  auto* clear_block = act.clear->add_option("-B,--block", a.block, "Blocks N or N-M")->type_name("N[-M]");
  auto* clear_all = act.clear->add_flag("--all", a.all, "Everything");
  clear_block->excludes(clear_all);

  act.powercut = app.add_subcommand(
      "powercut",
      "Pull the plug on a running device (TARGET: a mountpoint): every write not yet made durable by a flush\n"
      "(fsync) is dropped, and every request then fails with EIO until the image is unmounted and mounted again");
  act.powercut->add_flag("--continue", a.power_on, "Come back at once with the flushed state instead of staying off");

  act.list = app.add_subcommand("list", "Show the BAD blocks and fault rules in force");

  // A member set's members and boxes (vblk(5), MEMBER SETS), offline or live.
  act.member = app.add_subcommand(
      "member", "Member set: fail member N (its chunks are rebuilt from the others) or restore it");
  act.box = app.add_subcommand("box", "Member set: fail or restore every member of box N");
  for (CLI::App* unit : {act.member, act.box}) {
    unit->add_option("N", a.unit, "Member (box) index, from 0")->required()->type_name("");
    unit->add_option("STATE", a.change, "fail or restore")
        ->required()
        ->type_name("")
        ->check(vblk::cli::one_of({"fail", "restore"}));
  }
  // Every action reports what it did as one JSON object on request.
  for (CLI::App* action :
       {act.bad, act.flaky, act.corrupt, act.latency, act.clear, act.powercut, act.list, act.member, act.box})
    action->add_flag("-j,--json", a.json, "Print one JSON object instead of text (vblk-inject(1), JSON OUTPUT)");
  return act;
}

// The command the parsed action stands for; an exit code when it is
// refused (the reason printed).
std::variant<inj::Command, int> command_of(const Actions& act, const Args& a) {
  auto usage = [&](const std::string& msg) {
    vblk::cli::report_error(kProg, "", msg + " (see --help)");
    return kExitUsage;
  };
  inj::Command cmd;
  if (*act.bad || *act.flaky || *act.corrupt || *act.latency || (*act.clear && !a.block.empty())) {
    if (!a.block.empty()) {
      auto r = block_range(a.block);
      if (!r) return usage("--block: " + r.status().message());
      cmd.range = *r;
    }
  }
  if (*act.bad) {
    cmd.action = inj::Action::kBad;
    cmd.on_write = a.on_write == "remap" ? inj::WritePolicy::kRemap : inj::WritePolicy::kFail;
    if (!cmd.range) {
      if (a.offset.empty()) return usage("bad: give --block N[-M] or --offset and --length");
      auto r = byte_range(a, vblk::cli::is_live_target(a.target));
      if (!r) return fail(a.target, vblk::cli::error_cause(r.status(), a.target));
      cmd.range = *r;
    }
  } else if (*act.flaky) {
    cmd.action = inj::Action::kFlaky;
    cmd.fail_writes = a.fail_writes;
    if (cmd.range->count != 1) return usage("flaky: --block takes one block");
  } else if (*act.corrupt) {
    cmd.action = inj::Action::kCorrupt;
    if (cmd.range->count != 1) return usage("corrupt: --block takes one block");
  } else if (*act.latency) {
    cmd.action = inj::Action::kLatency;
    auto d = inj::parse_duration(a.ms + "ms");
    if (!d || d->count() <= 0) return usage("--ms: '" + a.ms + "' is not a positive number of milliseconds");
    cmd.latency = *d;
  } else if (*act.clear) {
    cmd.action = inj::Action::kClear;
    if (!cmd.range && !a.all) return usage("clear: give --block N[-M] or --all");
  } else if (*act.powercut) {
    cmd.action = inj::Action::kPowercut;
    cmd.power_on = a.power_on;
  } else {
    cmd.action = inj::Action::kList;
  }
  return cmd;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    spdlog::set_level(spdlog::level::off);  // the tool prints its own one-line results
    std::vector<std::string> words = with_null_blk_actions(argc, argv);
    std::vector<char*> av;
    for (auto& w : words) av.push_back(w.data());

    CLI::App app{"Make a vblk disk misbehave on purpose: BAD blocks, failing writes, corrupt data, latency,\n"
                 "power cuts.\n"
                 "TARGET is an image (offline) or a vblkfs mountpoint or disk file (live: the running daemon,\n"
                 "from its next request on).",
                 kProg};
    Args a;
    app.set_version_flag("--version", std::string(kProg) + " " + VBLK_VERSION, "Print the version and exit");
    app.add_option("TARGET", a.target, "Image file, or vblkfs mountpoint / disk file")->required()->type_name("");
    app.require_subcommand(1);
    app.footer("Ranges: N or N-M (blocks, inclusive); +N-M and -N-M (null_blk's syntax) mean bad and clear.\n"
               "Exit status: 0 done, 1 failed, 2 invalid command line. See vblk-inject(1).");
    const Actions actions = add_actions(app, a);
    if (auto code = vblk::cli::parse_command_line(app, static_cast<int>(av.size()), av.data(), kProg, "action")) return *code;
    if (*actions.member || *actions.box) return change_members(a, static_cast<bool>(*actions.box));
    auto cmd = command_of(actions, a);
    if (const int* code = std::get_if<int>(&cmd)) return *code;
    return run(a, std::get<inj::Command>(cmd));
  } catch (...) {
    return vblk::cli::report_current_exception(kProg);
  }
}
