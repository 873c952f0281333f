#pragma once
// Scrub: verifies every stored record of a mounted image (ImageStore::check)
// on a background thread of the daemon, beside live requests, as
// `zpool scrub` does. Started and read through the control interface
// (`scrub` written to user.vblk.control, the "scrub" object of
// user.vblk.stats; vblkfs(1), SCRUB).
//
// The thread runs at the lowest CPU and I/O priority and paces itself: it
// works in short slices, and after a slice during which requests arrived it
// rests three times as long, so that a busy disk gives it at most a quarter
// of the time; an idle disk is scrubbed at full speed. An optional rate caps
// the record bytes read per second. stop() ends a scrub within one record.
// Thread safety: every method may be called from any thread.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "util/mutex.h"
#include "vblk/image_store.h"

namespace vblk::live {

enum class ScrubState { kNone, kRunning, kDone, kStopped, kFailed };
std::string to_string(ScrubState s);

struct ScrubStatus {
  ScrubState state = ScrubState::kNone;
  uint64_t id = 0;                 // scrubs started since the mount, 0 before the first
  uint64_t max_rate = 0;           // record bytes per second; 0: no cap
  double started_unix = 0;         // 0 before the first
  double finished_unix = 0;        // 0 while running
  CheckProgress progress;
  uint64_t blocks_to_check = 0;    // USED blocks with stored data when it started
  uint64_t problem_count = 0;      // problems found so far
  uint64_t damaged_blocks = 0;     // of them, those naming a block
  std::vector<CheckProblem> problems;  // the first kListedProblems, in the order found
  std::string error;               // kFailed: why the check could not run
};

class Scrub {
 public:
  static constexpr size_t kListedProblems = 64;

  // `requests` returns the number of requests served so far (pacing).
  Scrub(ImageStore& store, std::function<uint64_t()> requests);
  Scrub(const Scrub&) = delete;
  Scrub& operator=(const Scrub&) = delete;
  ~Scrub();  // stop()

  // Starts a scrub capped at max_rate bytes per second (0: no cap) unless
  // one is running. Returns true if this call started it; *status is the
  // state after the call (the running scrub's id either way).
  bool start(uint64_t max_rate, ScrubStatus* status) EXCLUDES(lifecycle_mu_, mu_);
  // Stops a running scrub and waits for its thread. False when none ran.
  bool stop() EXCLUDES(lifecycle_mu_, mu_);
  ScrubStatus status() const EXCLUDES(mu_);

 private:
  void run() EXCLUDES(mu_);
  // CheckOptions::progress: records progress, paces; false to stop.
  bool on_progress(const CheckProgress& p) EXCLUDES(mu_);
  void on_problem(const CheckProblem& p) EXCLUDES(mu_);
  // Sleeps for d, or until stop() is called. False when stopping.
  bool rest(std::chrono::steady_clock::duration d) EXCLUDES(mu_);

  ImageStore& store_;
  const std::function<uint64_t()> requests_;

  // Only the scrub thread touches these, while it runs.
  std::chrono::steady_clock::time_point began_;        // of the check, for the rate cap
  std::chrono::steady_clock::time_point slice_start_;
  uint64_t slice_requests_ = 0;

  // Lock order: lifecycle_mu_, then mu_. The scrub thread takes only mu_,
  // so start() and stop() may join it while holding lifecycle_mu_.
  Mutex lifecycle_mu_ ACQUIRED_BEFORE(mu_);  // serializes start() and stop()
  std::thread thread_ GUARDED_BY(lifecycle_mu_);
  mutable Mutex mu_;
  std::condition_variable_any wake_;  // waits on mu_; stop() wakes a resting thread
  bool stopping_ GUARDED_BY(mu_) = false;
  ScrubStatus status_ GUARDED_BY(mu_);
};

}  // namespace vblk::live
