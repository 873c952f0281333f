// The maintenance thread: reclaim and checkpoints off the write path.
//
// Writers only append and apply their records, then wake the thread when
// cleaning or a checkpoint is due (after_change). The thread cleans one
// segment at a time and checkpoints with the bulk of the sync done without
// mu_ (cleaner.cc), so a writer waits for mu_ at most for one record's
// copy, not for a pass of the cleaner or an fdatasync. Should the thread
// fall behind (live data below kUrgentLiveFraction, or four checkpoints'
// worth of log or a full index cache of dirty pages), the writer helps
// inline, which bounds the file's growth and the memory held. Once the
// store is idle, the thread also recompresses provisional records
// (recompress.cc).
#include <spdlog/spdlog.h>

#include <chrono>
#include <exception>
#include <mutex>
#include <string>

#include "store/store_impl.h"

namespace vblk::store {

namespace {

// Runs one maintenance step (a reclaim, a checkpoint, a recompression, a
// punch). Nothing below throws but std::bad_alloc; should it come midway,
// the in-memory accounting is unknown, so the store refuses writes from
// then on, as after a failed sync (broken_): the checkpoint in force and
// the log still hold every acknowledged write, and a reopen recovers them.
// A step that drops the lock does so in a MutexUnlock scope, which takes it
// again as the exception leaves: the catch runs with the lock held.
#define VBLK_CONTAINED(status, step)        \
  try {                                     \
    status = (step);                        \
  } catch (const std::exception& e) {       \
    status = maintenance_stopped_locked(e); \
  }

}  // namespace

Status StoreImpl::maintenance_stopped_locked(const std::exception& e) {
  broken_ = true;
  return Status::io_error(backend_->name() + ": maintenance stopped by " + e.what() +
                          "; writes are refused until the image is reopened");
}

Status StoreImpl::maintenance_turn() {
  if (reuse_pool_idle_locked()) punch_reuse_pool(true);
  if (maint_stop_) return Status::ok();
  Status step = maintain(kCleanLiveFraction, 1);
  // Recompression only while nothing else is due: one step (up to
  // kRecompressThreads segments) per turn.
  if (step && !maint_stop_ && recompress_due_locked()) step = recompress_step();
  return step;
}

void StoreImpl::start_maintenance() {
  if (opts_.read_only || !opts_.background_maintenance || maint_thread_.joinable()) return;
  {
    MutexLock lock(mu_);
    maint_stop_ = false;
  }
  maint_thread_ = std::thread([this] { maintenance_loop(); });
}

void StoreImpl::stop_maintenance() {
  if (!maint_thread_.joinable()) return;
  {
    MutexLock lock(mu_);
    maint_stop_ = true;
  }
  maint_cv_.notify_all();
  maint_thread_.join();
}

bool StoreImpl::maintenance_work_locked() const {
  if (powered_off_ || broken_ || closed_) return false;
  return checkpoint_due_locked() || segments_.count(SegmentState::kReleased) || reuse_pool_idle_locked() ||
         (cleaning_needed_locked(kCleanLiveFraction) && pick_victim_locked()) || recompress_due_locked();
}

void StoreImpl::maintenance_loop() {
  MutexLock lock(mu_);
  while (!maint_stop_) {
    if (!maintenance_work_locked()) {
      // Writers notify whenever cleaning looks due, also when no segment
      // qualifies as a victim; finding that out scans every segment, so an
      // idle thread first rests 10 ms whatever the writers say, which bounds
      // those scans at 100 a second instead of one per write.
      maint_cv_.wait_for(mu_, std::chrono::milliseconds(10), [&]() REQUIRES(mu_) { return maint_stop_; });
      if (!maint_stop_ && !maintenance_work_locked()) maint_cv_.wait_for(mu_, std::chrono::seconds(1));
      continue;
    }
    Status s;
    VBLK_CONTAINED(s, maintenance_turn());
    if (maint_stop_) break;
    if (!s) {
      // A power cut that lands mid-pass is expected; anything else is not.
      if (!s.is_powered_off()) spdlog::error("{}: background maintenance: {}", backend_->name(), s.to_string());
      maint_cv_.wait_for(mu_, std::chrono::seconds(1));
    }
    evict_pages();
  }
}

void StoreImpl::after_change() {
  idle_.note_change();
  Status s;
  if (!maint_thread_.joinable()) {
    VBLK_CONTAINED(s, maintain(kCleanLiveFraction, 8));
  } else {
    const bool behind = cleaning_needed_locked(kUrgentLiveFraction) ||
                        log_.log_since_checkpoint() >= 4 * opts_.checkpoint_log_bytes ||
                        index_.dirty_count() * index_.page_bytes() >= opts_.index_cache_bytes;
    if (behind) {
      VBLK_CONTAINED(s, maintain(kUrgentLiveFraction, 2));
    } else if (checkpoint_due_locked() || cleaning_needed_locked(kCleanLiveFraction)) {
      maint_cv_.notify_one();
    }
  }
  evict_pages();
  // The data is in the log; a failed reclaim or checkpoint is logged but the
  // write itself succeeded and will replay.
  if (!s) spdlog::error("{}: maintenance: {}", backend_->name(), s.to_string());
}

}  // namespace vblk::store
