#pragma once
// When the store last saw a request and a change, on the clock of its idle
// rules (OpenOptions::clock; steady_clock unless a test drives time):
// deferred compression waits for a spell without requests, the reuse pool
// for one without changes. Lock-free: requests come from every thread.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <utility>

namespace vblk::store {

class IdleClock {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  explicit IdleClock(Clock clock) : clock_(std::move(clock)), last_request_ns_(now_ns()) {}

  // A request arrived. Every read and write calls it, so the time is stored
  // only when it has moved by 10 ms: the idle rules need a second's
  // precision, not a cache line written by every request on every core.
  void note_request() {
    const int64_t now = now_ns();
    if (now - last_request_ns_.load(std::memory_order_relaxed) >= kRequestStepNs)
      last_request_ns_.store(now, std::memory_order_relaxed);
  }
  // A write or trim changed what the disk holds.
  void note_change() { last_change_ns_.store(now_ns(), std::memory_order_relaxed); }

  bool no_request_for(std::chrono::milliseconds quiet) const {
    return now_ns() - last_request_ns_.load(std::memory_order_relaxed) >= to_ns(quiet);
  }
  // True before the first change: nothing changed for as long as can be told.
  bool no_change_for(std::chrono::milliseconds quiet) const {
    return now_ns() - last_change_ns_.load(std::memory_order_relaxed) >= to_ns(quiet);
  }

 private:
  static constexpr int64_t kRequestStepNs = 10'000'000;
  static int64_t to_ns(std::chrono::milliseconds d) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
  }
  int64_t now_ns() const {
    const auto now = clock_ ? clock_() : std::chrono::steady_clock::now();
    return std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
  }

  const Clock clock_;
  std::atomic<int64_t> last_request_ns_;
  std::atomic<int64_t> last_change_ns_{0};
};

}  // namespace vblk::store
