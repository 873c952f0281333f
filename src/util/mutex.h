#pragma once
// A std::mutex that clang's thread-safety analysis knows (see
// thread_annotations.h), and a scoped lock for it. A function that must
// drop the lock for a while (I/O, compression) is declared REQUIRES(mu)
// and calls mu.unlock() ... mu.lock() itself; the analysis then checks it
// holds the lock again before it returns. Wait on a Mutex with
// std::condition_variable_any (it takes any lockable).

#include <atomic>
#include <cassert>
#include <mutex>
#include <thread>

#include "util/thread_annotations.h"

namespace vblk {

class CAPABILITY("mutex") Mutex {
 public:
  void lock() ACQUIRE() {
    mu_.lock();
    owner_.store(std::this_thread::get_id(), std::memory_order_relaxed);
  }
  // Unlocking a mutex this thread does not hold is caught here (assert),
  // not left to std::mutex, which does not check.
  void unlock() RELEASE() {
    assert(held_by_me());
    owner_.store(std::thread::id(), std::memory_order_relaxed);
    mu_.unlock();
  }
  bool try_lock() TRY_ACQUIRE(true) {
    if (!mu_.try_lock()) return false;
    owner_.store(std::this_thread::get_id(), std::memory_order_relaxed);
    return true;
  }
  // Tells the analysis the caller holds it (where it cannot see that, e.g.
  // in a callback run under the lock), and checks it (assert).
  void assert_held() const ASSERT_CAPABILITY(this) { assert(held_by_me()); }

 private:
  bool held_by_me() const { return owner_.load(std::memory_order_relaxed) == std::this_thread::get_id(); }

  std::mutex mu_;
  std::atomic<std::thread::id> owner_{};
};

// Holds a Mutex for its scope.
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  ~MutexLock() RELEASE() { mu_.unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex& mu_;
};

// Releases a held Mutex for its scope and takes it again when the scope
// ends, also when an exception leaves it: code after the scope, and every
// catch outside it, runs with the lock held.
class SCOPED_CAPABILITY MutexUnlock {
 public:
  explicit MutexUnlock(Mutex& mu) RELEASE(mu) : mu_(mu) { mu_.unlock(); }
  ~MutexUnlock() RELEASE() { mu_.lock(); }
  MutexUnlock(const MutexUnlock&) = delete;
  MutexUnlock& operator=(const MutexUnlock&) = delete;

 private:
  Mutex& mu_;
};

}  // namespace vblk
