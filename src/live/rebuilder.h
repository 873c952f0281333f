#pragma once
// Rebuilder: a served member set's rebuilds (store/member_backend.h,
// MemberBackend::rebuild) on a thread of the daemon, beside live requests.
// Started through the control interface ("rebuild" written to
// user.vblk.control; vblk-rebuild MOUNTPOINT does that and then polls
// "rebuild status"), and, with auto-rebuild on, by itself: every second it
// asks the backend whether a member has failed while a spare of its word
// is free, and rebuilds when so. A rebuild that was refused (a lost group)
// is not tried again until the member table changes. The backend works in
// bounded steps, so requests wait behind at most a few rows.
// Thread safety: every method may be called from any thread.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "store/member_backend.h"
#include "util/json.h"
#include "util/mutex.h"

namespace vblk::live {

// What a rebuild did, as vblk-rebuild(1), JSON OUTPUT gives it (without
// "schema", "image" and "live"): "rebuilt", "refused", "refusal",
// "stopped", "message".
Json rebuild_outcome_json(const store::MemberBackend::RebuildOutcome& o);
// One line per rebuilt member and per refusal.
std::string rebuild_outcome_text(const store::MemberBackend::RebuildOutcome& o);
// "nothing_to_rebuild", "no_free_spare", "lost"; "" for kNone.
std::string refusal_name(store::MemberBackend::RebuildRefusal r);

class Rebuilder {
 public:
  // `name`: the image, for the log. auto_rebuild: watch for failures.
  Rebuilder(store::MemberBackend& backend, std::string name, bool auto_rebuild);
  Rebuilder(const Rebuilder&) = delete;
  Rebuilder& operator=(const Rebuilder&) = delete;
  ~Rebuilder();  // stop()

  // Asks for a rebuild, capped at max_rate bytes written per second (0: no
  // cap; a busy disk keeps more of its bandwidth). Returns its id (runs
  // since the mount, from 1) and whether this call started it (false: one
  // was running, whose id it is).
  std::pair<uint64_t, bool> start(uint64_t max_rate = 0) EXCLUDES(mu_);
  // {"running", "id", "progress" (member, onto, rows_done, rows_total, or
  // null), "last" (the last finished run: "id" and its outcome, or null),
  // "auto_rebuild"}.
  Json status() const EXCLUDES(mu_);
  // Ends a running rebuild at its next step (the table keeps how far it
  // got) and the thread. At unmount, before the image closes.
  void stop() EXCLUDES(mu_);

 private:
  void run() EXCLUDES(mu_);
  void rebuild_once(uint64_t id, uint64_t max_rate) EXCLUDES(mu_);

  store::MemberBackend& backend_;
  const std::string name_;
  const bool auto_;
  mutable Mutex mu_;
  std::condition_variable_any wake_;  // waits on mu_
  bool stopping_ GUARDED_BY(mu_) = false;
  bool requested_ GUARDED_BY(mu_) = false;
  uint64_t requested_rate_ GUARDED_BY(mu_) = 0;
  bool running_ GUARDED_BY(mu_) = false;
  uint64_t runs_ GUARDED_BY(mu_) = 0;
  uint64_t refused_generation_ GUARDED_BY(mu_) = 0;  // table generation of the last refused auto run
  Json progress_ GUARDED_BY(mu_);
  Json last_ GUARDED_BY(mu_);
  std::thread thread_;  // started in the constructor, joined by stop()
};

}  // namespace vblk::live
