// StoreImpl: construction, close, and the reports (info, stats).
#include <spdlog/spdlog.h>

#include <algorithm>

#include "format/unit_table.h"
#include "store/member_backend.h"
#include "store/store_impl.h"

namespace vblk::store {

using format::IndexEntry;
using format::RecordHeader;
using format::RecordType;

StoreImpl::StoreImpl(std::unique_ptr<SegmentBackend> backend, const format::Superblock& sb, const OpenOptions& opts)
    : backend_(std::move(backend)),
      sb_(sb),
      reader_(sb_, *backend_),
      opts_(opts),
      level_(opts.compression_level >= 0 ? opts.compression_level : sb.compression_level),
      max_record_blocks_(std::min(sb.max_record_bytes / sb.block_size, format::kMaxRecordBlocks)),
      unit_tables_(sb.incompat_features & format::kFeatureUnitTables),
      independent_units_(sb.incompat_features & format::kFeatureIndependentUnits),
      flush_records_(sb.incompat_features & format::kFeatureFlushRecords),
      resizable_(sb.incompat_features & format::kFeatureResizable),
      delta_checkpoints_(sb.incompat_features & format::kFeatureDeltaCheckpoints),
      deferred_((sb.incompat_features & format::kFeatureDeferredCompression) && opts.defer_compression &&
                !opts.read_only && level_ > kDeferredWriteLevel),
      write_level_(deferred_ ? kDeferredWriteLevel : level_),
      idle_(opts.clock),
      block_count_(sb.block_count),
      segments_(),
      log_(*backend_, sb_, flush_records_),
      index_(sb.entries_per_page, opts.index_cache_bytes) {}

StoreImpl::~StoreImpl() {
  if (Status s = close(); !s) spdlog::error("{}: closing image: {}", backend_->name(), s.to_string());
}

Status StoreImpl::check_writable() const {
  if (opts_.read_only) return Status::read_only(backend_->name() + ": image is open read-only");
  if (closed_) return Status::invalid_argument(backend_->name() + ": image is closed");
  VBLK_RETURN_IF_ERROR(check_powered());
  if (broken_)
    return Status::io_error(backend_->name() +
                            ": an earlier sync or checkpoint of the image file failed; reopen the image to continue");
  return Status::ok();
}

Status StoreImpl::close() {
  stop_maintenance();
  MutexLock lock(mu_);
  if (closed_) return Status::ok();
  Status s;
  // After a power cut the image keeps exactly the flushed state.
  auto checkpoint_needed = [&]() REQUIRES(mu_) {
    return !opts_.read_only && !broken_ && !powered_off_ &&
           (log_.changed_since_checkpoint() || index_.dirty_count() || segments_.count(SegmentState::kEmptied) ||
            segments_.count(SegmentState::kReleased) || segments_.count(SegmentState::kPunched));
  };
  // Up to two checkpoints: the first releases the segments emptied since
  // the last one, which are then punched; the second records them free.
  for (int round = 0; round < 2 && s && checkpoint_needed(); ++round) {
    s = checkpoint_locked();
    if (s && segments_.count(SegmentState::kReleased)) punch_released(false, false);
  }
  if (s) punch_reuse_pool(false);
  closed_ = true;
  return s;
}

MemberBackend* StoreImpl::member_backend() { return dynamic_cast<MemberBackend*>(backend_.get()); }

ImageInfo StoreImpl::info() {
  MutexLock lock(mu_);
  ImageInfo i;
  i.path = backend_->name();
  i.version = sb_.version;
  i.uuid = format::uuid_to_string(sb_.uuid);
  i.label = sb_.label;
  i.block_size = sb_.block_size;
  i.block_count = block_count_;
  i.capacity_bytes = block_count_ * sb_.block_size;
  i.compression_level = sb_.compression_level;
  i.segment_size = sb_.segment_size;
  i.max_record_bytes = sb_.max_record_bytes;
  i.created_unix = sb_.created_unix;
  i.incompat_features = sb_.incompat_features;
  if (sb_.incompat_features & format::kFeatureUnitTables) i.feature_names.push_back("unit_tables");
  if (sb_.incompat_features & format::kFeatureDeferredCompression)
    i.feature_names.push_back("deferred_compression");
  if (sb_.incompat_features & format::kFeatureFlushRecords) i.feature_names.push_back("flush_records");
  if (resizable_) i.feature_names.push_back("resizable");
  if (independent_units_) i.feature_names.push_back("independent_units");
  if (sb_.incompat_features & format::kFeatureMemberSet) i.feature_names.push_back("member_set");
  if (delta_checkpoints_) i.feature_names.push_back("delta_checkpoints");
  i.provisional_bytes = provisional_bytes_locked();
  i.provisional_scanned = provisional_scanned_ || !deferred_;
  i.compat_features = sb_.compat_features;
  i.generation = generation_;
  i.checkpoint_deltas = chain_.depth;
  i.checkpoint_chain_bytes = chain_.base_bytes + chain_.delta_bytes;
  i.segments = segments_.size();
  i.free_segments = segments_.count(SegmentState::kFree);
  i.powered_off = powered_off_;
  return i;
}

DeviceStats StoreImpl::stats() {
  MutexLock lock(mu_);
  DeviceStats s;
  s.used_blocks = used_;
  s.zero_blocks = zero_;
  s.trimmed_blocks = trimmed_;
  s.bad_blocks = bad_.total();
  // BAD blocks keep their index entry FREE or TRIMMED, so count them once.
  // Only pages that exist can hold TRIMMED entries: visit those, so huge or
  // many bad ranges cost what the disk holds (found by the hostile-image
  // test meta-bad-many-huge).
  uint64_t bad_trimmed = 0;
  const std::vector<uint64_t> present = bad_.ranges().empty() ? std::vector<uint64_t>{}
                                                              : present_pages(0, ~0ull);
  for (auto& [f, c] : bad_.ranges()) {
    const uint64_t end = f + c;
    for (auto it = std::lower_bound(present.begin(), present.end(), page_of(f));
         it != present.end() && *it * sb_.entries_per_page < end; ++it) {
      auto page = get_page(*it, false);
      if (!page || !*page) continue;
      const uint64_t lo = std::max(f, *it * sb_.entries_per_page);
      const uint64_t hi = std::min(end, (*it + 1) * sb_.entries_per_page);
      for (uint64_t b = lo; b < hi; ++b)
        if ((*page)->entries[slot_of(b)].state == static_cast<uint8_t>(BlockState::kTrimmed)) ++bad_trimmed;
    }
  }
  evict_pages();
  s.trimmed_blocks -= std::min(s.trimmed_blocks, bad_trimmed);
  const uint64_t blocks = block_count_;
  s.free_blocks = blocks - std::min(blocks, s.used_blocks + s.trimmed_blocks + s.bad_blocks);
  s.stored_bytes = stored_;
  if (auto space = backend_->space()) {
    s.host_file_bytes = space->allocated_bytes;
    s.host_file_size = space->apparent_bytes;
  }
  s.reuse_pool_bytes = segments_.reuse_pool().size() * sb_.segment_size;
  return s;
}

std::vector<std::pair<uint64_t, uint64_t>> StoreImpl::bad_ranges() {
  MutexLock lock(mu_);
  return {bad_.ranges().begin(), bad_.ranges().end()};
}

}  // namespace vblk::store
