// vblk-inspect --check: verifies an image (ImageStore::check), or asks the
// server of a live target for a scrub and waits for it; --check --repair
// repairs an image and checks it again. Both report the same way.
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <optional>
#include <thread>

#include <nlohmann/json.hpp>

#include "cli/interrupt.h"
#include "cli/json_output.h"
#include "cli/live.h"
#include "cli/report.h"
#include "inspect/inspect.h"
#include "store/member_set_open.h"
#include "util/check_json.h"

namespace vblk::cli::inspect {
namespace {

// Prints a check's findings and returns the exit status. `unlisted`:
// problems found but not in r.problems (a live scrub lists the first ones).
int print_check_report(const CheckReport& r, uint64_t unlisted, const Args& a) {
  const uint64_t found = r.problems.size() + unlisted;
  if (a.json) {
    Json j = json_document(kInspectSchema);
    j["clean"] = found == 0;
    j["records_checked"] = r.records_checked;
    j["blocks_checked"] = r.blocks_checked;
    j["problems"] = check_problems_json(r.problems);
    if (unlisted) j["unlisted_problems"] = unlisted;
    print_json(j);
  } else {
    for (const CheckProblem& p : r.problems) {
      std::string text = p.has_block ? about_block(p.block, p.what)
                                     : (p.what.find("offset") != std::string::npos
                                            ? p.what
                                            : "offset " + std::to_string(p.file_offset) + ": " + p.what);
      std::printf("%s\n", text.c_str());
    }
    if (unlisted) std::printf("and %llu more problems\n", static_cast<unsigned long long>(unlisted));
    if (found == 0 && !a.output.quiet) {
      std::printf("check: clean, %llu records, %llu blocks verified\n",
                  static_cast<unsigned long long>(r.records_checked),
                  static_cast<unsigned long long>(r.blocks_checked));
    }
  }
  std::fflush(stdout);
  if (found) {
    return fail(a.image, "check found " + std::to_string(found) + (found == 1 ? " problem" : " problems") + " (" +
                             std::to_string(r.records_checked) + " records, " + std::to_string(r.blocks_checked) +
                             " blocks checked)");
  }
  return 0;
}

// The server's statistics, which must hold a scrub.
Result<live::LiveStats> read_stats_with_scrub(const std::string& target) {
  auto stats = read_live_stats(target);
  if (!stats) return stats.status();
  if (!stats->scrub)
    return Status::not_supported(target + ": this vblkfs daemon cannot scrub (remount with a newer vblkfs)");
  return stats;
}

// A finished scrub's result, reported as an offline check is.
int report_scrub(const live::ScrubStatus& sc, const Args& a) {
  if (sc.state == live::ScrubState::kDone) {
    CheckReport r;
    r.records_checked = sc.progress.records_checked;
    r.blocks_checked = sc.progress.blocks_checked;
    r.problems = sc.problems;
    const uint64_t listed = sc.problems.size();
    return print_check_report(r, sc.problem_count - std::min(listed, sc.problem_count), a);
  }
  if (sc.state == live::ScrubState::kFailed) return fail(a.image, "the scrub failed: " + sc.error);
  return fail(a.image, "the scrub was stopped before it finished (" + std::to_string(sc.progress.blocks_checked) +
                           " of " + std::to_string(sc.blocks_to_check) + " blocks checked)");
}

// Starts a scrub, returning its id: "scrub N started: ..." or "scrub N
// already running: ..." (the one running is joined).
Result<uint64_t> start_scrub(const std::string& target) {
  auto reply = send_control(target, "scrub");
  if (!reply) {
    if (reply.status().code() == Status::Code::kReadOnly)
      return Status::read_only(
          "the disk is mounted read-only, so the daemon cannot be asked to scrub; a read-only "
          "mount shares the image: run vblk-inspect IMAGE --check on the image itself");
    return reply.status();
  }
  uint64_t id = 0;
  if (std::sscanf(reply->c_str(), "scrub %" SCNu64, &id) != 1 || id == 0)
    return Status::invalid_argument("unexpected reply to 'scrub': " + *reply);
  return id;
}

}  // namespace

int run_check(ImageStore& store, const Args& a) {
  // The bar counts index pages checked, scaled to the image file's size so
  // that its rate reads as the image's bytes per second.
  struct stat st {};
  const uint64_t file_bytes = ::stat(a.image.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  Progress progress("checking " + a.image, std::max<uint64_t>(file_bytes, 1), a.output.progress_mode());
  CheckOptions opts;
  opts.progress = [&](const CheckProgress& p) {
    if (p.index_pages_total > 0)
      progress.update(
          static_cast<uint64_t>(static_cast<double>(file_bytes) * static_cast<double>(p.index_pages_checked) /
                                static_cast<double>(p.index_pages_total)));
    return true;
  };
  auto rep = store.check(opts);
  progress.finish();
  if (!rep) return fail(a.image, "check failed: " + error_cause(rep.status(), a.image));
  if (store.info().incompat_features & format::kFeatureMemberSet) {
    if (Status s = check_member_parity(a.image, /*rewrite=*/false, &rep.value(), nullptr); !s)
      return fail(a.image, "parity check failed: " + error_cause(s, a.image));
  }
  return print_check_report(rep.value(), 0, a);
}

Status check_member_parity(const std::string& image, bool rewrite, CheckReport* report,
                           std::vector<std::string>* rewritten) {
  auto backend = store::open_member_set_path(image, /*read_only=*/!rewrite);
  if (!backend) return backend.status();
  auto parity = (*backend)->check_parity(rewrite);
  if (!parity) return parity.status();
  for (const std::string& cause : parity->unreadable)
    report->problems.push_back(CheckProblem{false, 0, 0, "parity not checked: " + cause});
  for (const auto& mm : parity->mismatches) {
    const ec::Member m = (*backend)->layout().member(mm.member);
    const std::string which = m.role == ec::Role::kLocalParity ? "local parity of group " + std::to_string(m.group)
                                                                : "global parity";
    CheckProblem p;
    p.file_offset = mm.offset;
    p.what = "member " + std::to_string(mm.member) + " offset " + std::to_string(mm.offset) + ": stripe " +
             std::to_string(mm.stripe) + " (segment " + std::to_string(mm.segment) + " row " +
             std::to_string(mm.row) + "): " + which + (mm.tail ? " in the tail slot" : "") +
             " differs from the data" + (mm.rewritten ? "; rewritten from the data" : "");
    // Parity written again from the data is no longer a problem.
    if (mm.rewritten && rewritten) {
      rewritten->push_back(p.what);
      continue;
    }
    report->problems.push_back(std::move(p));
  }
  return Status::ok();
}

// Opens the image for repair (exclusively: it writes), repairs it, says what
// it did, and checks it again; 0 once it is clean (vblk(5) REPAIR).
int run_repair(const Args& a) {
  OpenOptions o;
  o.repair = true;
  auto store = ImageStore::open(a.image, o);
  if (!store) return fail(a.image, busy_cause(store.status(), a.image, "unmount it first"));
  auto rep = (*store)->repair();
  if (!rep) return fail(a.image, "repair failed: " + error_cause(rep.status(), a.image));
  const bool member_set = (*store)->info().incompat_features & format::kFeatureMemberSet;
  if (Status closed = (*store)->close(); !closed) return fail(a.image, error_cause(closed, a.image));
  store->reset();
  if (member_set && rep->clean) {
    // Every record verifies: parity that disagrees with the data is what
    // is wrong, and is written again from it.
    CheckReport left;
    if (Status s = check_member_parity(a.image, /*rewrite=*/true, &left, &rep->actions); !s)
      return fail(a.image, "parity repair failed: " + error_cause(s, a.image));
    rep->clean = left.problems.empty();
  }
  if (a.json) {
    Json j = json_document(kInspectSchema);
    j["actions"] = rep->actions;
    j["bad_blocks"] = rep->bad_blocks;
    j["clean"] = rep->clean;
    print_json(j);
  } else if (!a.output.quiet) {
    for (const std::string& act : rep->actions) std::printf("repair: %s\n", act.c_str());
    if (rep->actions.empty()) std::printf("repair: nothing to do\n");
  }
  std::fflush(stdout);
  if (!rep->clean) return fail(a.image, "repair left problems that it cannot fix; see vblk-inspect --check");
  if (a.json) return 0;
  // What a check of the repaired image says, as --check would.
  Args check = a;
  check.repair = false;
  auto image = inject::open_with_rules(a.image, /*read_only=*/true);
  if (!image) return fail(a.image, error_cause(image.status(), a.image));
  const int rc = run_check(*image->store, check);
  (void)image->store->close();
  return rc;
}

int run_live_check(const Args& a) {
  auto id = start_scrub(a.image);
  if (!id) return fail(a.image, error_cause(id.status(), a.image));
  install_interrupt_handlers(/*restart_syscalls=*/false);
  std::optional<Progress> progress;
  while (true) {
    auto stats = read_stats_with_scrub(a.image);
    if (!stats) return fail(a.image, "during the scrub: " + error_cause(stats.status(), a.image));
    const live::ScrubStatus& sc = *stats->scrub;
    if (sc.id != *id)
      return fail(a.image, "scrub " + std::to_string(*id) + " was replaced by scrub " + std::to_string(sc.id) +
                               " before its result was read; run --check again");
    if (sc.state != live::ScrubState::kRunning) {
      if (progress) progress->finish();
      return report_scrub(sc, a);
    }
    // The bar counts the bytes of the blocks checked (blocks written since
    // the start may make it end short of or past 100%).
    const uint64_t bs = stats->block_size;
    if (!progress)
      progress.emplace("scrubbing " + a.image, std::max<uint64_t>(1, sc.blocks_to_check) * bs,
                       a.output.progress_mode());
    progress->update(std::min(sc.progress.blocks_checked, sc.blocks_to_check) * bs);
    for (int i = 0; i < 4; ++i) {
      if (interrupted())
        return fail(a.image,
                    "interrupted; the scrub goes on in the daemon (stop it with: setfattr -n "
                    "user.vblk.control -v 'scrub stop' " +
                        a.image + ")");
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
}

}  // namespace vblk::cli::inspect
