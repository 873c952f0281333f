// vblk-rebuild: rebuilds a member set's failed members onto its hot spares
// (and a stale member restored with vblk-inject in place), offline on IMAGE
// or live through the daemon that serves it (vblk-rebuild(1)).
//
//   vblk-rebuild IMAGE|MOUNTPOINT [-j|--json] [-p|--progress] [-q|--quiet]
//
// Exit status: 0 rebuilt, 1 failed, 2 invalid command line, 3 nothing to
// rebuild, 4 no free spare, 5 a group lost more than the parity rebuilds.

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/command_line.h"
#include "cli/json_output.h"
#include "cli/live.h"
#include "cli/progress.h"
#include "cli/report.h"
#include "live/rebuilder.h"
#include "store/member_backend.h"
#include "store/member_set_open.h"
#include "util/json.h"
#include "vblk/size_parse.h"
#include "vblk_config.h"

namespace {

using vblk::Json;
using vblk::Status;
using vblk::store::MemberBackend;
using vblk::cli::kExitError;

constexpr const char* kProg = "vblk-rebuild";
constexpr int kExitNothing = 3;
constexpr int kExitNoSpare = 4;
constexpr int kExitLost = 5;

struct Args {
  std::string target;
  bool json = false;
  std::string rate;       // --rate as typed
  uint64_t max_rate = 0;  // bytes written per second; 0: no cap
  vblk::cli::OutputOptions out;
};

int fail(const std::string& target, const std::string& cause) {
  vblk::cli::report_error(kProg, target, cause);
  return kExitError;
}

// A progress bar per member rebuilt, in chunk bytes.
class RebuildBar {
 public:
  explicit RebuildBar(vblk::cli::ProgressMode mode) : mode_(mode) {}
  void update(uint32_t member, uint32_t onto, uint64_t done, uint64_t total, uint64_t chunk) {
    if (!bar_ || member != member_) {
      if (bar_) bar_->finish();
      member_ = member;
      bar_ = std::make_unique<vblk::cli::Progress>(
          member == onto ? "rebuilding member " + std::to_string(member) + " in place"
                         : "rebuilding member " + std::to_string(member) + " onto " + std::to_string(onto),
          std::max<uint64_t>(total, 1) * chunk, mode_);
    }
    bar_->update(std::min(done, total) * chunk);
  }
  void finish() {
    if (bar_) bar_->finish();
  }

 private:
  vblk::cli::ProgressMode mode_;
  uint32_t member_ = 0;
  std::unique_ptr<vblk::cli::Progress> bar_;
};

// The exit code and output of a finished rebuild, its document `body`
// (live/rebuilder.h, rebuild_outcome_json; or {"error": cause}).
int finish(const Args& a, bool live, const Json& body) {
  const bool failed = body.contains("error");
  if (a.json) {
    Json doc = vblk::cli::json_document(vblk::cli::kRebuildSchema);
    doc["image"] = a.target;
    doc["live"] = live;
    vblk::cli::json_append(doc, body);
    vblk::cli::print_json(doc);
  }
  if (failed) return a.json ? kExitError : fail(a.target, body["error"].get<std::string>());
  const bool rebuilt = !body["rebuilt"].empty();
  if (!a.json) {
    // The lines of the rebuilt members on stdout; refusals one line each on
    // stderr, naming the image.
    const std::string message = body["message"].get<std::string>();
    size_t start = 0;
    while (start < message.size()) {
      const size_t end = std::min(message.find('\n', start), message.size());
      const std::string line = message.substr(start, end - start);
      const bool refused = line.rfind("member ", 0) != 0 && line.rfind("stopped", 0) != 0;
      if (refused) {
        vblk::cli::report_error(kProg, a.target, vblk::error_cause(Status::io_error(line), a.target));
      } else if (!a.out.quiet) {
        std::printf("%s\n", line.c_str());
      }
      start = end + 1;
    }
  }
  if (rebuilt) return 0;
  if (body["stopped"].get<bool>()) return kExitError;
  const std::string refusal = body["refusal"].is_string() ? body["refusal"].get<std::string>() : "";
  if (refusal == "nothing_to_rebuild") return kExitNothing;
  if (refusal == "no_free_spare") return kExitNoSpare;
  if (refusal == "lost") return kExitLost;
  return kExitError;
}

int run_offline(const Args& a) {
  // The member files alone (no log replay): what a rebuild reads and writes
  // is rows of chunks, and a set whose checkpoint lies in a lost group can
  // still be told so.
  auto opened = vblk::store::open_member_set_path(a.target, false);
  if (!opened) {
    const Status& s = opened.status();
    if (s.code() == Status::Code::kInvalidArgument && s.message().find("not a member set") != std::string::npos)
      return fail(a.target, "not a member set (it has no member files): nothing to rebuild");
    return fail(a.target, vblk::cli::busy_cause(s, a.target, "target the mountpoint"));
  }
  MemberBackend& backend = **opened;
  RebuildBar bar(a.out.progress_mode());
  const uint64_t chunk = backend.chunk_size();
  const auto began = std::chrono::steady_clock::now();
  uint64_t steps = 0;
  auto outcome = backend.rebuild([&](const MemberBackend::RebuildProgress& p) {
    bar.update(p.member, p.onto, p.rows_done, p.rows_total, chunk);
    if (a.max_rate > 0) {
      const double bytes = double(++steps) * MemberBackend::kRebuildStepRows * double(chunk);
      std::this_thread::sleep_until(began + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                std::chrono::duration<double>(bytes / double(a.max_rate))));
    }
    return true;
  });
  bar.finish();
  if (!outcome) return finish(a, false, Json{{"error", vblk::error_cause(outcome.status(), a.target)}});
  return finish(a, false, vblk::live::rebuild_outcome_json(*outcome));
}

int run_live(const Args& a) {
  auto started = vblk::cli::send_control_json(
      a.target, a.max_rate ? "rebuild " + std::to_string(a.max_rate) : std::string("rebuild"));
  if (!started) return fail(a.target, vblk::cli::error_cause(started.status(), a.target));
  const uint64_t id = (*started)["id"].get<uint64_t>();
  RebuildBar bar(a.out.progress_mode());
  for (;;) {
    auto reply = vblk::cli::send_control_json(a.target, "rebuild status");
    if (!reply) {
      bar.finish();
      return fail(a.target, vblk::cli::error_cause(reply.status(), a.target));
    }
    const Json& status = (*reply)["rebuild"];
    const Json& last = status["last"];
    if (last.is_object() && last["id"].get<uint64_t>() >= id) {
      bar.finish();
      Json body = last;
      body.erase("id");
      return finish(a, true, body);
    }
    const Json& p = status["progress"];
    if (p.is_object())
      bar.update(p["member"].get<uint32_t>(), p["onto"].get<uint32_t>(), p["rows_done"].get<uint64_t>(),
                 p["rows_total"].get<uint64_t>(), p["chunk_size"].get<uint64_t>());
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace

int main(int argc, char** argv) {
  try {
    spdlog::set_level(spdlog::level::off);  // the tool prints its own lines
    CLI::App app{"Rebuild the failed members of a member set onto its hot spares (a stale member\n"
                 "restored with 'vblk-inject IMAGE member N restore' is rebuilt in place). Every\n"
                 "chunk of the failed member is rebuilt from the rest of its stripe (its local\n"
                 "group when it is the only one missing there) and written to the spare, which\n"
                 "then takes the member's place in the member table. IMAGE is rebuilt offline;\n"
                 "on a vblkfs MOUNTPOINT (or an image an NBD server holds) the running daemon\n"
                 "rebuilds while the disk stays in use, and this shows its progress.",
                 kProg};
    Args a;
    app.set_version_flag("--version", std::string(kProg) + " " + VBLK_VERSION, "Print the version and exit");
    app.add_option("TARGET", a.target, "Member-set image, or the vblkfs mountpoint / disk file serving it")
        ->required()
        ->type_name("");
    app.add_flag("-j,--json", a.json, "Print one JSON object instead of text (vblk-rebuild(1), JSON OUTPUT)");
    app.add_option("--rate", a.rate,
                   "Cap the rebuild at RATE bytes written per second (K/M/G suffixes), leaving a live disk more "
                   "of its bandwidth")
        ->type_name("RATE");
    vblk::cli::add_output_options(app, a.out);
    app.footer("Exit status: 0 rebuilt, 1 failed, 2 invalid command line, 3 nothing to rebuild,\n"
               "4 no free spare, 5 a group lost more members than its parity rebuilds. See vblk-rebuild(1).");
    if (auto code = vblk::cli::parse_command_line(app, argc, argv, kProg)) return *code;
    if (!a.rate.empty()) {
      auto rate = vblk::parse_size(a.rate);
      if (!rate || *rate == 0) {
        vblk::cli::report_error(kProg, "", "--rate: '" + a.rate + "' is not a positive size (e.g. 64M)");
        return vblk::cli::kExitUsage;
      }
      a.max_rate = *rate;
    }
    struct stat st {};
    if (::stat(a.target.c_str(), &st) != 0) return fail(a.target, std::strerror(errno));
    if (vblk::cli::is_live_target(a.target)) return run_live(a);
    if (S_ISDIR(st.st_mode)) return fail(a.target, "a directory, but not a vblkfs mountpoint");
    return run_offline(a);
  } catch (...) {
    return vblk::cli::report_current_exception(kProg);
  }
}
