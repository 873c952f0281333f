#pragma once
// Time for the store's idle rules that only the test moves
// (OpenOptions::clock), and waiting for what the store's own thread does.
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <thread>

namespace vblk::test {

class ManualClock {
 public:
  // For OpenOptions::clock; stays valid after the ManualClock is gone.
  std::function<std::chrono::steady_clock::time_point()> fn() const {
    return [start = start_, offset = offset_ms_] { return start + std::chrono::milliseconds(offset->load()); };
  }
  void advance(std::chrono::milliseconds d) { *offset_ms_ += d.count(); }

 private:
  const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  const std::shared_ptr<std::atomic<int64_t>> offset_ms_ = std::make_shared<std::atomic<int64_t>>(0);
};

// Polls `done` until it holds or `limit` of real time has passed; whether
// it holds. The limit only bounds a failing test: it is not what is tested.
template <typename Pred>
bool wait_until(Pred done, std::chrono::seconds limit = std::chrono::seconds(60)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

}  // namespace vblk::test
