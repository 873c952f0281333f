// The daemon's background scrub. See scrub.h and vblkfs(1), SCRUB.
#include "live/scrub.h"

#include <linux/ioprio.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace vblk::live {
namespace {

// Work between two looks at the request counter: short, so that a request
// that arrives while the scrub works waits behind at most this much of it.
constexpr auto kSlice = std::chrono::milliseconds(2);
// Rest after a slice during which requests arrived: the scrub then gets at
// most a quarter of the time.
constexpr auto kRestWhileBusy = 3 * kSlice;

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// The scrub thread yields the CPU and the disk to everything else.
void lower_priority() {
  const auto tid = static_cast<id_t>(::syscall(SYS_gettid));
  if (::setpriority(PRIO_PROCESS, tid, 19) != 0) spdlog::debug("scrub: setpriority: {}", std::strerror(errno));
  if (::syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, tid, IOPRIO_PRIO_VALUE(IOPRIO_CLASS_IDLE, 0)) != 0)
    spdlog::debug("scrub: ioprio_set: {}", std::strerror(errno));
}

}  // namespace

std::string to_string(ScrubState s) {
  switch (s) {
    case ScrubState::kNone: return "none";
    case ScrubState::kRunning: return "running";
    case ScrubState::kDone: return "done";
    case ScrubState::kStopped: return "stopped";
    case ScrubState::kFailed: return "failed";
  }
  return "unknown";
}

Scrub::Scrub(ImageStore& store, std::function<uint64_t()> requests)
    : store_(store), requests_(std::move(requests)) {}

Scrub::~Scrub() { stop(); }

bool Scrub::start(uint64_t max_rate, ScrubStatus* status) {
  MutexLock life(lifecycle_mu_);
  {
    MutexLock lock(mu_);
    if (status_.state == ScrubState::kRunning) {
      *status = status_;
      return false;
    }
  }
  if (thread_.joinable()) thread_.join();  // the last scrub, finished
  const DeviceStats st = store_.stats();
  {
    MutexLock lock(mu_);
    const uint64_t id = status_.id + 1;
    status_ = ScrubStatus{};
    status_.state = ScrubState::kRunning;
    status_.id = id;
    status_.max_rate = max_rate;
    status_.started_unix = unix_now();
    status_.blocks_to_check = st.used_blocks - std::min(st.zero_blocks, st.used_blocks);
    stopping_ = false;
    *status = status_;
  }
  thread_ = std::thread([this] { run(); });
  return true;
}

bool Scrub::stop() {
  MutexLock life(lifecycle_mu_);
  bool was_running;
  {
    MutexLock lock(mu_);
    was_running = status_.state == ScrubState::kRunning;
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  return was_running;
}

ScrubStatus Scrub::status() const {
  MutexLock lock(mu_);
  return status_;
}

void Scrub::run() {
  lower_priority();
  uint64_t id;
  {
    MutexLock lock(mu_);
    id = status_.id;
  }
  spdlog::info("scrub {}: started", id);
  began_ = slice_start_ = std::chrono::steady_clock::now();
  slice_requests_ = requests_();
  CheckOptions opts;
  opts.progress = [this](const CheckProgress& p) { return on_progress(p); };
  opts.on_problem = [this](const CheckProblem& p) { on_problem(p); };
  Result<CheckReport> report = store_.check(opts);

  MutexLock lock(mu_);
  status_.finished_unix = unix_now();
  if (!report) {
    status_.state = ScrubState::kFailed;
    status_.error = report.status().to_string();
    spdlog::error("scrub {}: failed: {}", id, status_.error);
  } else if (report->stopped) {
    status_.state = ScrubState::kStopped;
    spdlog::info("scrub {}: stopped after {} records", id, report->records_checked);
  } else {
    status_.state = ScrubState::kDone;
    status_.progress.records_checked = report->records_checked;
    status_.progress.blocks_checked = report->blocks_checked;
    spdlog::log(report->clean() ? spdlog::level::info : spdlog::level::warn,
                "scrub {}: done: {} records, {} blocks checked, {} problems", id, report->records_checked,
                report->blocks_checked, report->problems.size());
  }
}

bool Scrub::on_progress(const CheckProgress& p) {
  uint64_t max_rate;
  {
    MutexLock lock(mu_);
    status_.progress = p;
    if (stopping_) return false;
    max_rate = status_.max_rate;
  }
  const auto now = std::chrono::steady_clock::now();
  if (max_rate > 0) {
    const auto due = began_ + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                  std::chrono::duration<double>(static_cast<double>(p.bytes_read) /
                                                                static_cast<double>(max_rate)));
    if (due > now && !rest(due - now)) return false;
  }
  if (std::chrono::steady_clock::now() - slice_start_ < kSlice) return true;
  const uint64_t requests = requests_();
  if (requests != slice_requests_) {
    if (!rest(kRestWhileBusy)) return false;
  } else {
    std::this_thread::yield();
  }
  slice_start_ = std::chrono::steady_clock::now();
  slice_requests_ = requests_();
  return true;
}

void Scrub::on_problem(const CheckProblem& p) {
  MutexLock lock(mu_);
  status_.problem_count++;
  if (p.has_block) status_.damaged_blocks++;
  if (status_.problems.size() < kListedProblems) status_.problems.push_back(p);
}

bool Scrub::rest(std::chrono::steady_clock::duration d) {
  MutexLock lock(mu_);
  return !wake_.wait_for(mu_, d, [this]() REQUIRES(mu_) { return stopping_; });
}

}  // namespace vblk::live
