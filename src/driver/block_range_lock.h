#pragma once
// BlockRangeLock: exclusive locks on ranges of blocks. Two holders conflict
// only when their ranges share a block; requests whose ranges overlap are
// granted in the order they arrived (no request waits behind a later one,
// so none starves), and a request that overlaps nothing goes straight in.
//
// Why not mutexes striped by region: the driver holds its lock while the
// device compresses the data, and a 1 MiB write that is not aligned to the
// regions shares its first and last region with the writes next to it. The
// kernel writes a file back as a run of adjacent requests, so with stripes
// those requests compressed one after the other instead of side by side
// (the figures: bench/README.md, "Figures behind design choices").
//
// Cost: one short critical section on one mutex to acquire and one to
// release, scanning the requests in flight (at most one per thread of the
// session loop, plus the device facade's callers). Waiting is on a
// condition variable of the request's own, so a release wakes only the
// requests it lets in. It is made only when the request has to wait: a
// std::condition_variable_any (the kind that waits on a vblk::Mutex)
// allocates, which would double the cost of a request that goes straight in.
#include <condition_variable>
#include <cstdint>
#include <optional>

#include "util/mutex.h"

namespace vblk::driver {

class BlockRangeLock {
 public:
  BlockRangeLock() = default;
  BlockRangeLock(const BlockRangeLock&) = delete;
  BlockRangeLock& operator=(const BlockRangeLock&) = delete;

  // Holds blocks [first, first + count) from construction until destruction.
  // count == 0 holds nothing and never waits. A range running past the last
  // uint64_t block is clamped. REQUIRES: the thread holds no guard whose range
  // overlaps this one (that would wait forever, as a second lock of a mutex).
  // Throws std::bad_alloc, holding nothing, when a request that has to wait
  // cannot get its condition variable.
  class Guard {
   public:
    Guard(BlockRangeLock& lock, uint64_t first, uint64_t count) EXCLUDES(lock.mu_);
    ~Guard();
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;

   private:
    friend class BlockRangeLock;
    bool overlaps(const Guard& other) const { return first_ <= other.last_ && other.first_ <= last_; }
    // Takes this request out of the list.
    void unlink() REQUIRES(lock_.mu_);

    BlockRangeLock& lock_;
    // Set before the request joins the list, constant after.
    uint64_t first_ = 0, last_ = 0;  // inclusive
    bool active_ = false;            // false for count == 0
    // The rest is guarded by lock_.mu_. It is not annotated GUARDED_BY: the
    // code walks the list from one request to the next, and the analysis
    // cannot tell that another request's lock_ is this one's.
    bool granted_ = false;
    std::optional<std::condition_variable_any> cv_;  // made when the request waits
    // Requests in arrival order, held or waiting (intrusive list).
    Guard* prev_ = nullptr;
    Guard* next_ = nullptr;
  };

  // Requests in flight (held or waiting); for tests.
  size_t in_flight() const EXCLUDES(mu_);

 private:
  // True when no request that arrived before g overlaps it.
  bool clear_ahead(const Guard& g) const REQUIRES(mu_);

  mutable Mutex mu_;
  Guard* head_ GUARDED_BY(mu_) = nullptr;
  Guard* tail_ GUARDED_BY(mu_) = nullptr;
};

}  // namespace vblk::driver
