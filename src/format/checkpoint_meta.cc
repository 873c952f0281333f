#include "format/checkpoint_meta.h"

#include <algorithm>
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

 private:
  std::span<const uint8_t> data_;
  size_t pos_ = 0;
};

Status truncated() { return Status::corruption("metadata truncated"); }

}  // namespace

std::vector<uint8_t> encode_checkpoint_meta(const CheckpointMeta& m) {
  std::vector<uint8_t> out;
  out.reserve(48 + m.pages.size() * kMetaPageEntrySize + 8 + m.segments.size() * kMetaSegmentEntrySize + 8 +
              m.bad_ranges.size() * kMetaBadEntrySize + 8);
  MetaWriter w(out);
  w.u64(m.version);
  w.u64(m.used_blocks);
  w.u64(m.zero_blocks);
  w.u64(m.trimmed_blocks);
  w.u64(m.stored_bytes);
  w.u64(m.pages.size());
  for (const MetaPageEntry& p : m.pages) {
    w.u64(p.page_no);
    w.u64(p.record_offset);
    w.u32(p.record_length);
    w.u32(p.reserved);
  }
  w.u64(m.segments.size());
  for (const MetaSegmentEntry& s : m.segments) {
    w.u32(s.live_bytes);
    w.u32(s.fill);
  }
  w.u64(m.bad_ranges.size());
  for (const auto& [first, count] : m.bad_ranges) {
    w.u64(first);
    w.u64(count);
  }
  if (m.block_count) w.u64(*m.block_count);
  return out;
}

Result<CheckpointMeta> decode_checkpoint_meta(std::span<const uint8_t> bytes, const MetaBounds& b) {
  CheckpointMeta m;
  MetaReader r(bytes);
  if (!r.u64(&m.version) || m.version < 1 || m.version > kMetaVersionCapacity)
    return Status::corruption("unknown metadata version");
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
    if (Status s = validate_geometry(b.block_size, capacity, b.segment_size); !s)
      return Status::corruption("metadata capacity invalid: " + s.message());
    m.block_count = capacity;
  }
  uint64_t pages = 0;
  if (!r.u64(&m.used_blocks) || !r.u64(&m.zero_blocks) || !r.u64(&m.trimmed_blocks) || !r.u64(&m.stored_bytes) ||
      !r.u64(&pages))
    return truncated();
  if (m.used_blocks > capacity || m.zero_blocks > m.used_blocks || m.trimmed_blocks > capacity - m.used_blocks)
    return Status::corruption("metadata block counters invalid");

  if (pages > r.remaining() / kMetaPageEntrySize) return Status::corruption("metadata page count invalid");
  const uint64_t page_limit = b.entries_per_page == 0 ? 0 : (capacity + b.entries_per_page - 1) / b.entries_per_page;
  m.pages.resize(pages);
  for (uint64_t i = 0; i < pages; ++i) {
    MetaPageEntry& p = m.pages[i];
    if (!r.u64(&p.page_no) || !r.u64(&p.record_offset) || !r.u32(&p.record_length) || !r.u32(&p.reserved))
      return truncated();
    if (p.reserved != 0)
      return Status::corruption("index directory entry " + std::to_string(i) + " reserved field is not zero");
    if (p.page_no >= page_limit || p.record_offset < b.data_start || p.record_offset >= b.file_size ||
        p.record_length < kRecordHeaderSize || p.record_length > record_total_length(kMaxRecordPayload))
      return Status::corruption("index directory entry " + std::to_string(i) + " invalid");
  }
  {
    std::vector<uint64_t> page_nos(pages);
    for (uint64_t i = 0; i < pages; ++i) page_nos[i] = m.pages[i].page_no;
    std::sort(page_nos.begin(), page_nos.end());
    if (auto dup = std::adjacent_find(page_nos.begin(), page_nos.end()); dup != page_nos.end())
      return Status::corruption("index directory lists page " + std::to_string(*dup) + " twice");
  }

  uint64_t nsegs = 0;
  if (!r.u64(&nsegs) || nsegs > b.segment_count || nsegs > r.remaining() / kMetaSegmentEntrySize)
    return Status::corruption("metadata segment table invalid");
  m.segments.resize(nsegs);
  for (uint64_t i = 0; i < nsegs; ++i) {
    MetaSegmentEntry& s = m.segments[i];
    if (!r.u32(&s.live_bytes) || !r.u32(&s.fill)) return truncated();
    if (m.version >= 2 && s.is_released()) continue;
    if (s.fill > b.segment_size || s.live_bytes > s.fill)
      return Status::corruption("segment " + std::to_string(i) + " accounting invalid");
  }

  uint64_t nbad = 0;
  if (!r.u64(&nbad) || nbad > r.remaining() / kMetaBadEntrySize) return Status::corruption("metadata bad list invalid");
  m.bad_ranges.resize(nbad);
  uint64_t last_end = 0;
  for (uint64_t i = 0; i < nbad; ++i) {
    auto& [first, count] = m.bad_ranges[i];
    if (!r.u64(&first) || !r.u64(&count)) return truncated();
    if (count == 0 || first < last_end || first > capacity || count > capacity - first)
      return Status::corruption("bad-block range " + std::to_string(i) + " invalid");
    last_end = first + count;
  }
  uint64_t stated = 0;  // the capacity, taken from here above
  if (b.resizable && (!r.u64(&stated) || stated != capacity)) return truncated();
  if (r.remaining() != 0) return Status::corruption("metadata has trailing bytes");
  return m;
}

}  // namespace vblk::format
