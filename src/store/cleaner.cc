// Space reclaim: the cleaner, hole punching, the reuse pool.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <utility>

#include "store/store_impl.h"

namespace vblk::store {

using format::IndexEntry;
using format::RecordHeader;
using format::RecordType;


void StoreImpl::punch_released(bool unlocked, bool may_keep) {
  // No writer allocates a released segment (the checkpoint in force lists
  // it as in use) and the cleaner skips it, so its hole can be punched
  // without mu_. A failed punch costs host space, never data.
  // They stay released (in punching_) until punched: the cleaner must not
  // pick them, nor a checkpoint record them as in use.
  std::vector<uint64_t> segs = segments_.take_released();  // ascending
  // The lowest ones are allocated first: those are kept for reuse.
  size_t kept = 0;
  for (const size_t limit = may_keep ? reuse_pool_limit() : 0;
       kept < segs.size() && segments_.reuse_pool().size() < limit; ++kept)
    segments_.keep_unpunched(segs[kept]);
  segs.erase(segs.begin(), segs.begin() + static_cast<std::ptrdiff_t>(kept));
  if (segs.empty()) return;
  const uint64_t epoch = power_epoch_;
  // power_on() waits for punches in flight: after it, a stale punch could
  // hit a segment the rebuilt state has allocated again.
  ++punches_in_flight_;
  auto punch = [&] {
    for (uint64_t seg : segs)
      if (Status p = backend_->release(seg); !p)
        spdlog::warn("{}: could not punch segment {}: {}", backend_->name(), seg, p.to_string());
  };
  if (unlocked) {
    MutexUnlock unlock(mu_);
    punch();
  } else {
    punch();
  }
  --punches_in_flight_;
  punches_done_.notify_all();
  // A power cut meanwhile rebuilt the segment table from the file.
  if (interrupted_since_locked(epoch)) return;
  for (uint64_t seg : segs) segments_.punched(seg);
}

size_t StoreImpl::reuse_pool_limit() const {
  return static_cast<size_t>(std::min(kReusePoolBytes, segments_.live_total() / kReusePoolLiveDivisor) /
                             sb_.segment_size);
}

void StoreImpl::punch_reuse_pool(bool while_idle) {
  // Every member is free or released (LogWriter::commit takes a segment out
  // when the head moves into it), and mu_ keeps writers from allocating it,
  // so each punch runs under mu_. One segment at a time: while_idle, mu_ is
  // offered to waiting writers between segments, and the pool is left
  // alone as soon as one has written (a punch may fall back to writing
  // zeros where the host cannot punch holes).
  while (!segments_.reuse_pool().empty() && !powered_off_ && (!while_idle || reuse_pool_idle_locked())) {
    const uint64_t seg = *segments_.reuse_pool().begin();
    segments_.leave_reuse_pool(seg);
    if (Status p = backend_->release(seg); !p)
      spdlog::warn("{}: could not punch segment {}: {}", backend_->name(), seg, p.to_string());
    if (while_idle) {
      MutexUnlock unlock(mu_);
      std::this_thread::yield();
    }
  }
}

bool StoreImpl::reuse_pool_idle_locked() const {
  return !segments_.reuse_pool().empty() && idle_.no_change_for(kReusePoolIdle);
}

bool StoreImpl::cleaning_needed_locked(double live_fraction) const {
  const uint64_t in_use = segments_.holding_data();
  return in_use >= kCleanMinSegments && static_cast<double>(segments_.live_total()) <
                                            live_fraction * static_cast<double>(in_use * sb_.segment_size);
}

std::optional<uint64_t> StoreImpl::pick_victim_locked() const {
  uint64_t victim = format::kNoSegment;
  uint32_t victim_live = ~0u;
  for (uint64_t i = 0; i < segments_.size(); ++i) {
    const SegmentInfo& info = segments_.info(i);
    if (segments_.state(i) != SegmentState::kInUse || i == log_.head_segment() || info.fill == 0 || info.live >= victim_live ||
        segments_.damaged(i))
      continue;
    victim = i, victim_live = info.live;
  }
  if (victim == format::kNoSegment || victim_live > sb_.segment_size * kCleanLiveFraction) return std::nullopt;
  return victim;
}

namespace {

// Calls fn(i, j) for each maximal run [i, j) of true in mask[lo, hi).
template <typename Fn>
void for_each_run(const std::vector<bool>& mask, uint32_t lo, uint32_t hi, Fn&& fn) {
  for (uint32_t i = lo; i < hi;) {
    if (!mask[i]) {
      ++i;
      continue;
    }
    uint32_t j = i;
    while (j < hi && mask[j]) ++j;
    fn(i, j);
    i = j;
  }
}

}  // namespace

Result<std::vector<bool>> StoreImpl::live_blocks_locked(uint64_t off, const RecordHeader& h) {
  std::vector<bool> live(h.count);
  for (uint32_t i = 0; i < h.count; ++i) {
    auto e = get_entry(h.first + i);
    if (!e) return e.status();
    live[i] = e->record_offset == off;
  }
  return live;
}

bool StoreImpl::interrupted_since_locked(uint64_t epoch) const {
  return power_epoch_ != epoch || powered_off_ || closed_;
}

Status StoreImpl::copy_live_blocks(uint64_t off, const RecordHeader& header,
                                   bool recompress) {
  const uint64_t epoch = power_epoch_;
  auto before = live_blocks_locked(off, header);
  if (!before) return before.status();
  if (std::find(before->begin(), before->end(), true) == before->end()) return Status::ok();
  const bool all_live = std::find(before->begin(), before->end(), false) == before->end();
  // A provisional record to recompress is decoded and compressed again at
  // the image's level itself, not a level picked from samples: its data
  // did reward the slowest level tried at write time, and 4 KiB samples
  // miss the repeats across a record that a higher level finds. Should
  // that not come out smaller, the record is moved as it is stored.
  const bool recompressing = recompress && (header.flags & format::kRecordFlagProvisional);
  // A wholly live record is otherwise moved as it is stored.
  const bool move_whole = all_live && !recompressing;
  const uint32_t total = format::record_total_length(header.stored_len);
  RecordHeader h = header;
  // Read (and for a partly live record decompress and recompress its live
  // runs) without mu_.
  PendingRecord moved;
  RawBuffer raw;
  struct Run {
    uint32_t at = 0, len = 0;
    std::vector<PendingRecord> records;
  };
  std::vector<Run> runs;
  // Every record appended here is a copy (PendingRecord::moved).
  auto append_copy = [&](PendingRecord& rec) REQUIRES(mu_) {
    rec.moved = true;
    return append_and_apply(rec);
  };
  Status s;
  uint64_t recompressed_bytes = 0;
  {
    MutexUnlock unlock(mu_);
    s = move_whole ? reader_.read_record(off, total, &h, nullptr, &moved.payload)
                   : reader_.read_record(off, total, &h, &raw, all_live ? &moved.payload : nullptr);
    if (s && !move_whole) {
      if (raw.size() != size_t{h.count} * sb_.block_size) s = Status::corruption("record does not hold whole blocks");
      for_each_run(*before, 0, s ? h.count : 0, [&](uint32_t i, uint32_t j) {
        std::span<const uint8_t> run(raw.data() + size_t{i} * sb_.block_size, size_t{j - i} * sb_.block_size);
        runs.push_back({i, j - i, build_data_records(h.first + i, run, level_, recompressing)});
        for (const PendingRecord& rec : runs.back().records) recompressed_bytes += rec.bytes().size();
      });
    }
  }
  if (interrupted_since_locked(epoch)) return Status::ok();  // the caller sees it too
  if (!s) return s;
  // Blocks overwritten meanwhile must not be copied back over their new data.
  auto now = live_blocks_locked(off, h);
  if (!now) return now.status();
  const bool still_all_live = std::find(now->begin(), now->end(), false) == now->end();
  const bool keep_stored = all_live && recompressing && recompressed_bytes >= h.stored_len;
  if ((move_whole || keep_stored) && still_all_live) return append_moved_as_stored(h, keep_stored, moved);
  std::vector<bool> left = *now;  // live blocks no prepared run covers yet
  for (Run& run : runs) {
    if (!std::all_of(now->begin() + run.at, now->begin() + run.at + run.len, [](bool b) { return b; })) continue;
    for (PendingRecord& rec : run.records) VBLK_RETURN_IF_ERROR(append_copy(rec));
    std::fill(left.begin() + run.at, left.begin() + run.at + run.len, false);
  }
  if (std::find(left.begin(), left.end(), true) == left.end()) return Status::ok();
  // Rare: overwritten in part while unlocked (or moved whole failed).
  if (move_whole) {
    raw.resize(h.raw_len);
    VBLK_RETURN_IF_ERROR(decode_payload(h, moved.payload, raw));
  }
  return copy_left_blocks(h, left, raw);
}

Status StoreImpl::append_moved_as_stored(const RecordHeader& h, bool recompression_did_not_pay, PendingRecord& moved) {
  moved.header.type = RecordType::kData;
  moved.header.first = h.first;
  moved.header.count = h.count;
  // Moved as stored after a recompression that did not pay: no longer
  // provisional (the flag is not part of what payload_hash covers).
  moved.header.flags =
      recompression_did_not_pay ? static_cast<uint8_t>(h.flags & ~format::kRecordFlagProvisional) : h.flags;
  moved.header.raw_len = h.raw_len;
  moved.header.payload_hash = h.payload_hash;  // verified by read_record
  moved.hashed = true;
  moved.moved = true;
  return append_and_apply(moved);
}

Status StoreImpl::copy_left_blocks(const RecordHeader& h, const std::vector<bool>& left, const RawBuffer& raw) {
  if (raw.size() != size_t{h.count} * sb_.block_size) return Status::corruption("record does not hold whole blocks");
  std::vector<std::pair<uint32_t, uint32_t>> left_runs;
  for_each_run(left, 0, h.count, [&](uint32_t i, uint32_t j) { left_runs.emplace_back(i, j); });
  for (auto [i, j] : left_runs) {
    std::span<const uint8_t> run(raw.data() + size_t{i} * sb_.block_size, size_t{j - i} * sb_.block_size);
    for (PendingRecord& rec : build_data_records(h.first + i, run, level_)) {
      rec.moved = true;
      VBLK_RETURN_IF_ERROR(append_and_apply(rec));
    }
  }
  return Status::ok();
}

Status StoreImpl::clean_segment(uint64_t seg, CleanMode mode,
                                uint64_t* provisional_seen) {
  // Copies the victim's live DATA blocks to the head, marks its live PAGE
  // records' pages dirty, and queues it for freeing at the next checkpoint.
  // Reading, decompressing and recompressing happen without mu_, so writers
  // carry on meanwhile; every copy is re-checked under mu_ before it is
  // appended, so a block overwritten in between is never resurrected. The
  // victim cannot change under us: it is neither the head nor free, and
  // its state (kCleaning) keeps other cleaners off it.
  // Before anything is read: the copies go into this open's generation.
  VBLK_RETURN_IF_ERROR(start_generation_locked());
  // A recompression pass marks its segments itself, all before it starts.
  if (segments_.state(seg) == SegmentState::kInUse) segments_.begin_cleaning(seg);
  const uint64_t epoch = power_epoch_;
  // Every return below holds mu_. After a power cut the table was rebuilt
  // and the segment's state is no longer this call's.
  struct LeaveInPlace {
    StoreImpl& store;
    uint64_t seg, epoch;
    // clean_segment holds mu_ at every return, where this runs.
    ~LeaveInPlace() NO_THREAD_SAFETY_ANALYSIS {
      if (!store.interrupted_since_locked(epoch) && store.segments_.state(seg) == SegmentState::kCleaning)
        store.segments_.end_cleaning(seg);
    }
  } leave_in_place{*this, seg, epoch};
  // A power cut (and power on) while mu_ was dropped rebuilt the state.
  auto interrupted = [&]() REQUIRES(mu_) { return interrupted_since_locked(epoch); };
  auto damaged = [&](uint64_t off, const Status& s) REQUIRES(mu_) {
    // A host error says nothing about the record: report it, and the
    // segment is tried again later. Only damage keeps the cleaner away.
    if (!s.is_corruption()) return s.with_prefix("cleaning segment " + std::to_string(seg) + " at offset " +
                                                 std::to_string(off));
    segments_.mark_damaged(seg);
    spdlog::error("{}: segment {} record at offset {} is damaged ({}); leaving the segment in place", backend_->name(),
                  seg, off, s.to_string());
    return Status::ok();
  };
  const uint64_t start = segment_start(seg);
  const uint32_t fill = segments_.info(seg).fill;
  uint32_t pos = format::kSegmentHeaderSize;
  while (pos + format::kRecordHeaderSize <= fill) {
    const uint64_t off = start + pos;
    std::array<uint8_t, format::kRecordHeaderSize> hbuf{};
    Result<size_t> n = size_t{0};
    {
      MutexUnlock unlock(mu_);
      n = reader_.read_image(off, hbuf);
    }
    if (interrupted()) return Status::ok();
    if (!n) return n.status().with_prefix("cleaning segment " + std::to_string(seg));
    auto decoded = format::decode_record_header(std::span<const uint8_t>(hbuf.data(), *n));
    if (!decoded) return damaged(off, decoded.status());
    RecordHeader h = *decoded;
    const uint32_t total = format::record_total_length(h.stored_len);
    const bool provisional = h.flags & format::kRecordFlagProvisional;
    if (provisional && provisional_seen) *provisional_seen += total;
    if (mode == CleanMode::kRecompressHead && !provisional) {
      // Only provisional records are copied out of the head.
    } else if (h.type == RecordType::kData && h.count > 0 && h.count <= format::kMaxRecordBlocks) {
      Status copied = copy_live_blocks(off, h, mode != CleanMode::kClean);
      if (interrupted()) return Status::ok();
      if (!copied) return damaged(off, copied);
    } else if (h.type == RecordType::kPage) {
      if (auto stored = index_.stored_at(h.first); stored && stored->offset == off) {
        auto page = get_page(h.first, false);
        if (!page) return page.status();
        if (*page) index_.mark_dirty(*page);
      }
    }
    pos += total;
  }
  if (mode != CleanMode::kRecompressHead) segments_.emptied(seg);
  return Status::ok();
}

Status StoreImpl::maintain(double live_fraction, int max_victims) {
  // Keep live data above live_fraction of the segments in use, cleaning the
  // least-live segments first; at most max_victims per call, so the caller
  // never waits for more than a few segments' worth of copying.
  for (int victims = 0; victims < max_victims && cleaning_needed_locked(live_fraction); ++victims) {
    auto victim = pick_victim_locked();
    if (!victim) break;
    VBLK_RETURN_IF_ERROR(clean_segment(*victim));
    if (segments_.count(SegmentState::kEmptied) >= clean_batch()) VBLK_RETURN_IF_ERROR(checkpoint_presynced());
  }
  if (checkpoint_due_locked()) VBLK_RETURN_IF_ERROR(checkpoint_presynced());
  if (segments_.count(SegmentState::kReleased)) punch_released(true);
  return Status::ok();
}

}  // namespace vblk::store
