// Index pages, entries and counters.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "store/store_impl.h"

namespace vblk::store {

using format::IndexEntry;

// ---- pages --------------------------------------------------------------------

Status StoreImpl::load_page_entries(uint64_t page_no, const PageLocation& loc, std::vector<IndexEntry>* entries) {
  format::RecordHeader h;
  RawBuffer raw;
  Status s = reader_.read_record(loc.offset, loc.length, &h, &raw);
  if (s.is_ok() && (h.type != format::RecordType::kPage || h.first != page_no ||
                    raw.size() != size_t{sb_.entries_per_page} * format::kIndexEntrySize))
    s = Status::corruption("record is not index page " + std::to_string(page_no));
  if (!s)
    return s.with_prefix(backend_->name() + ": index page " + std::to_string(page_no) + " at offset " +
                         std::to_string(loc.offset));
  entries->resize(sb_.entries_per_page);
  for (uint32_t i = 0; i < sb_.entries_per_page; ++i) {
    IndexEntry e = format::decode_index_entry(raw.data() + size_t{i} * format::kIndexEntrySize);
    // Hostile-input guard: an entry must describe something this image can hold.
    bool bad = e.state > 2 || (e.record_offset != 0 && (e.state != 1 || e.record_offset < sb_.data_start ||
                                                        e.record_length < format::kRecordHeaderSize ||
                                                        e.record_length > format::record_total_length(
                                                                               sb_.max_record_bytes) ||
                                                        e.index_in_record > e.blocks_minus_one));
    if (bad)
      return Status::corruption(backend_->name() + ": index page " + std::to_string(page_no) + " entry " +
                                std::to_string(i) + " is invalid");
    (*entries)[i] = e;
  }
  return Status::ok();
}

Status StoreImpl::load_page(uint64_t page_no, const PageLocation& loc, std::vector<IndexEntry>* entries,
                            bool* dirty) {
  Status s = load_page_entries(page_no, loc, entries);
  if (!s && s.is_corruption() && opts_.repair) s = rebuild_page(page_no, loc, entries, dirty);
  return s;
}

Result<Page*> StoreImpl::get_page(uint64_t page_no, bool create) {
  return index_.get(page_no, create, [this](uint64_t p, const PageLocation& at, std::vector<IndexEntry>* entries,
                                            bool* dirty) REQUIRES(mu_) { return load_page(p, at, entries, dirty); });
}

void StoreImpl::drop_page_locked(uint64_t page_no) {
  if (auto old = index_.drop(page_no)) segments_.remove_live(segment_of(old->offset), old->length);
}

Status StoreImpl::check_replay_growth(uint64_t entries) const {
  if (!replaying_ || entries == 0) return Status::ok();
  // A writer checkpoints once dirty pages fill half its index cache, so the
  // log after a checkpoint never needs much more; allow a wide margin.
  const uint64_t page_bytes = index_.page_bytes();
  const uint64_t limit = std::max<uint64_t>(4 * opts_.index_cache_bytes, 1ull << 30);
  const uint64_t new_pages = entries / sb_.entries_per_page + 2;
  if ((index_.cached_count() + new_pages) * page_bytes > limit)
    return Status::corruption("the log would need more than " + std::to_string(limit >> 20) +
                              " MiB of index memory to replay (" + std::to_string(entries) + " blocks in one record)");
  return Status::ok();
}

Result<IndexEntry> StoreImpl::get_entry(uint64_t block) {
  auto page = get_page(page_of(block), false);
  if (!page) return page.status();
  if (*page == nullptr) return IndexEntry{};
  return (*page)->entries[slot_of(block)];
}

void StoreImpl::account_entry(const IndexEntry& e, int sign) {
  auto add = [sign](uint64_t& counter, uint64_t v) { counter = sign > 0 ? counter + v : counter - v; };
  if (e.state == static_cast<uint8_t>(BlockState::kUsed)) {
    add(used_, 1);
    if (e.record_offset == 0) add(zero_, 1);
  } else if (e.state == static_cast<uint8_t>(BlockState::kTrimmed)) {
    add(trimmed_, 1);
  }
  if (e.record_offset != 0 && !is_damage_sentinel(e.record_offset)) {
    // A record's bytes are shared out among its blocks; block 0 takes the remainder.
    uint32_t n = e.blocks_minus_one + 1u;
    uint32_t share = e.record_length / n + (e.index_in_record == 0 ? e.record_length % n : 0);
    add(stored_, share);
    const uint64_t seg = segment_of(e.record_offset);
    if (sign > 0)
      segments_.add_live(seg, share);
    else
      segments_.remove_live(seg, share);
  }
}

Status StoreImpl::set_entry(uint64_t block, const IndexEntry& e) {
  auto page = get_page(page_of(block), true);
  if (!page) return page.status();
  IndexEntry& slot = (*page)->entries[slot_of(block)];
  if (slot == e) return Status::ok();
  account_entry(slot, -1);
  slot = e;
  account_entry(slot, +1);
  index_.mark_dirty(*page);
  return Status::ok();
}

BlockState StoreImpl::effective_state(uint64_t block, const IndexEntry& e) const {
  if (bad_.contains(block)) return BlockState::kBad;
  return static_cast<BlockState>(e.state);
}

Status StoreImpl::check_range(uint64_t first, uint64_t count) const {
  const uint64_t blocks = block_count_.load(std::memory_order_relaxed);
  if (first > blocks || count > blocks - first)
    return Status::out_of_range(backend_->name() + ": blocks " + std::to_string(first) + "+" +
                                std::to_string(count) + " beyond the device's " + std::to_string(blocks) +
                                " blocks");
  return Status::ok();
}

Result<BlockState> StoreImpl::state(uint64_t block) {
  MutexLock lock(mu_);
  VBLK_RETURN_IF_ERROR(check_range(block, 1));
  auto e = get_entry(block);
  if (!e) return e.status();
  return effective_state(block, *e);
}

Status StoreImpl::state_runs(uint64_t first, uint64_t count, const StateRunFn& fn) {
  MutexLock lock(mu_);
  VBLK_RETURN_IF_ERROR(check_range(first, count));
  uint64_t run_first = first, run_count = 0;
  BlockState run_state = BlockState::kFree;
  auto emit = [&](uint64_t b, uint64_t n, BlockState s) {
    if (run_count && s == run_state && run_first + run_count == b) {
      run_count += n;
      return;
    }
    if (run_count) fn(run_first, run_count, run_state);
    run_first = b, run_count = n, run_state = s;
  };
  const uint64_t end = first + count;
  if (count == 0) return Status::ok();
  // Pages that do not exist hold only FREE blocks (or BAD ones, per the bad
  // list): they are emitted as runs without visiting each, so a huge, empty
  // disk is mapped in time that follows its stored pages (found by the
  // hostile-image test block-count-1pib).
  const std::vector<uint64_t> present = present_pages(page_of(first), page_of(end - 1));
  auto emit_absent = [&](uint64_t b, uint64_t stop) REQUIRES(mu_) {
    while (b < stop) {
      auto bad = bad_.first_in(b, stop - b);
      const uint64_t free_end = bad ? *bad : stop;
      if (free_end > b) emit(b, free_end - b, BlockState::kFree);
      if (!bad) break;
      const uint64_t bad_end = std::min(stop, bad_.run_end(*bad));
      emit(*bad, bad_end - *bad, BlockState::kBad);
      b = bad_end;
    }
  };
  size_t next = 0;
  for (uint64_t b = first; b < end;) {
    uint64_t page_no = page_of(b);
    while (next < present.size() && present[next] < page_no) ++next;
    if (next == present.size() || present[next] != page_no) {
      const uint64_t stop = next < present.size() ? std::min(end, present[next] * sb_.entries_per_page) : end;
      emit_absent(b, stop);
      b = stop;
      continue;
    }
    uint64_t page_end = std::min(end, (page_no + 1) * sb_.entries_per_page);
    auto page = get_page(page_no, false);
    if (!page) return page.status();
    for (; b < page_end; ++b) {
      IndexEntry e = *page ? (*page)->entries[slot_of(b)] : IndexEntry{};
      emit(b, 1, effective_state(b, e));
    }
    evict_pages();
  }
  if (run_count) fn(run_first, run_count, run_state);
  return Status::ok();
}

}  // namespace vblk::store
