// The live control interface of a served image. See control.h, vblkfs(1)
// and nbdkit-vblk-plugin(1).
#include "live/control.h"

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <charconv>
#include <optional>

#include "inject/command.h"
#include "inject/resize.h"
#include "inject/rules_file.h"
#include "live/live_stats.h"
#include "report/block_map.h"
#include "report/hex_dump.h"
#include "store/member_backend.h"
#include "vblk/size_parse.h"

namespace vblk::live {
namespace {

constexpr size_t kMaxReplies = 64;
constexpr size_t kMaxProbed = 64;
constexpr auto kProbeLifetime = std::chrono::seconds(5);

std::string with_newline(std::string s) { return s.empty() || s.back() == '\n' ? s : s + "\n"; }

// errno for a failed command: the caller's mistake or the device's failure.
int command_errno(const Status& st) {
  switch (st.code()) {
    case Status::Code::kInvalidArgument:
    case Status::Code::kOutOfRange: return EINVAL;
    case Status::Code::kReadOnly: return EROFS;
    case Status::Code::kNoSpace: return ENOSPC;
    default: return EIO;
  }
}

}  // namespace

Control::Control(Driver& driver, AdminInterface& admin, ImageStore& store, ControlOptions opts)
    : driver_(driver),
      admin_(admin),
      store_(store),
      opts_(std::move(opts)),
      name_(opts_.mountpoint.empty() ? opts_.image : opts_.mountpoint),
      started_(std::chrono::steady_clock::now()),
      scrub_(store, [&driver] { return driver.requests(); }) {
  if (store.member_backend() && !opts_.read_only)
    rebuilder_ = std::make_unique<Rebuilder>(*store.member_backend(), opts_.image, opts_.auto_rebuild);
}

std::string Control::names() const {
  std::string out;
  for (const char* n : {"stats", "map", "faults", "control"}) {
    out += kPrefix;
    out += n;
    out += '\0';
  }
  return out;
}

std::string Control::faults_json(size_t max_ranges) {
  return dump_json(inject::faults_json(admin_, max_ranges)) + "\n";
}

std::string Control::map_json(size_t max_cells) {
  // Halve the resolution until the map fits one attribute (a very
  // fragmented device has many mixed cells).
  for (size_t cells = std::clamp<size_t>(max_cells, 1, report::kMaxMapCells);; cells = (cells + 1) / 2) {
    auto map = report::build_block_map(store_, cells);
    if (!map) return dump_json({{"error", map.status().to_string()}}) + "\n";
    // On one line: the cells' arrays would take a line per number.
    const std::string text = dump_json_compact(report::block_map_json(*map));
    if (text.size() < kMaxValue - 1 || cells == 1) return text + "\n";
  }
}

std::string Control::stats_json() {
  const DriverStats d = driver_.stats();
  const ImageInfo info = store_.info();
  LiveStats s;
  s.image = opts_.image;
  s.server = opts_.server;
  s.mountpoint = opts_.mountpoint;
  s.pid = static_cast<uint64_t>(::getpid());
  s.read_only = opts_.read_only;
  s.powered_off = info.powered_off;
  s.uptime_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  s.block_size = info.block_size;
  s.block_count = info.block_count;
  s.capacity_bytes = info.capacity_bytes;
  s.ops = {d.reads, d.writes, d.trims, d.flushes};
  s.bytes = {d.bytes_read, d.bytes_written, d.bytes_trimmed};
  s.writes_in_flight_peak = d.writes_in_flight_peak;
  s.retries = d.retries;
  s.failures = d.failures;
  s.latency_us = {d.latency_p50_us, d.latency_p90_us, d.latency_p99_us, d.latency_max_us};
  s.cache.hits = d.cache_hits;
  s.cache.misses = d.cache_misses;
  if (const uint64_t lookups = d.cache_hits + d.cache_misses; lookups > 0)
    s.cache.hit_rate = static_cast<double>(d.cache_hits) / static_cast<double>(lookups);
  s.compression_ratio = d.compression_ratio;
  s.device = d.device;
  // Deferred compression: what still waits for the idle pass.
  s.recompression = LiveRecompression{info.provisional_bytes, info.provisional_scanned};
  s.faults = inject::faults_report(admin_, 64);
  s.scrub = scrub_.status();
  return dump_json(to_json(s)) + "\n";
}

int Control::scrub_command(std::string_view args, Reply* reply) {
  while (!args.empty() && args.front() == ' ') args.remove_prefix(1);
  if (args == "stop") {
    const bool stopped = scrub_.stop();
    *reply =
        done_reply(stopped ? "scrub stopped" : "no scrub is running", {{"action", "scrub stop"}, {"stopped", stopped}});
    return 0;
  }
  uint64_t rate = 0;
  if (!args.empty()) {
    auto parsed = parse_size(args);
    if (!parsed || *parsed == 0) {
      *reply = error_reply("scrub takes 'stop' or a rate in bytes per second (e.g. 'scrub 64M'), not '" +
                           std::string(args) + "'");
      return EINVAL;
    }
    rate = *parsed;
  }
  ScrubStatus s;
  const bool started = scrub_.start(rate, &s);
  *reply = done_reply(
      fmt::format("scrub {} {}: {} blocks to check", s.id, started ? "started" : "already running", s.blocks_to_check),
      {{"action", "scrub"}, {"id", s.id}, {"started", started}, {"blocks_to_check", s.blocks_to_check}});
  return 0;
}

int Control::resize_command(std::string_view args, Reply* reply) {
  auto word = [&args]() {
    while (!args.empty() && args.front() == ' ') args.remove_prefix(1);
    const size_t n = std::min(args.find(' '), args.size());
    std::string_view w = args.substr(0, n);
    args.remove_prefix(n);
    return w;
  };
  const std::string_view size_text = word();
  const std::string_view option = word();
  const bool discard = option == "discard";
  auto bytes = parse_size(size_text);
  if (size_text.empty() || !bytes || (!option.empty() && !discard) || !word().empty()) {
    *reply = error_reply("resize takes a size and optionally 'discard' (e.g. 'resize 16G'), not '" +
                         std::string(size_text) + (option.empty() ? "" : " " + std::string(option)) + "'");
    return EINVAL;
  }
  if (!opts_.on_resized) {
    *reply = error_reply(opts_.server +
                         " cannot show its clients a new size: stop it, resize the image "
                         "(vblk-format --resize IMAGE SIZE) and serve it again");
    return EIO;
  }
  auto blocks = inject::blocks_for_size(*bytes, store_.block_size());
  if (!blocks) {
    *reply = error_reply(blocks.status().message());
    return EINVAL;
  }
  const uint64_t old_bytes = driver_.size_bytes();
  std::optional<inject::Resized> done;
  Status st = driver_.resize(*blocks, [&] {
    auto r = inject::resize_image(store_, admin_, *blocks, discard,
                                  "'resize SIZE discard' (vblk-format --resize --force) drops them");
    if (!r) return r.status();
    done = *r;
    return Status::ok();
  });
  if (!st) {
    spdlog::warn("control: resize to {} bytes failed: {}", *bytes, st.to_string());
    *reply = error_reply(st.message());
    return command_errno(st);
  }
  std::string text = inject::describe(*done);
  Json facts = inject::resized_json(*done);
  if (done->rules_cut) add_save_warning(text, facts);
  spdlog::info("control: {}", text);
  opts_.on_resized(old_bytes, driver_.size_bytes());
  *reply = done_reply(text, facts);
  return 0;
}

int Control::member_command(std::string_view value, Reply* reply) {
  store::MemberBackend* backend = store_.member_backend();
  if (!backend) {
    *reply = error_reply(opts_.image + ": not a member set (it has no member files)");
    return EINVAL;
  }
  if (value == "rebuild status") {
    if (!rebuilder_) {
      *reply = error_reply(opts_.image + ": opened read-only: nothing is rebuilt");
      return EROFS;
    }
    const Json status = rebuilder_->status();
    *reply = done_reply(status["running"].get<bool>() ? "a rebuild is running" : "no rebuild is running",
                        Json{{"action", "rebuild status"}, {"rebuild", status}});
    return 0;
  }
  if (value == "rebuild" || value.rfind("rebuild ", 0) == 0) {
    uint64_t rate = 0;
    if (value != "rebuild") {
      auto parsed = parse_size(value.substr(8));
      if (!parsed || *parsed == 0) {
        *reply = error_reply("rebuild takes 'status' or a rate in bytes per second (e.g. 'rebuild 64M'), not '" +
                             std::string(value.substr(8)) + "'");
        return EINVAL;
      }
      rate = *parsed;
    }
    if (!rebuilder_) {
      *reply = error_reply(opts_.image + ": opened read-only: nothing can be rebuilt");
      return EROFS;
    }
    const auto [id, started] = rebuilder_->start(rate);
    *reply = done_reply(fmt::format("rebuild {} {}", id, started ? "started" : "already running"),
                        Json{{"action", "rebuild"}, {"id", id}, {"started", started}, {"max_rate", rate}});
    return 0;
  }
  // "member N fail|restore" / "box N fail|restore".
  const bool box = value.rfind("box ", 0) == 0;
  std::string_view rest = value.substr(box ? 4 : 7);
  const size_t space = rest.find(' ');
  const std::string_view number = rest.substr(0, space);
  const std::string_view change = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
  uint32_t index = 0;
  auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), index);
  if (ec != std::errc() || end != number.data() + number.size() || number.empty() ||
      (change != "fail" && change != "restore")) {
    *reply = error_reply(std::string(box ? "box" : "member") + " takes an index and 'fail' or 'restore' (e.g. '" +
                         (box ? "box" : "member") + " 3 fail'), not '" + std::string(value) + "'");
    return EINVAL;
  }
  const bool restore = change == "restore";
  Status st = box ? (restore ? backend->restore_box(index) : backend->fail_box(index))
                  : (restore ? backend->restore_member(index) : backend->fail_member(index));
  if (!st) {
    *reply = error_reply(st.message());
    return command_errno(st);
  }
  const std::string text = std::string(box ? "box " : "member ") + std::to_string(index) + " of " + name_ +
                           (restore ? ": restored" : ": failed (its chunks are rebuilt from the other members)");
  spdlog::info("control: {}", text);
  *reply = done_reply(text, Json{{"action", box ? "box" : "member"},
                                 {"index", index},
                                 {"state", restore ? "restored" : "failed"}});
  return 0;
}

void Control::add_save_warning(std::string& text, Json& facts) {
  if (Status saved = save_rules(); !saved) {
    spdlog::warn("control: saving the fault rules: {}", saved.to_string());
    const std::string warning =
        fmt::format("the rules could not be saved to {}: {}", opts_.rules_file, saved.message());
    text += " (warning: " + warning + ")";
    facts["warning"] = warning;
  }
}

Control::Reply Control::error_reply(const std::string& cause) {
  return {with_newline("error: " + cause), dump_json({{"error", cause}}) + "\n"};
}

Control::Reply Control::done_reply(const std::string& text, const Json& facts) const {
  Json j;
  j["image"] = opts_.image;
  for (const auto& [key, value] : facts.items()) {
    if (key != "message") j[key] = value;
  }
  j["message"] = text;
  return {with_newline(text), dump_json(j) + "\n"};
}

void Control::remember_reply(const Caller& c, Reply reply) {
  MutexLock lock(state_mu_);
  if (reply_by_pid_.size() >= kMaxReplies && !reply_by_pid_.count(c.pid)) reply_by_pid_.erase(reply_by_pid_.begin());
  reply_by_pid_[c.pid] = reply;
  reply_by_uid_[c.uid] = std::move(reply);
}

int Control::get(const Caller& caller, const std::string& name, bool probe, std::string* value) {
  if (name.rfind(kPrefix, 0) != 0) return ENODATA;
  if (!allowed(caller)) return kNotAllowed;
  const std::string what = name.substr(kPrefix.size());
  const auto key = std::make_pair(caller.pid, name);
  {
    MutexLock lock(state_mu_);
    auto now = std::chrono::steady_clock::now();
    std::erase_if(probed_, [&](const auto& kv) { return now - kv.second.at > kProbeLifetime; });
    if (!probe) {
      if (auto it = probed_.find(key); it != probed_.end()) {
        *value = std::move(it->second.value);
        probed_.erase(it);
        return 0;
      }
    }
  }
  if (what == "stats") {
    *value = stats_json();
  } else if (what == "faults") {
    *value = faults_json(512);
  } else if (what == "map") {
    *value = map_json(report::kMaxMapCells);
  } else if (what == "members") {
    *value = members_json();
    if (value->empty()) return ENODATA;
  } else if (what.rfind("map.", 0) == 0) {
    size_t cells = 0;
    const std::string_view n = std::string_view(what).substr(4);
    auto [end, ec] = std::from_chars(n.data(), n.data() + n.size(), cells);
    if (ec != std::errc() || end != n.data() + n.size() || cells == 0 || cells > report::kMaxMapCells) return ENODATA;
    *value = map_json(cells);
  } else if (what == "control" || what == "control.json") {
    const bool json = what == "control.json";
    MutexLock lock(state_mu_);
    const Reply* last = nullptr;
    if (auto it = reply_by_pid_.find(caller.pid); it != reply_by_pid_.end()) {
      last = &it->second;
    } else if (auto u = reply_by_uid_.find(caller.uid); u != reply_by_uid_.end()) {
      last = &u->second;
    }
    const std::string none = "no command yet: write one, e.g. setfattr -n user.vblk.control -v 'bad 10-20' FILE";
    if (last != nullptr) {
      *value = json ? last->json : last->text;
    } else {
      *value = json ? dump_json({{"error", none}}) + "\n" : none + "\n";
    }
  } else {
    return ENODATA;
  }
  if (value->size() > kMaxValue) return E2BIG;
  if (probe) {
    MutexLock lock(state_mu_);
    if (probed_.size() >= kMaxProbed) probed_.erase(probed_.begin());
    probed_[key] = Probed{*value, std::chrono::steady_clock::now()};
  }
  return 0;
}

int Control::set(const Caller& caller, const std::string& name, std::string_view value) {
  if (name.rfind(kPrefix, 0) != 0 || name.substr(kPrefix.size()) != "control") return ENOTSUP;
  if (!allowed(caller)) return kNotAllowed;
  // setfattr passes the value as typed; a trailing newline is allowed.
  while (!value.empty() && (value.back() == '\n' || value.back() == '\0')) value.remove_suffix(1);
  spdlog::info("control: uid {} pid {}: {}", caller.uid, caller.pid, value);
  if (value == "scrub" || value.rfind("scrub ", 0) == 0) {
    // Reads only: allowed on a read-only mount too.
    Reply reply;
    const int err = scrub_command(value.substr(5), &reply);
    remember_reply(caller, reply);
    return err;
  }
  if (value == "resize" || value.rfind("resize ", 0) == 0) {
    Reply reply;
    int err = EROFS;
    if (opts_.read_only) {
      reply = error_reply(std::string("the image is ") + (opts_.mountpoint.empty() ? "served" : "mounted") +
                          " read-only: it cannot be resized");
    } else {
      MutexLock lock(command_mu_);
      err = resize_command(value.substr(6), &reply);
    }
    remember_reply(caller, reply);
    return err;
  }
  if (value.rfind("member ", 0) == 0 || value.rfind("box ", 0) == 0 || value == "rebuild" ||
      value.rfind("rebuild ", 0) == 0) {
    Reply reply;
    int err = 0;
    if (opts_.read_only && value != "rebuild status") {
      reply = error_reply(std::string("the image is ") + (opts_.mountpoint.empty() ? "served" : "mounted") +
                          " read-only: its members cannot change");
      err = EROFS;
    } else {
      MutexLock lock(command_mu_);
      err = member_command(value, &reply);
    }
    remember_reply(caller, reply);
    return err;
  }
  auto cmd = inject::parse_command(value);
  if (!cmd) {
    remember_reply(caller, error_reply(cmd.status().message()));
    return EINVAL;
  }
  if (cmd->action == inject::Action::kList) {
    const std::string faults = faults_json(512);
    remember_reply(caller, {faults, faults});
    return 0;
  }
  if (opts_.read_only) {
    remember_reply(caller,
                   error_reply(std::string("the image is ") + (opts_.mountpoint.empty() ? "served" : "mounted") +
                               " read-only: faults cannot be injected"));
    return EROFS;
  }
  MutexLock lock(command_mu_);
  auto outcome = inject::execute(admin_, name_, *cmd);
  if (!outcome) {
    spdlog::warn("control: '{}' failed: {}", value, outcome.status().to_string());
    remember_reply(caller, error_reply(outcome.status().message()));
    return command_errno(outcome.status());
  }
  std::string text = outcome->message;
  Json facts = inject::outcome_json(*outcome);
  if (outcome->rules_changed) add_save_warning(text, facts);
  remember_reply(caller, done_reply(text, facts));
  return 0;
}

Status Control::save_rules() {
  if (opts_.read_only) return Status::ok();
  return inject::save_rules(opts_.rules_file, {opts_.image, store_.info().uuid}, admin_.fault_rules());
}

std::string Control::members_json() {
  store::MemberBackend* set = store_.member_backend();
  if (!set) return "";
  Json members = Json::array();
  const auto info = set->member_info();
  for (uint32_t m = 0; m < info.size(); ++m) {
    members.push_back({{"index", m},
                       {"state", format::to_string(info[m].entry.state)},
                       {"state_code", static_cast<int>(info[m].entry.state)},
                       {"stands_for", info[m].entry.stands_for == format::kNoMember
                                          ? Json(nullptr)
                                          : Json(info[m].entry.stands_for)},
                       {"bytes", info[m].bytes},
                       {"errors", info[m].entry.errors},
                       {"first_bytes", report::hex_string(info[m].first_bytes)}});
  }
  const auto layout = set->layout_record();
  return dump_json({{"layout", report::hex_string(layout)}, {"members", std::move(members)}}) + "\n";
}

}  // namespace vblk::live
