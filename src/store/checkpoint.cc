// Checkpoints (vblk(5) CHECKPOINTS): when one is due, and writing one,
// FULL or a DELTA of what changed since the one in force.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <utility>

#include "store/store_impl.h"

namespace vblk::store {

using format::RecordType;

bool StoreImpl::checkpoint_due_locked() const {
  return log_.log_since_checkpoint() >= opts_.checkpoint_log_bytes ||
         index_.dirty_count() * index_.page_bytes() >= opts_.index_cache_bytes / 2 ||
         segments_.count(SegmentState::kEmptied) >= clean_batch();
}

size_t StoreImpl::clean_batch() const {
  // Emptied segments wait for a checkpoint (and a second one to be reused),
  // so the batch also stays small beside the segments in use: 1/16 of them.
  const uint64_t in_use = segments_.size() - segments_.count(SegmentState::kFree);
  const uint64_t by_log = std::max<uint64_t>(kCleanBatch, opts_.checkpoint_log_bytes / sb_.segment_size);
  return static_cast<size_t>(std::clamp<uint64_t>(in_use / 16, kCleanBatch, by_log));
}

format::MetaSegmentEntry StoreImpl::meta_segment_entry_locked(uint64_t seg) const {
  // Punched segments are free from this checkpoint on (once its slot is
  // written, segments_.checkpoint_written()); emptied ones and those still
  // to punch are released: not needed, not yet allocatable.
  if (segments_.state(seg) == SegmentState::kPunched) return {0, 0};
  if (segments_.reclaiming(seg)) return format::MetaSegmentEntry::released();
  return {segments_.info(seg).live, segments_.info(seg).fill};
}

std::vector<uint8_t> StoreImpl::encode_full_meta_locked() const {
  format::CheckpointMeta m;
  m.version = resizable_ ? format::kMetaVersionCapacity : format::kMetaVersion;
  m.used_blocks = used_;
  m.zero_blocks = zero_;
  m.trimmed_blocks = trimmed_;
  m.stored_bytes = stored_;
  m.pages.reserve(index_.directory().size());
  for (auto& [page_no, loc] : index_.directory()) m.pages.push_back({page_no, loc.offset, loc.length, 0});
  m.segments.reserve(segments_.size());
  for (uint64_t i = 0; i < segments_.size(); ++i) m.segments.push_back(meta_segment_entry_locked(i));
  m.bad_ranges.assign(bad_.ranges().begin(), bad_.ranges().end());
  if (resizable_) m.block_count = block_count_;
  return format::encode_checkpoint_meta(m);
}

std::vector<uint8_t> StoreImpl::encode_delta_meta_locked(const std::set<uint64_t>& pages,
                                                         const std::vector<uint64_t>& segments) const {
  format::CheckpointMeta m;
  m.version = format::kMetaVersionDelta;
  m.used_blocks = used_;
  m.zero_blocks = zero_;
  m.trimmed_blocks = trimmed_;
  m.stored_bytes = stored_;
  m.block_count = block_count_;
  m.depth = chain_.depth + 1;
  m.prev = chain_.last;
  m.pages.reserve(pages.size());
  for (uint64_t page_no : pages) {
    const std::optional<PageLocation> at = index_.stored_at(page_no);
    m.pages.push_back(at ? format::MetaPageEntry{page_no, at->offset, at->length, 0}
                         : format::MetaPageEntry{page_no, 0, 0, 0});  // left the table
  }
  m.segment_changes.reserve(segments.size());
  for (uint64_t seg : segments) m.segment_changes.push_back({seg, meta_segment_entry_locked(seg)});
  m.bad_ranges.assign(bad_.ranges().begin(), bad_.ranges().end());
  return format::encode_checkpoint_meta(m);
}

const char* StoreImpl::full_checkpoint_reason_locked(uint64_t delta_bytes) const {
  if (!delta_checkpoints_) return "the image has no delta checkpoints";
  if (!chain_.present()) return "no metadata is in force";
  const uint64_t max_depth = std::min<uint64_t>(opts_.max_delta_chain, format::kMaxDeltaDepth);
  if (chain_.depth >= max_depth) return "the chain holds as many deltas as it may";
  // The chain's deltas stay within a share of a FULL checkpoint, so that an
  // open reads at most that much more than one.
  const uint64_t full = format::full_meta_size(index_.directory().size(), segments_.size(), bad_.ranges().size(),
                                               resizable_);
  if ((chain_.delta_bytes + delta_bytes) * 100 > full * opts_.delta_checkpoint_percent)
    return "the chain's deltas would outgrow their share of a full checkpoint";
  // A chain record in a segment the cleaner is emptying or has emptied:
  // only a FULL checkpoint lets that segment go.
  for (const PageLocation& c : chain_.chunks)
    if (segments_.state(segment_of(c.offset)) != SegmentState::kInUse)
      return "a record of the chain lies in a segment the cleaner empties";
  return nullptr;
}

Status StoreImpl::checkpoint_locked() {
  // Any checkpoint starts a new generation; this one's own records must not
  // ask for another first. Still owed if it fails.
  const bool due = std::exchange(new_generation_due_, false);
  Status s = write_checkpoint_locked();
  if (!s) new_generation_due_ = due;
  return s;
}

Status StoreImpl::start_generation_locked() {
  if (!new_generation_due_) return Status::ok();
  return checkpoint_locked().with_prefix("starting a new generation");
}

Status StoreImpl::store_dirty_pages_locked() {
  for (uint64_t page_no : index_.dirty_pages()) {
    const Page& page = *index_.cached(page_no);  // dirty pages are never evicted
    std::vector<uint8_t> raw(size_t{sb_.entries_per_page} * format::kIndexEntrySize);
    for (uint32_t i = 0; i < sb_.entries_per_page; ++i)
      format::encode_index_entry(page.entries[i], raw.data() + size_t{i} * format::kIndexEntrySize);
    PendingRecord rec;
    rec.header.type = RecordType::kPage;
    rec.header.first = page_no;
    rec.header.raw_len = static_cast<uint32_t>(raw.size());
    // (A page is read whole: no unit table.)
    rec.header.flags = compress_payload(raw, 1, UnitLayout::kNone, &rec.payload);
    if (!rec.header.flags) rec.payload = std::move(raw);
    auto off = append_record(rec);
    if (!off) return off.status().with_prefix("checkpoint: writing index page " + std::to_string(page_no));
    uint32_t len = format::record_total_length(rec.header.stored_len);
    if (auto old = index_.mark_stored(page_no, {*off, len}))
      segments_.remove_live(segment_of(old->offset), old->length);
    segments_.add_live(segment_of(*off), len);
  }
  return Status::ok();
}

Status StoreImpl::append_meta_locked(const std::vector<uint8_t>& meta, std::vector<PageLocation>* chunks) {
  uint64_t prev = 0;
  uint32_t index = 0;
  // A chunk must fit one segment with its header and a segment header.
  const size_t chunk_bytes = std::min<size_t>(format::kMetaChunkBytes, sb_.segment_size - 2 * format::kRecordHeaderSize);
  for (size_t at = 0; at < meta.size(); at += chunk_bytes, ++index) {
    size_t n = std::min<size_t>(chunk_bytes, meta.size() - at);
    PendingRecord rec;
    rec.header.type = RecordType::kMeta;
    rec.header.first = prev;
    rec.header.count = index;
    rec.payload.assign(meta.begin() + at, meta.begin() + at + n);
    auto off = append_record(rec);
    if (!off) return off.status().with_prefix("checkpoint: writing metadata");
    uint32_t len = format::record_total_length(rec.header.stored_len);
    chunks->push_back({*off, len});
    segments_.add_live(segment_of(*off), len);
    prev = *off;
  }
  return Status::ok();
}

Status StoreImpl::write_slot_locked(const format::Checkpoint& cp) {
  std::array<uint8_t, format::kCheckpointSize> slot{};
  format::encode_checkpoint(cp, slot);
  int next_slot = 1 - slot_;
  Status s = backend_->write_header(format::kCheckpointOffset[next_slot], slot);
  if (s) s = sync_file();
  if (!s) {
    // The slot may or may not have reached the disk; the state is only
    // known again after a successful checkpoint. Refuse writes until reopen.
    broken_ = true;
    return s.with_prefix("checkpoint: writing slot");
  }
  slot_ = next_slot;
  generation_ = cp.generation;
  return Status::ok();
}

Status StoreImpl::write_checkpoint_locked() {
  VBLK_RETURN_IF_ERROR(check_writable());
  // 1. Dirty index pages become PAGE records.
  VBLK_RETURN_IF_ERROR(store_dirty_pages_locked());
  // 2. The snapshot: what changed since the checkpoint in force, as a
  // DELTA when the rule allows, else the whole state, after which the
  // chain's META records stop being live. A failure puts it all back.
  // 3. It is appended as META records.
  std::set<uint64_t> page_changes = index_.take_changes();
  std::vector<uint64_t> segment_changes = segments_.take_changes();
  std::vector<uint8_t> meta = delta_checkpoints_ && chain_.present()
                                  ? encode_delta_meta_locked(page_changes, segment_changes)
                                  : std::vector<uint8_t>{};
  const char* full_reason = full_checkpoint_reason_locked(meta.size());
  const bool delta = full_reason == nullptr;
  const MetaChain old_chain = chain_;
  if (!delta) {
    for (auto& loc : chain_.chunks) segments_.remove_live(segment_of(loc.offset), loc.length);
    meta = encode_full_meta_locked();
  }
  std::vector<PageLocation> chunks;
  // Undoes the accounting so a later checkpoint starts from the same state.
  auto undo = [&]() REQUIRES(mu_) {
    for (auto& loc : chunks) segments_.remove_live(segment_of(loc.offset), loc.length);
    if (!delta)
      for (auto& loc : old_chain.chunks) segments_.add_live(segment_of(loc.offset), loc.length);
    chain_ = old_chain;
    index_.restore_changes(page_changes);
    segments_.restore_changes(segment_changes);
  };
  if (Status s = append_meta_locked(meta, &chunks); !s) {
    undo();
    return s;
  }
  // 4. Everything so far is durable before the slot points at it.
  if (Status s = sync_file(); !s) {
    undo();
    // The host may have dropped what this sync should have made durable
    // (Linux marks the pages clean after a writeback error), including the
    // PAGE records the page directory now names; a later checkpoint would point its
    // slot at them. Refuse writes until reopened, as for a failed slot write
    // (found by the crash test HostFault/sync*).
    break_after_failed_sync_locked();
    return s.with_prefix("checkpoint");
  }
  log_.mark_durable(log_.next_seq() - 1);
  format::Checkpoint cp;
  cp.generation = generation_ + 1;
  cp.next_record_seq = log_.next_seq();
  cp.head_segment = log_.head_segment();
  cp.head_fill = log_.head().fill;
  cp.head_alloc_seq = log_.alloc_seq();
  cp.meta_last_chunk = chunks.back().offset;
  cp.meta_chunks = static_cast<uint32_t>(chunks.size());
  cp.meta_bytes = meta.size();
  cp.meta_hash = format::hash64(meta.data(), meta.size());
  cp.segment_count = segments_.size();
  cp.uuid = sb_.uuid;
  // 5. The slot.
  VBLK_RETURN_IF_ERROR(write_slot_locked(cp));
  // 6. In force: the chain is this one's.
  if (!delta) chain_ = MetaChain{};
  chain_.last = {cp.meta_last_chunk, cp.meta_chunks, cp.meta_bytes, cp.meta_hash};
  chain_.chunks.insert(chain_.chunks.end(), chunks.begin(), chunks.end());
  (delta ? chain_.delta_bytes : chain_.base_bytes) += meta.size();
  chain_.depth += delta;
  spdlog::debug("{}: checkpoint generation {}: {} metadata, {} bytes{}{}", backend_->name(), generation_,
                delta ? "delta" : "full", meta.size(), delta ? "" : ": ", delta ? "" : full_reason);
  log_.checkpoint_written();
  // Segments punched before this checkpoint are free now; those emptied
  // before it are released: no checkpoint to come can need their data.
  for (auto [seg, live] : segments_.checkpoint_written())
    spdlog::warn("{}: reclaimed segment {} still counted {} live bytes", backend_->name(), seg, live);
  evict_pages();
  return Status::ok();
}

Status StoreImpl::checkpoint_presynced() {
  // Most of what the checkpoint must make durable is already written: sync
  // it without mu_, so the sync under mu_ has little left to do. Writers
  // append meanwhile, so sync again while a sync leaves much behind (each
  // round is shorter when the disk outpaces the writers; a bounded number
  // of rounds when it does not).
  constexpr uint64_t kSmallRemainder = 4u << 20;
  constexpr int kMaxRounds = 4;
  for (int round = 0; round < kMaxRounds; ++round) {
    const uint64_t before = log_.log_since_checkpoint();
    Status s;
    {
      MutexUnlock unlock(mu_);
      s = sync_file();
    }
    if (!s) {
      break_after_failed_sync_locked();
      return s.with_prefix("checkpoint");
    }
    // A checkpoint made meanwhile (a writer helping inline) reset the count.
    const uint64_t now = log_.log_since_checkpoint();
    if (now < before || now - before <= kSmallRemainder) break;
  }
  return checkpoint_locked();
}

}  // namespace vblk::store
