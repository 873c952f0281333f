#include "driver/block_range_lock.h"

#include <limits>

namespace vblk::driver {

BlockRangeLock::Guard::Guard(BlockRangeLock& lock, uint64_t first, uint64_t count) : lock_(lock) {
  if (count == 0) return;
  active_ = true;
  first_ = first;
  last_ = count - 1 > std::numeric_limits<uint64_t>::max() - first ? std::numeric_limits<uint64_t>::max()
                                                                    : first + (count - 1);
  MutexLock lk(lock_.mu_);
  prev_ = lock_.tail_;
  (prev_ ? prev_->next_ : lock_.head_) = this;
  lock_.tail_ = this;
  granted_ = lock_.clear_ahead(*this);
  if (granted_) return;
  try {
    cv_.emplace();
  } catch (...) {
    // The lock was held since this request joined the list: it is still
    // the last one, and nothing waits for it.
    unlink();
    throw;
  }
  cv_->wait(lock_.mu_, [&] { return granted_; });
}

void BlockRangeLock::Guard::unlink() {
  (prev_ ? prev_->next_ : lock_.head_) = next_;
  (next_ ? next_->prev_ : lock_.tail_) = prev_;
}

BlockRangeLock::Guard::~Guard() {
  if (!active_) return;
  MutexLock lk(lock_.mu_);
  unlink();
  // Only a later request that overlapped this one can have been waiting for
  // it; it goes in when nothing else ahead of it overlaps.
  for (Guard* g = next_; g; g = g->next_) {
    if (!g->granted_ && g->overlaps(*this) && lock_.clear_ahead(*g)) {
      g->granted_ = true;
      g->cv_->notify_one();  // not granted: it waits
    }
  }
}

bool BlockRangeLock::clear_ahead(const Guard& g) const {
  for (const Guard* a = head_; a && a != &g; a = a->next_)
    if (a->overlaps(g)) return false;
  return true;
}

size_t BlockRangeLock::in_flight() const {
  MutexLock lk(mu_);
  size_t n = 0;
  for (const Guard* g = head_; g; g = g->next_) ++n;
  return n;
}

}  // namespace vblk::driver
