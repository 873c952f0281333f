#include "store/log_writer.h"

#include <algorithm>
#include <cassert>

namespace vblk::store {

using format::RecordHeader;
using format::RecordType;

void LogWriter::start_at(const HeadPosition& head, uint64_t alloc_seq) {
  head_ = head;
  alloc_seq_ = alloc_seq;
}

void LogWriter::replayed_into(uint64_t seg) {
  head_.seg = seg;
  ++alloc_seq_;
}

void LogWriter::replayed_up_to(uint32_t end_fill, uint64_t last_seq, uint64_t log_bytes) {
  head_.fill = end_fill;
  head_.seq = last_seq + 1;
  log_since_checkpoint_ += log_bytes;
}

void LogWriter::reset() {
  head_ = {format::kNoSegment, 0, 1};
  alloc_seq_ = 0;
  unsynced_.clear();
  undescribed_.clear();
  flush_claim_ = 0;
  last_claimable_seq_ = 0;
  log_since_checkpoint_ = 0;
  changed_since_checkpoint_ = false;
}

Result<PlacedRecord> LogWriter::place(PendingRecord& rec, const HeadPosition& at, uint64_t generation,
                                      uint64_t next_segment) const {
  RecordHeader& h = rec.header;
  h.stored_len = static_cast<uint32_t>(rec.bytes().size());
  if (h.type != RecordType::kData && h.type != RecordType::kPage && h.type != RecordType::kMeta &&
      h.type != RecordType::kFlush)
    h.raw_len = 0;
  else if (!(h.flags & format::kRecordFlagCompressed))
    h.raw_len = h.stored_len;
  h.seq = at.seq;
  h.generation = generation;
  if (!rec.hashed) {
    h.payload_hash = format::payload_hash(h.flags, rec.bytes());
    rec.hashed = true;
  }
  PlacedRecord p;
  p.total = format::record_total_length(h.stored_len);
  if (p.total + format::kSegmentHeaderSize > sb_.segment_size)
    return Status::invalid_argument("record of " + std::to_string(p.total) + " bytes does not fit a segment");
  p.new_segment = at.seg == format::kNoSegment || at.fill + p.total > sb_.segment_size;
  p.seg = at.seg;
  uint32_t pos = at.fill;
  // Segment header (when the record opens a segment) and record header in
  // one buffer; the payload is written from where it lies; then padding.
  if (p.new_segment) {
    p.seg = next_segment;
    pos = 0;
    format::SegmentHeader sh;
    sh.alloc_seq = alloc_seq_ + 1;
    sh.segment_index = p.seg;
    sh.generation = generation;
    sh.uuid = sb_.uuid;
    format::encode_segment_header(sh, std::span<uint8_t, format::kSegmentHeaderSize>(p.head.data(),
                                                                                      format::kSegmentHeaderSize));
    p.head_len = format::kSegmentHeaderSize;
  }
  const uint64_t segment_start = sb_.data_start + p.seg * sb_.segment_size;
  p.write_at = segment_start + pos;
  p.offset = p.write_at + p.head_len;
  format::encode_record_header(h, std::span<uint8_t, format::kRecordHeaderSize>(p.head.data() + p.head_len,
                                                                                 format::kRecordHeaderSize));
  p.head_len += format::kRecordHeaderSize;
  p.end_fill = static_cast<uint32_t>(p.offset - segment_start) + p.total;
  return p;
}

void LogWriter::append_parts(const PendingRecord& rec, const PlacedRecord& p,
                             std::vector<std::span<const uint8_t>>* parts) {
  static constexpr std::array<uint8_t, format::kRecordAlign> kPadding{};
  parts->emplace_back(p.head.data(), p.head_len);
  parts->emplace_back(rec.bytes());
  parts->emplace_back(kPadding.data(), p.total - format::kRecordHeaderSize - rec.bytes().size());
}

Status LogWriter::write(const PlacedRecord& first, std::span<const std::span<const uint8_t>> parts) {
  if (first.new_segment && head_.seg != format::kNoSegment) backend_.seal(head_.seg);
  const uint64_t segment_start = sb_.data_start + first.seg * sb_.segment_size;
  return backend_.append(first.seg, static_cast<uint32_t>(first.write_at - segment_start), parts);
}

Status LogWriter::discard(const PlacedRecord& first, const PlacedRecord& last) {
  const uint64_t segment_start = sb_.data_start + first.seg * sb_.segment_size;
  const uint64_t end = last.offset + last.total;
  return backend_.discard(first.seg, static_cast<uint32_t>(first.write_at - segment_start),
                          static_cast<uint32_t>(end - first.write_at));
}

void LogWriter::commit(const PendingRecord& rec, const PlacedRecord& p, SegmentTable& segments) {
  // Committed in memory only once the bytes are written.
  if (p.new_segment) {
    // place() took the table's next_to_open(), and nothing has opened a
    // segment since (the caller holds the store's lock throughout).
    const bool opened = segments.open(p.seg);
    assert(opened);
    (void)opened;
    head_.seg = p.seg;
    ++alloc_seq_;
  }
  head_.fill = p.end_fill;
  segments.set_fill(p.seg, head_.fill);
  const RecordHeader& h = rec.header;
  const bool covers_blocks =
      !rec.moved && (h.type == RecordType::kData || h.type == RecordType::kZero || h.type == RecordType::kTrim);
  unsynced_.push_back({h.seq, p.offset, covers_blocks ? h.count : 0u, rec.continues_call});
  if (flush_records_ && format::covers_blocks(h.type)) undescribed_.push_back({h.seq, h.first, h.count, h.type});
  if (h.type != RecordType::kFlush) last_claimable_seq_ = h.seq;
  ++head_.seq;
  log_since_checkpoint_ += p.head_len - format::kRecordHeaderSize + p.total;
  changed_since_checkpoint_ = true;
}

Result<uint64_t> LogWriter::append(PendingRecord& rec, uint64_t generation, SegmentTable& segments) {
  auto placed = place(rec, head_, generation, segments.next_to_open());
  if (!placed) return placed.status();
  std::vector<std::span<const uint8_t>> parts;
  parts.reserve(3);
  append_parts(rec, *placed, &parts);
  VBLK_RETURN_IF_ERROR(write(*placed, parts));
  commit(rec, *placed, segments);
  return placed->offset;
}

void LogWriter::mark_durable(uint64_t upto_seq) {
  while (!unsynced_.empty() && unsynced_.front().seq <= upto_seq) unsynced_.pop_front();
}

void LogWriter::checkpoint_written() {
  log_since_checkpoint_ = 0;
  changed_since_checkpoint_ = false;
  undescribed_.clear();
  flush_claim_ = head_.seq - 1;
}

std::vector<PendingRecord> LogWriter::flush_records(uint64_t upto_seq) const {
  std::vector<PendingRecord> out;
  if (!flush_records_ || upto_seq <= flush_claim_ || last_claimable_seq_ <= flush_claim_) return out;
  // undescribed_ is in seq order; describe those the sync covered.
  const auto end = std::find_if(undescribed_.begin(), undescribed_.end(),
                                [&](const format::FlushDescriptor& d) { return d.seq > upto_seq; });
  uint64_t from = flush_claim_ + 1;
  auto it = undescribed_.begin();
  do {
    const size_t n = std::min<size_t>(format::kMaxFlushDescriptors, static_cast<size_t>(end - it));
    format::FlushPayload p;
    p.from_seq = from;
    p.descriptors.assign(it, it + static_cast<std::ptrdiff_t>(n));
    it += static_cast<std::ptrdiff_t>(n);
    p.to_seq = it == end ? upto_seq : p.descriptors.back().seq;
    PendingRecord rec;
    rec.header.type = RecordType::kFlush;
    rec.header.first = upto_seq;
    rec.header.count = static_cast<uint32_t>(n);
    rec.payload = format::encode_flush_payload(p);
    out.push_back(std::move(rec));
    from = p.to_seq + 1;
  } while (it != end);
  return out;
}

void LogWriter::flush_claimed(uint64_t upto_seq) {
  const auto end = std::find_if(undescribed_.begin(), undescribed_.end(),
                                [&](const format::FlushDescriptor& d) { return d.seq > upto_seq; });
  undescribed_.erase(undescribed_.begin(), end);
  flush_claim_ = upto_seq;
}

}  // namespace vblk::store
