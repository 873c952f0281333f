// Deferred compression: the idle pass that recompresses provisional records
// at the image's level (store_impl.h, kDeferredWriteLevel, says why).
//
// The pass is the cleaner run on segments chosen for their provisional
// bytes instead of their dead ones: clean_segment(seg, recompress) decodes
// each provisional record that still lives there and appends its live
// blocks compressed at the image's level, re-checking each copy under mu_
// exactly as a cleaning copy is re-checked, so a block written meanwhile is
// never overwritten by its old data. The emptied segment is released by a
// checkpoint and punched like any other. Which records are provisional is
// on disk (record flag bit 2), so a pass cut short by an unmount resumes
// at the next open, after a scan of the record headers.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <functional>
#include <thread>

#include "store/store_impl.h"

namespace vblk::store {

bool StoreImpl::recompress_due_locked() const {
  if (!deferred_ || powered_off_ || broken_ || closed_ || !idle_.no_request_for(kRecompressIdle)) return false;
  return !provisional_scanned_ || !pick_provisional_locked(1).empty();
}

std::vector<uint64_t> StoreImpl::pick_provisional_locked(size_t n) const {
  // The head last, alone: its records are copied within it.
  std::vector<std::pair<uint32_t, uint64_t>> found;  // (provisional bytes, segment)
  for (uint64_t i = 0; i < segments_.size(); ++i) {
    const SegmentInfo& info = segments_.info(i);
    if (info.provisional == 0 || i == log_.head_segment() || info.fill == 0 || segments_.damaged(i) ||
        segments_.state(i) != SegmentState::kInUse)
      continue;
    found.emplace_back(info.provisional, i);
  }
  const size_t take = std::min(n, found.size());
  std::partial_sort(found.begin(), found.begin() + static_cast<std::ptrdiff_t>(take), found.end(),
                    std::greater<>());
  std::vector<uint64_t> picked;
  for (size_t k = 0; k < take; ++k) picked.push_back(found[k].second);
  if (picked.empty() && n > 0 && log_.head_segment() < segments_.size() && segments_.info(log_.head_segment()).provisional > 0 &&
      !segments_.damaged(log_.head_segment()) && segments_.state(log_.head_segment()) == SegmentState::kInUse)
    picked.push_back(log_.head_segment());
  return picked;
}

uint64_t StoreImpl::provisional_bytes_locked() const {
  uint64_t total = 0;
  for (uint64_t i = 0; i < segments_.size(); ++i)
    if (!segments_.reclaiming(i)) total += segments_.info(i).provisional;
  return total;
}

Status StoreImpl::scan_provisional() {
  const uint64_t epoch = power_epoch_;
  for (uint64_t seg = 0; seg < segments_.size(); ++seg) {
    const uint32_t fill = segments_.info(seg).fill;
    if (fill == 0 || segments_.state(seg) != SegmentState::kInUse) continue;
    // The head is read under mu_, so that no record lands in it meanwhile.
    const bool head = seg == log_.head_segment();
    // The headers are read without mu_; the count is kept only if the
    // segment is still the one read (not emptied or reused meanwhile). A
    // count that is off only makes the pass take a segment sooner or later.
    std::vector<std::pair<uint64_t, format::RecordHeader>> found;  // provisional DATA records
    Status s;
    const uint64_t start = segment_start(seg);
    auto read_headers = [&] {
    for (uint32_t pos = format::kSegmentHeaderSize; s && pos + format::kRecordHeaderSize <= fill;) {
      std::array<uint8_t, format::kRecordHeaderSize> hbuf{};
      auto n = reader_.read_image(start + pos, hbuf);
      if (!n) {
        s = n.status();
        break;
      }
      auto h = format::decode_record_header(std::span<const uint8_t>(hbuf.data(), *n));
      if (!h) break;  // damage: the cleaner and check() report it; count what came before
      if ((h->flags & format::kRecordFlagProvisional) && h->type == format::RecordType::kData)
        found.emplace_back(start + pos, *h);
      pos += format::record_total_length(h->stored_len);
    }
    };
    if (head) {
      read_headers();
    } else {
      MutexUnlock unlock(mu_);
      read_headers();
    }
    if (interrupted_since_locked(epoch)) return Status::ok();
    if (!s) return s.with_prefix("looking for provisional records in segment " + std::to_string(seg));
    if (segments_.info(seg).fill == fill && segments_.state(seg) == SegmentState::kInUse)
      segments_.set_provisional(seg, live_provisional_bytes_locked(found));
  }
  return Status::ok();
}

uint32_t StoreImpl::live_provisional_bytes_locked(
    const std::vector<std::pair<uint64_t, format::RecordHeader>>& records) {
  // Only records some block still reads from: the copies a recompression of
  // the head left behind it, or records since overwritten, would make the
  // next open's pass clean a segment for nothing (and an image nothing was
  // written to would change on every idle open).
  uint32_t total = 0;
  for (const auto& [offset, h] : records) {
    bool live = true;  // when the index cannot tell (damage), count it
    if (h.count > 0 && h.count <= format::kMaxRecordBlocks && check_range(h.first, h.count)) {
      auto blocks = live_blocks_locked(offset, h);
      if (blocks) live = std::find(blocks->begin(), blocks->end(), true) != blocks->end();
    }
    if (live) total += format::record_total_length(h.stored_len);
  }
  evict_pages();
  return total;
}

Status StoreImpl::recompress_step() {
  if (!provisional_scanned_) {
    VBLK_RETURN_IF_ERROR(scan_provisional());
    provisional_scanned_ = true;
    return Status::ok();
  }
  const uint64_t epoch = power_epoch_;
  const std::vector<uint64_t> segs = pick_provisional_locked(kRecompressThreads);
  if (segs.size() == 1 && segs[0] == log_.head_segment()) {
    spdlog::debug("{}: recompressing the head segment {} ({} provisional bytes)", backend_->name(), segs[0],
                  segments_.info(segs[0]).provisional);
    uint64_t seen = 0;
    VBLK_RETURN_IF_ERROR(clean_segment(segs[0], CleanMode::kRecompressHead, &seen));
    if (interrupted_since_locked(epoch)) return Status::ok();
    // It keeps the count of provisional records written to it meanwhile.
    const uint32_t left = segments_.info(segs[0]).provisional;
    segments_.set_provisional(segs[0], segments_.damaged(segs[0])
                                           ? 0
                                           : static_cast<uint32_t>(left - std::min<uint64_t>(seen, left)));
  } else if (!segs.empty()) {
    // Up to kRecompressThreads segments at once, one on this thread and
    // each other on a helper; kCleaning keeps every other cleaner off them
    // from here on. Each drops mu_ while it decodes and compresses.
    spdlog::debug("{}: recompressing {} segments from {} ({} provisional bytes)", backend_->name(), segs.size(), segs[0],
                  segments_.info(segs[0]).provisional);
    for (uint64_t seg : segs) segments_.begin_cleaning(seg);
    std::vector<Status> results(segs.size());
    std::vector<std::thread> helpers;
    for (size_t k = 1; k < segs.size(); ++k)
      helpers.emplace_back([this, &segs, &results, k] {
        MutexLock helper_lock(mu_);
        results[k] = clean_segment(segs[k], CleanMode::kRecompress);
      });
    results[0] = clean_segment(segs[0], CleanMode::kRecompress);
    {
      MutexUnlock unlock(mu_);
      for (std::thread& t : helpers) t.join();
    }
    if (interrupted_since_locked(epoch)) return Status::ok();
    // Those not emptied (a failure, or damage) are left in place.
    for (uint64_t seg : segs)
      if (segments_.state(seg) == SegmentState::kCleaning) segments_.end_cleaning(seg);
    for (size_t k = 0; k < segs.size(); ++k) {
      VBLK_RETURN_IF_ERROR(results[k]);
      // Emptied, or damaged and left in place: either way the pass is done
      // with it.
      segments_.set_provisional(segs[k], 0);
    }
  }
  // Give the space back once a batch is emptied, and at the end of the pass.
  const uint64_t emptied = segments_.count(SegmentState::kEmptied);
  if (emptied >= clean_batch() || (emptied && pick_provisional_locked(1).empty()))
    VBLK_RETURN_IF_ERROR(checkpoint_presynced());
  if (segments_.count(SegmentState::kReleased)) punch_released(true);
  return Status::ok();
}

Result<uint64_t> StoreImpl::provisional_bytes() {
  MutexLock lock(mu_);
  if (!(sb_.incompat_features & format::kFeatureDeferredCompression)) return uint64_t{0};
  if (!provisional_scanned_) {
    VBLK_RETURN_IF_ERROR(scan_provisional());
    provisional_scanned_ = true;
  }
  return provisional_bytes_locked();
}

Status StoreImpl::recompress() {
  MutexLock lock(mu_);
  VBLK_RETURN_IF_ERROR(check_writable());
  if (!deferred_) return Status::ok();
  // The first step scans, if the open has not yet; each later one takes
  // segments, until none is left and the last emptied one is released.
  do {
    VBLK_RETURN_IF_ERROR(check_writable());
    VBLK_RETURN_IF_ERROR(recompress_step());
  } while (!pick_provisional_locked(1).empty() || segments_.count(SegmentState::kEmptied));
  return Status::ok();
}

}  // namespace vblk::store
