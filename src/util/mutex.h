#pragma once
// A std::mutex that clang's thread-safety analysis knows (see
// thread_annotations.h), and a scoped lock for it. A function that must
// drop the lock for a while (I/O, compression) is declared REQUIRES(mu)
// and calls mu.unlock() ... mu.lock() itself; the analysis then checks it
// holds the lock again before it returns. Wait on a Mutex with
// std::condition_variable_any (it takes any lockable).

#include <mutex>

#include "util/thread_annotations.h"

namespace vblk {

class CAPABILITY("mutex") Mutex {
 public:
  void lock() ACQUIRE() { mu_.lock(); }
  void unlock() RELEASE() { mu_.unlock(); }
  bool try_lock() TRY_ACQUIRE(true) { return mu_.try_lock(); }
  // Tells the analysis the caller holds it (where it cannot see that, e.g.
  // in a callback run under the lock).
  void assert_held() const ASSERT_CAPABILITY(this) {}

 private:
  std::mutex mu_;
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
