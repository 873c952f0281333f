// The write path: writes (group commit in group_commit.cc), trims, BAD
// marks, flushes and explicit checkpoints.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "format/unit_table.h"
#include "store/store_impl.h"

namespace vblk::store {

using format::IndexEntry;
using format::RecordHeader;
using format::RecordType;

Status StoreImpl::write_blocks(uint64_t first, std::span<const uint8_t> data) {
  const uint32_t bs = sb_.block_size;
  if (data.size() % bs) return Status::invalid_argument("write buffer is not a whole number of blocks");
  const uint64_t count = data.size() / bs;
  idle_.note_request();
  {
    MutexLock lock(mu_);
    VBLK_RETURN_IF_ERROR(check_writable());
    VBLK_RETURN_IF_ERROR(check_range(first, count));
    if (auto bad = bad_.first_in(first, count))
      return Status::bad_block("block " + std::to_string(*bad) + " is BAD");
  }
  // Compression runs without the lock so writers compress in parallel.
  std::vector<PendingRecord> records = build_data_records(first, data, write_level_);
  // Group commit (group_commit.cc): queue up; the front of the queue
  // appends for everyone queued behind it by the time it holds mu_.
  constexpr size_t kMaxBatchWrites = 64;
  WriteWaiter self;
  self.first = first;
  self.count = count;
  self.records = &records;
  // A write of one record (4 KiB random writes) takes mu_ itself: queueing
  // costs each follower a sleep and a wake-up, and the leader hand-over
  // serialises on them; with many server threads on few cores (nbdkit's 16
  // per connection, several connections) that costs more than the host
  // writes it saves (bench/README.md, "Figures behind design choices").
  // Writes of several records still batch.
  if (records.size() == 1) {
    MutexLock lock(mu_);
    commit_writes_locked({&self});
    after_change();
    return self.status;
  }
  {
    MutexLock queue(queue_mu_);
    write_queue_.push_back(&self);
    self.cv.wait(queue_mu_, [&]() REQUIRES(queue_mu_) { return self.done || write_queue_.front() == &self; });
    if (self.done) return self.status;
  }
  // The leader. While it waits for mu_ (held by the previous batch's write
  // or by maintenance), later writers queue up behind it.
  MutexLock lock(mu_);
  std::vector<WriteWaiter*> batch;
  {
    MutexLock queue(queue_mu_);
    while (!write_queue_.empty() && batch.size() < kMaxBatchWrites) {
      batch.push_back(write_queue_.front());
      write_queue_.pop_front();
    }
  }
  commit_writes_locked(batch);
  {
    MutexLock queue(queue_mu_);
    for (WriteWaiter* w : batch) {
      if (w == &self) continue;
      w->done = true;
      w->cv.notify_one();
    }
    if (!write_queue_.empty()) write_queue_.front()->cv.notify_one();
  }
  after_change();
  return self.status;
}

Status StoreImpl::append_range_records(RecordType type, uint64_t first, uint64_t count) {
  // Payload-free records covering a block range, split so `count` fits u32.
  constexpr uint64_t kMaxRangeBlocks = 1u << 30;
  for (uint64_t done = 0; done < count;) {
    PendingRecord rec;
    rec.header.type = type;
    rec.header.first = first + done;
    rec.header.count = static_cast<uint32_t>(std::min(count - done, kMaxRangeBlocks));
    rec.continues_call = done > 0;
    VBLK_RETURN_IF_ERROR(append_and_apply(rec));
    done += rec.header.count;
  }
  return Status::ok();
}

Status StoreImpl::trim_blocks(uint64_t first, uint64_t count) {
  idle_.note_request();
  MutexLock lock(mu_);
  VBLK_RETURN_IF_ERROR(check_writable());
  VBLK_RETURN_IF_ERROR(check_range(first, count));
  if (count == 0) return Status::ok();
  VBLK_RETURN_IF_ERROR(append_range_records(RecordType::kTrim, first, count));
  after_change();
  return Status::ok();
}

Status StoreImpl::set_bad(uint64_t first, uint64_t count, bool bad) {
  MutexLock lock(mu_);
  VBLK_RETURN_IF_ERROR(check_writable());
  VBLK_RETURN_IF_ERROR(check_range(first, count));
  VBLK_RETURN_IF_ERROR(append_range_records(bad ? RecordType::kBadSet : RecordType::kBadClear, first, count));
  evict_pages();
  return Status::ok();
}

Status StoreImpl::flush() {
  bool due;
  uint64_t upto, epoch;
  {
    MutexLock lock(mu_);
    if (opts_.read_only) return Status::ok();
    VBLK_RETURN_IF_ERROR(check_writable());
    due = checkpoint_due_locked();
    upto = log_.next_seq() - 1;
    epoch = power_epoch_;
  }
  if (due && !maint_thread_.joinable()) {
    MutexLock lock(mu_);
    return checkpoint_presynced();
  }
  if (due) maint_cv_.notify_one();
  // Every write acknowledged before this call is already in the host file's
  // page cache; fdatasync makes it durable without holding up other I/O.
  Status synced = sync_file();
  uint64_t marker = 0;
  {
    MutexLock lock(mu_);
    VBLK_RETURN_IF_ERROR(after_flush_sync_locked(synced, upto, epoch));
    // The FLUSH record that says so must be durable too before the flush
    // returns: replay trusts only a claim it finds on disk (vblk(5) RECOVERY).
    auto appended = append_flush_records_locked(upto);
    if (!appended) return appended.status().with_prefix(backend_->name() + ": flush: writing the flush record");
    marker = *appended;
  }
  if (marker == 0) return Status::ok();
  synced = sync_file();
  MutexLock lock(mu_);
  return after_flush_sync_locked(synced, marker, epoch);
}

Status StoreImpl::after_flush_sync_locked(const Status& synced, uint64_t durable_seq, uint64_t epoch) {
  if (!synced) {
    // After a failed fdatasync Linux may have dropped the dirty pages and
    // a later fdatasync succeeds without writing them: no later flush
    // could honestly promise durability. Refuse writes until reopened.
    break_after_failed_sync_locked();
    return synced;
  }
  // A power cut while the sync ran dropped what this flush covers.
  if (epoch != power_epoch_) return Status::powered_off(backend_->name() + ": a power cut interrupted the flush");
  log_.mark_durable(durable_seq);
  return Status::ok();
}

Status StoreImpl::checkpoint() {
  MutexLock lock(mu_);
  VBLK_RETURN_IF_ERROR(checkpoint_locked());
  // What this checkpoint released is punched now, not at the next pass of
  // the maintenance thread: the caller may be about to measure the file.
  if (segments_.count(SegmentState::kReleased)) punch_released(true, false);
  punch_reuse_pool(false);
  return Status::ok();
}

}  // namespace vblk::store
