#include "format/checkpoint_meta.h"

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <string>

#include "format/format.h"

namespace vblk::format {
namespace {

class MetaWriter {
 public:
  explicit MetaWriter(std::vector<uint8_t>& out) : out_(out) {}
  void u64(uint64_t v) {
    const size_t at = out_.size();
    out_.resize(at + 8);
    put_u64(out_.data() + at, v);
  }
  void u32(uint32_t v) {
    const size_t at = out_.size();
    out_.resize(at + 4);
    put_u32(out_.data() + at, v);
  }

 private:
  std::vector<uint8_t>& out_;
};

// Cursor over the byte string; every read is bounds-checked.
class MetaReader {
 public:
  explicit MetaReader(std::span<const uint8_t> data) : data_(data) {}
  bool u64(uint64_t* v) {
    if (pos_ + 8 > data_.size()) return false;
    *v = get_u64(data_.data() + pos_);
    pos_ += 8;
    return true;
  }
  bool u32(uint32_t* v) {
    if (pos_ + 4 > data_.size()) return false;
    *v = get_u32(data_.data() + pos_);
    pos_ += 4;
    return true;
  }
  uint64_t remaining() const { return data_.size() - pos_; }
  // A count of entries of entry_size bytes each: at most `limit`, and no
  // more than the bytes left hold (so a huge one fails before allocating).
  bool count(uint32_t entry_size, uint64_t limit, uint64_t* n) {
    return u64(n) && *n <= limit && *n <= remaining() / entry_size;
  }

 private:
  std::span<const uint8_t> data_;
  size_t pos_ = 0;
};

Status truncated() { return Status::corruption("metadata truncated"); }

}  // namespace

namespace {

void write_page(MetaWriter& w, const MetaPageEntry& p) {
  w.u64(p.page_no);
  w.u64(p.record_offset);
  w.u32(p.record_length);
  w.u32(p.reserved);
}

void write_bad_ranges(MetaWriter& w, const CheckpointMeta& m) {
  w.u64(m.bad_ranges.size());
  for (const auto& [first, count] : m.bad_ranges) {
    w.u64(first);
    w.u64(count);
  }
}

std::vector<uint8_t> encode_delta(const CheckpointMeta& m) {
  std::vector<uint8_t> out;
  out.reserve(kMetaDeltaHeaderSize + m.pages.size() * kMetaPageEntrySize + 8 +
              m.segment_changes.size() * kMetaSegmentChangeSize + 8 + m.bad_ranges.size() * kMetaBadEntrySize);
  MetaWriter w(out);
  w.u64(m.version);
  w.u64(m.used_blocks);
  w.u64(m.zero_blocks);
  w.u64(m.trimmed_blocks);
  w.u64(m.stored_bytes);
  w.u64(m.block_count.value_or(0));
  w.u64(m.depth);
  w.u64(m.prev.last_chunk);
  w.u64(m.prev.chunks);
  w.u64(m.prev.bytes);
  w.u64(m.prev.hash);
  w.u64(m.pages.size());
  for (const MetaPageEntry& p : m.pages) write_page(w, p);
  w.u64(m.segment_changes.size());
  for (const MetaSegmentChange& c : m.segment_changes) {
    w.u64(c.segment);
    w.u32(c.entry.live_bytes);
    w.u32(c.entry.fill);
  }
  write_bad_ranges(w, m);
  return out;
}

}  // namespace

std::vector<uint8_t> encode_checkpoint_meta(const CheckpointMeta& m) {
  if (m.is_delta()) return encode_delta(m);
  std::vector<uint8_t> out;
  out.reserve(full_meta_size(m.pages.size(), m.segments.size(), m.bad_ranges.size(), m.block_count.has_value()));
  MetaWriter w(out);
  w.u64(m.version);
  w.u64(m.used_blocks);
  w.u64(m.zero_blocks);
  w.u64(m.trimmed_blocks);
  w.u64(m.stored_bytes);
  w.u64(m.pages.size());
  for (const MetaPageEntry& p : m.pages) write_page(w, p);
  w.u64(m.segments.size());
  for (const MetaSegmentEntry& s : m.segments) {
    w.u32(s.live_bytes);
    w.u32(s.fill);
  }
  write_bad_ranges(w, m);
  if (m.block_count) w.u64(*m.block_count);
  return out;
}

uint64_t full_meta_size(uint64_t pages, uint64_t segments, uint64_t bad_ranges, bool with_capacity) {
  return 48 + pages * kMetaPageEntrySize + 8 + segments * kMetaSegmentEntrySize + 8 + bad_ranges * kMetaBadEntrySize +
         (with_capacity ? 8 : 0);
}

Status check_meta_location(const MetaLocation& at, const MetaBounds& b, const char* what) {
  if (at.last_chunk < b.data_start || at.last_chunk >= b.file_size)
    return Status::corruption(std::string(what) + " metadata location outside the file");
  if (at.chunks == 0 || at.chunks > UINT32_MAX || at.bytes > kMaxMetaBytes || at.chunks > at.bytes)
    return Status::corruption(std::string(what) + " metadata size invalid");
  return Status::ok();
}

namespace {

// The capacity in force checked as a geometry; Corruption when it is not one.
Status check_capacity(uint64_t capacity, const MetaBounds& b) {
  if (Status s = validate_geometry(b.block_size, capacity, b.segment_size); !s)
    return Status::corruption("metadata capacity invalid: " + s.message());
  return Status::ok();
}

Status read_counters(MetaReader& r, CheckpointMeta& m) {
  if (!r.u64(&m.used_blocks) || !r.u64(&m.zero_blocks) || !r.u64(&m.trimmed_blocks) || !r.u64(&m.stored_bytes))
    return truncated();
  return Status::ok();
}

Status check_counters(const CheckpointMeta& m, uint64_t capacity) {
  if (m.used_blocks > capacity || m.zero_blocks > m.used_blocks || m.trimmed_blocks > capacity - m.used_blocks)
    return Status::corruption("metadata block counters invalid");
  return Status::ok();
}

uint64_t page_limit(uint64_t capacity, const MetaBounds& b) {
  return b.entries_per_page == 0 ? 0 : (capacity + b.entries_per_page - 1) / b.entries_per_page;
}

// The page table: FULL entries unique, a DELTA's ascending, where a
// removal (record_offset 0) is allowed.
Status read_pages(MetaReader& r, CheckpointMeta& m, uint64_t capacity, const MetaBounds& b) {
  uint64_t pages = 0;
  if (!r.count(kMetaPageEntrySize, UINT64_MAX, &pages)) return Status::corruption("metadata page count invalid");
  const uint64_t limit = page_limit(capacity, b);
  const bool delta = m.is_delta();
  m.pages.resize(pages);
  for (uint64_t i = 0; i < pages; ++i) {
    MetaPageEntry& p = m.pages[i];
    if (!r.u64(&p.page_no) || !r.u64(&p.record_offset) || !r.u32(&p.record_length) || !r.u32(&p.reserved))
      return truncated();
    if (p.reserved != 0)
      return Status::corruption("index directory entry " + std::to_string(i) + " reserved field is not zero");
    if (delta && i > 0 && p.page_no <= m.pages[i - 1].page_no)
      return Status::corruption("index directory entry " + std::to_string(i) + " out of order");
    // A removal may name a page past the capacity: a shrink's.
    if (delta && p.record_offset == 0 && p.record_length == 0) continue;
    if (p.page_no >= limit || p.record_offset < b.data_start || p.record_offset >= b.file_size ||
        p.record_length < kRecordHeaderSize || p.record_length > record_total_length(kMaxRecordPayload))
      return Status::corruption("index directory entry " + std::to_string(i) + " invalid");
  }
  if (delta) return Status::ok();  // ascending: unique
  std::vector<uint64_t> page_nos(pages);
  for (uint64_t i = 0; i < pages; ++i) page_nos[i] = m.pages[i].page_no;
  std::sort(page_nos.begin(), page_nos.end());
  if (auto dup = std::adjacent_find(page_nos.begin(), page_nos.end()); dup != page_nos.end())
    return Status::corruption("index directory lists page " + std::to_string(*dup) + " twice");
  return Status::ok();
}

Status check_segment(uint64_t i, const MetaSegmentEntry& s, bool released_allowed, const MetaBounds& b) {
  if (released_allowed && s.is_released()) return Status::ok();
  if (s.fill > b.segment_size || s.live_bytes > s.fill)
    return Status::corruption("segment " + std::to_string(i) + " accounting invalid");
  return Status::ok();
}

Status read_bad_ranges(MetaReader& r, CheckpointMeta& m, uint64_t capacity) {
  uint64_t nbad = 0;
  if (!r.count(kMetaBadEntrySize, UINT64_MAX, &nbad)) return Status::corruption("metadata bad list invalid");
  m.bad_ranges.resize(nbad);
  uint64_t last_end = 0;
  for (uint64_t i = 0; i < nbad; ++i) {
    auto& [first, count] = m.bad_ranges[i];
    if (!r.u64(&first) || !r.u64(&count)) return truncated();
    if (count == 0 || first < last_end || first > capacity || count > capacity - first)
      return Status::corruption("bad-block range " + std::to_string(i) + " invalid");
    last_end = first + count;
  }
  return Status::ok();
}

Result<CheckpointMeta> decode_delta(MetaReader& r, const MetaBounds& b) {
  CheckpointMeta m;
  m.version = kMetaVersionDelta;
  VBLK_RETURN_IF_ERROR(read_counters(r, m));
  uint64_t capacity = 0;
  if (!r.u64(&capacity) || !r.u64(&m.depth) || !r.u64(&m.prev.last_chunk) || !r.u64(&m.prev.chunks) ||
      !r.u64(&m.prev.bytes) || !r.u64(&m.prev.hash))
    return truncated();
  VBLK_RETURN_IF_ERROR(check_capacity(capacity, b));
  if (!b.resizable && capacity != b.superblock_block_count)
    return Status::corruption("metadata capacity " + std::to_string(capacity) +
                              " differs from the superblock's, and the image is not resizable");
  m.block_count = capacity;
  VBLK_RETURN_IF_ERROR(check_counters(m, capacity));
  if (m.depth == 0 || m.depth > kMaxDeltaDepth)
    return Status::corruption("delta metadata depth " + std::to_string(m.depth) + " invalid");
  VBLK_RETURN_IF_ERROR(check_meta_location(m.prev, b, "previous checkpoint's"));
  VBLK_RETURN_IF_ERROR(read_pages(r, m, capacity, b));
  uint64_t changes = 0;
  if (!r.count(kMetaSegmentChangeSize, b.segment_count, &changes))
    return Status::corruption("metadata segment changes invalid");
  m.segment_changes.resize(changes);
  for (uint64_t i = 0; i < changes; ++i) {
    MetaSegmentChange& c = m.segment_changes[i];
    if (!r.u64(&c.segment) || !r.u32(&c.entry.live_bytes) || !r.u32(&c.entry.fill)) return truncated();
    if (c.segment >= b.segment_count || (i > 0 && c.segment <= m.segment_changes[i - 1].segment))
      return Status::corruption("segment change " + std::to_string(i) + " names segment " +
                                std::to_string(c.segment) + " out of order or beyond the segment count");
    VBLK_RETURN_IF_ERROR(check_segment(c.segment, c.entry, true, b));
  }
  VBLK_RETURN_IF_ERROR(read_bad_ranges(r, m, capacity));
  if (r.remaining() != 0) return Status::corruption("metadata has trailing bytes");
  return m;
}

}  // namespace

Result<CheckpointMeta> decode_checkpoint_meta(std::span<const uint8_t> bytes, const MetaBounds& b) {
  CheckpointMeta m;
  MetaReader r(bytes);
  if (!r.u64(&m.version) || m.version < 1 || m.version > kMetaVersionDelta)
    return Status::corruption("unknown metadata version");
  if (m.version == kMetaVersionDelta) {
    if (!b.delta)
      return Status::corruption("metadata version 4 (a delta) is for images with delta checkpoints, and this one "
                                "has none");
    return decode_delta(r, b);
  }
  // Version 3, and it alone, carries the capacity: on a resizable image.
  if ((m.version == kMetaVersionCapacity) != b.resizable)
    return Status::corruption("metadata version " + std::to_string(m.version) +
                              (b.resizable ? " has no capacity, which a resizable image's must carry"
                                           : " is for resizable images, and this one is not"));
  uint64_t capacity = b.superblock_block_count;
  if (b.resizable) {
    // The last 8 bytes: needed before the page table and bad list are checked against it.
    if (bytes.size() < 16) return truncated();
    capacity = get_u64(bytes.data() + bytes.size() - 8);
    VBLK_RETURN_IF_ERROR(check_capacity(capacity, b));
    m.block_count = capacity;
  }
  VBLK_RETURN_IF_ERROR(read_counters(r, m));
  VBLK_RETURN_IF_ERROR(check_counters(m, capacity));
  VBLK_RETURN_IF_ERROR(read_pages(r, m, capacity, b));

  uint64_t nsegs = 0;
  if (!r.count(kMetaSegmentEntrySize, b.segment_count, &nsegs))
    return Status::corruption("metadata segment table invalid");
  m.segments.resize(nsegs);
  for (uint64_t i = 0; i < nsegs; ++i) {
    MetaSegmentEntry& s = m.segments[i];
    if (!r.u32(&s.live_bytes) || !r.u32(&s.fill)) return truncated();
    VBLK_RETURN_IF_ERROR(check_segment(i, s, m.version >= 2, b));
  }
  VBLK_RETURN_IF_ERROR(read_bad_ranges(r, m, capacity));
  uint64_t stated = 0;  // the capacity, taken from here above
  if (b.resizable && (!r.u64(&stated) || stated != capacity)) return truncated();
  if (r.remaining() != 0) return Status::corruption("metadata has trailing bytes");
  return m;
}

Result<CheckpointMeta> fold_checkpoint_chain(CheckpointMeta base, std::span<const CheckpointMeta> deltas,
                                             const MetaBounds& b) {
  if (deltas.empty()) return base;
  const CheckpointMeta& newest = deltas.back();
  CheckpointMeta out;
  out.version = b.resizable ? kMetaVersionCapacity : kMetaVersion;
  out.used_blocks = newest.used_blocks;
  out.zero_blocks = newest.zero_blocks;
  out.trimmed_blocks = newest.trimmed_blocks;
  out.stored_bytes = newest.stored_bytes;
  out.bad_ranges = newest.bad_ranges;
  if (b.resizable) out.block_count = newest.block_count;
  const uint64_t capacity = newest.block_count.value_or(b.superblock_block_count);

  // Pages: the newest entry of each page any delta lists, then one merge
  // with the base's (sorted: a FULL table need only be unique).
  std::vector<MetaPageEntry> changed;
  for (auto d = deltas.rbegin(); d != deltas.rend(); ++d) {
    std::vector<MetaPageEntry> merged;
    merged.reserve(changed.size() + d->pages.size());
    // Both ascending; on a tie the newer (changed) wins.
    std::merge(changed.begin(), changed.end(), d->pages.begin(), d->pages.end(), std::back_inserter(merged),
               [](const MetaPageEntry& a, const MetaPageEntry& c) { return a.page_no < c.page_no; });
    merged.erase(std::unique(merged.begin(), merged.end(),
                             [](const MetaPageEntry& a, const MetaPageEntry& c) { return a.page_no == c.page_no; }),
                 merged.end());
    changed = std::move(merged);
  }
  auto by_page = [](const MetaPageEntry& a, const MetaPageEntry& c) { return a.page_no < c.page_no; };
  if (!std::is_sorted(base.pages.begin(), base.pages.end(), by_page))
    std::sort(base.pages.begin(), base.pages.end(), by_page);
  out.pages.reserve(base.pages.size() + changed.size());
  auto c = changed.begin();
  for (const MetaPageEntry& p : base.pages) {
    for (; c != changed.end() && c->page_no < p.page_no; ++c)
      if (!c->is_removal()) out.pages.push_back(*c);
    if (c != changed.end() && c->page_no == p.page_no) {
      if (!c->is_removal()) out.pages.push_back(*c);
      ++c;
      continue;
    }
    out.pages.push_back(p);
  }
  for (; c != changed.end(); ++c)
    if (!c->is_removal()) out.pages.push_back(*c);
  const uint64_t limit = page_limit(capacity, b);
  for (const MetaPageEntry& p : out.pages)
    if (p.page_no >= limit)
      return Status::corruption("metadata chain keeps index page " + std::to_string(p.page_no) +
                                ", beyond the capacity in force");

  // Segments: entries replaced in chain order; released entries need
  // version 2 or later, which the folded table has.
  out.segments = std::move(base.segments);
  for (const CheckpointMeta& d : deltas)
    for (const MetaSegmentChange& ch : d.segment_changes) {
      if (ch.segment >= out.segments.size()) out.segments.resize(ch.segment + 1);
      out.segments[ch.segment] = ch.entry;
    }
  return out;
}

}  // namespace vblk::format
