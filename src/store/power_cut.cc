// Durability tracking and the simulated power cut (vblk-inject powercut).
//
// A disk with a volatile write cache loses, when power fails, every write
// that no flush has made durable. Here those are the records appended since
// the last successful flush or checkpoint (LogWriter::unsynced()). Their bytes may well
// be in the host file already, so "losing" them means cutting the log before
// the first of them: its header is zeroed and synced, and replay, which
// accepts only the record with the next sequence number, ends there. Later
// records cannot be reached either: each carries a higher sequence number.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "store/store_impl.h"

namespace vblk::store {

Status StoreImpl::check_powered() const {
  if (powered_off_)
    return Status::powered_off(backend_->name() + ": the device is powered off (simulated power cut)");
  return Status::ok();
}

Status StoreImpl::sync_file() {
  // Found by crash_test HostFaultRegression with the maintenance thread: a
  // flush's failed sync lost a checkpoint's PAGE records, the checkpoint's
  // own sync then succeeded and its slot pointed at them.
  MutexLock lock(sync_mu_);
  if (sync_failed_)
    return Status::io_error(backend_->name() + ": an earlier sync of the image file failed; reopen the image to continue");
  Status s = backend_->sync();
  if (!s) sync_failed_ = true;
  return s;
}

void StoreImpl::break_after_failed_sync_locked() {
  // After a failed fdatasync Linux may have dropped the dirty pages it
  // should have written while reads still see them: a reopen in the same
  // boot would replay records that are not on the disk as if durable, its
  // checkpoint would name them, and a power cut would then leave damaged
  // blocks (found by crash_test HostFaultRegression.FlushAfterFailedSync*
  // once the failing sync was a flush's with records pending). Zeroing, in
  // the page cache, the header of the first record written since the last
  // good sync makes every replay stop there, as after a power cut: the
  // writes since that sync (none of them promised by a flush; the flush
  // or checkpoint that covered them reported the failure) are dropped on
  // reopen as the disk may have dropped them.
  broken_ = true;
  if (log_.unsynced().empty()) return;
  if (Status s = cut_log_at(log_.unsynced().front().offset); !s)
    spdlog::error("{}: after a failed sync, could not cut the log at offset {}: {}; a reopen before the host's "
                  "page cache of the image is dropped may replay writes that are not on the disk",
                  backend_->name(), log_.unsynced().front().offset, s.to_string());
}

Status StoreImpl::cut_log_at(uint64_t record_offset) {
  // Replay accepts only a sound header with the next seq: a zeroed one ends
  // the log there.
  static constexpr std::array<uint8_t, format::kRecordHeaderSize> kZero{};
  const uint64_t seg = segment_of(record_offset);
  return backend_->overwrite(seg, static_cast<uint32_t>(record_offset - segment_start(seg)), kZero);
}


void StoreImpl::reset_state_locked() {
  broken_ = false;
  {
    MutexLock lock(sync_mu_);
    sync_failed_ = false;
  }
  slot_ = 0;
  new_generation_due_ = false;
  block_count_ = sb_.block_count;
  generation_ = 0;
  log_.reset();
  // The reuse pool's old bytes stay; its segments are free segments like
  // any other after the rebuild and are reused before the file grows.
  segments_.reset();
  provisional_scanned_ = false;
  chain_ = MetaChain{};
  index_.reset();
  bad_.clear();
  used_ = zero_ = trimmed_ = stored_ = 0;
  replay_problems_.clear();
  replay_notes_.clear();
}

Result<uint64_t> StoreImpl::append_flush_records_locked(uint64_t upto_seq) {
  std::vector<PendingRecord> records = log_.flush_records(upto_seq);
  if (records.empty()) return uint64_t{0};
  VBLK_RETURN_IF_ERROR(check_writable());
  uint64_t last = 0;
  for (PendingRecord& rec : records) {
    auto off = append_record(rec);
    if (!off) return off.status();
    last = rec.header.seq;
  }
  log_.flush_claimed(upto_seq);
  return last;
}

Result<PowerCutReport> StoreImpl::power_cut() {
  MutexLock lock(mu_);
  if (opts_.read_only) return Status::read_only(backend_->name() + ": image is open read-only: nothing to cut");
  if (closed_) return Status::invalid_argument(backend_->name() + ": image is closed");
  PowerCutReport r;
  if (powered_off_) {
    r.already_off = true;
    return r;
  }
  powered_off_ = true;
  ++power_epoch_;
  for (const UnsyncedRecord& u : log_.unsynced()) {
    ++r.dropped_records;
    r.dropped_blocks += u.blocks;
    if (u.blocks && !u.continues_call) ++r.dropped_writes;
  }
  // After a failed sync (broken_) nothing is known durable past the last
  // checkpoint and the image can only be reopened: leave the file alone.
  const bool cut = !log_.unsynced().empty() && !broken_;
  const uint64_t at = cut ? log_.unsynced().front().offset : 0;
  log_.forget_unsynced();
  Status s;
  if (cut) {
    s = cut_log_at(at);
    // Nothing appends while powered off, so the sync (which waits for any
    // sync under way) runs without mu_.
    if (s) {
      MutexUnlock unlock(mu_);
      s = sync_file();
    }
  }
  if (!s) {
    broken_ = true;
    return s.with_prefix(backend_->name() + ": power cut: cutting the log at offset " + std::to_string(at));
  }
  spdlog::warn("{}: power cut: dropped {} records not yet flushed ({} writes, {} blocks); the device is off",
               backend_->name(), r.dropped_records, r.dropped_writes, r.dropped_blocks);
  return r;
}

Status StoreImpl::power_on() {
  MutexLock lock(mu_);
  punches_done_.wait(mu_, [&]() REQUIRES(mu_) { return punches_in_flight_ == 0; });
  if (closed_) return Status::invalid_argument(backend_->name() + ": image is closed");
  if (!powered_off_) return Status::invalid_argument(backend_->name() + ": the device is not powered off");
  reset_state_locked();
  powered_off_ = false;
  Status s = recover();
  if (s) s = checkpoint_locked();
  if (!s) {
    powered_off_ = true;
    return s.with_prefix("power on");
  }
  spdlog::warn("{}: powered on again at checkpoint generation {}", backend_->name(), generation_);
  return Status::ok();
}

}  // namespace vblk::store
