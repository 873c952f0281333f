// Reading log records and checking them (record_reader.h).
#include "store/record_reader.h"

#include <algorithm>
#include <array>

#include "format/unit_table.h"
#include "store/compression.h"
#include "util/bytes.h"

namespace vblk::store {

using format::IndexEntry;
using format::RecordHeader;

RecordReader::RecordReader(const format::Superblock& sb, SegmentBackend& backend)
    : sb_(sb),
      backend_(backend),
      unit_tables_(sb.incompat_features & format::kFeatureUnitTables),
      independent_units_(sb.incompat_features & format::kFeatureIndependentUnits) {}

Result<size_t> RecordReader::read_image(uint64_t address, std::span<uint8_t> out) const {
  const std::span<uint8_t> parts[] = {out};
  return read_image_parts(address, parts);
}

Result<size_t> RecordReader::read_image_parts(uint64_t address, std::span<const std::span<uint8_t>> parts) const {
  if (address >= sb_.data_start) {
    const uint64_t seg = segment_of(address);
    return backend_.read(seg, static_cast<uint32_t>(address - segment_start(seg)), parts);
  }
  // Only the checkpoint slots and the superblock lie below data_start.
  size_t total = 0;
  for (std::span<uint8_t> p : parts) {
    auto n = backend_.read_header(address + total, p);
    if (!n) return n.status();
    total += *n;
    if (*n < p.size()) break;
  }
  return total;
}

Status RecordReader::read_record(uint64_t offset, uint32_t length_hint, RecordHeader* h, RawBuffer* raw,
                                  std::vector<uint8_t>* stored, size_t raw_needed) const {
  if (is_damage_sentinel(offset)) return Status::corruption("its log record was lost to damage in the image");
  // Reused by the thread's next reads: no allocation per record.
  thread_local RawBuffer buf;
  buf.resize(std::max<uint32_t>(length_hint, format::kRecordHeaderSize));
  auto n = read_image(offset, buf);
  if (!n) return n.status();
  if (*n < format::kRecordHeaderSize) return Status::corruption("record truncated at end of file");
  auto hdr = format::decode_record_header({buf.data(), format::kRecordHeaderSize});
  Status checked = hdr.status();
  if (hdr) {
    *h = *hdr;
    const uint32_t total = format::record_total_length(h->stored_len);
    if (total != buf.size()) {
      buf.resize(total);
      n = read_image(offset, buf);
      if (!n) return n.status();
    }
    if (*n < format::kRecordHeaderSize + h->stored_len) return Status::corruption("record truncated at end of file");
    checked = check_payload(*h, {buf.data() + format::kRecordHeaderSize, h->stored_len});
  }
  if (!checked) {
    // Only a record an index entry names (its length known) is healed: a
    // scan for records meets bytes that are none where the log ends.
    if (length_hint <= format::kRecordHeaderSize || buf.size() != length_hint) return checked;
    VBLK_RETURN_IF_ERROR(heal(offset, buf, checked));
    *h = *format::decode_record_header({buf.data(), format::kRecordHeaderSize});
  }
  std::span<const uint8_t> payload(buf.data() + format::kRecordHeaderSize, h->stored_len);
  if (stored) stored->assign(payload.begin(), payload.end());
  if (raw) {
    raw->resize(h->raw_len);
    VBLK_RETURN_IF_ERROR(decode_payload(*h, payload, *raw, raw_needed));
  }
  return Status::ok();
}

bool RecordReader::record_passes(std::span<const uint8_t> bytes) const {
  if (bytes.size() < format::kRecordHeaderSize) return false;
  auto h = format::decode_record_header(bytes.first(format::kRecordHeaderSize));
  return h && format::record_total_length(h->stored_len) == bytes.size() &&
         check_payload(*h, bytes.subspan(format::kRecordHeaderSize, h->stored_len));
}

Status RecordReader::heal(uint64_t offset, std::span<uint8_t> bytes, const Status& failed) const {
  if (offset < sb_.data_start) return failed;
  const uint64_t seg = segment_of(offset);
  const auto passes = [this](std::span<const uint8_t> b) { return record_passes(b); };
  Status healed = backend_.heal(seg, static_cast<uint32_t>(offset - segment_start(seg)), bytes, passes);
  // What the caller is told is what was wrong with the record as read.
  return healed ? healed : failed;
}

Status RecordReader::check_payload(const RecordHeader& h, std::span<const uint8_t> payload) const {
  if (!(h.flags & format::kRecordFlagUnitTable)) {
    if (format::hash64(payload.data(), payload.size()) != h.payload_hash)
      return Status::corruption("record payload checksum mismatch");
    return Status::ok();
  }
  if (!unit_tables_) return Status::corruption("record has a unit table, but the image lacks the unit-tables feature");
  if ((h.flags & format::kRecordFlagIndependentUnits) && !independent_units_)
    return Status::corruption("record has independent units, but the image lacks the independent-units feature");
  auto table = format::decode_unit_table(payload, h.stored_len, h.raw_len, h.payload_hash);
  if (!table) return table.status();
  return table->check_units(payload.subspan(table->size()), table->unit_count() - 1);
}

size_t RecordReader::first_part_read(const IndexEntry& e, size_t raw_begin, size_t raw_end) const {
  const size_t raw_len = (size_t{e.blocks_minus_one} + 1) * sb_.block_size;
  const uint32_t units = format::unit_count_for(static_cast<uint32_t>(raw_len), kDecodeUnit);
  const size_t fixed = format::kRecordHeaderSize + format::unit_table_size(units);
  // A read that needs no unit before the one holding raw_begin, on an image
  // whose units may be independent: the header and table are read first,
  // then only the units the table says are needed (the units before them
  // too when they are chained).
  const bool skip_leading = independent_units_ && raw_begin >= kDecodeUnit;
  // (A record longer than a raw one of its blocks is none vblk writes, nor
  // a range past the record's end: the whole read says what is wrong.)
  if (!unit_tables_ || (raw_end >= raw_len && !skip_leading) || raw_begin >= raw_len || raw_begin >= raw_end ||
      raw_len <= kDecodeUnit || e.record_length <= fixed || e.record_length >= format::kRecordHeaderSize + raw_len)
    return 0;
  if (skip_leading) return fixed;
  // Otherwise one read of what the table will most likely say is needed,
  // should the record's units have compressed to about the same size: its
  // header and table, and its frame up to the unit holding the last byte
  // needed, with a margin. A second read fetches the rest.
  const size_t units_needed = format::unit_count_for(static_cast<uint32_t>(raw_end), kDecodeUnit);
  const size_t frame_guess = (e.record_length - fixed) * units_needed / units;
  const size_t guess = fixed + frame_guess + frame_guess / 16 + 512;
  return guess >= e.record_length ? 0 : guess;
}

Status RecordReader::read_record_part(const IndexEntry& e, size_t raw_begin, size_t raw_end, RecordHeader* h,
                                      RawBuffer* raw) const {
  const size_t raw_len = (size_t{e.blocks_minus_one} + 1) * sb_.block_size;
  auto whole = [&] { return read_record(e.record_offset, e.record_length, h, raw, nullptr, raw_end); };
  if (is_damage_sentinel(e.record_offset)) return whole();
  if (e.record_length == format::record_total_length(static_cast<uint32_t>(raw_len)))
    return read_raw_record(e, raw_len, h, raw);
  const size_t guess = first_part_read(e, raw_begin, raw_end);
  if (guess == 0) return whole();
  // Reused by the thread's next reads: no allocation per record.
  thread_local RawBuffer buf;
  buf.resize(guess);
  auto n = read_image(e.record_offset, buf);
  if (!n) return n.status();
  size_t have = *n;
  // Reads on to `want` bytes of the record if the first read fell short.
  auto read_to = [&](size_t want) -> Status {
    if (want <= have) return Status::ok();
    buf.resize(want);
    auto more = read_image(e.record_offset + have, std::span<uint8_t>(buf.data() + have, want - have));
    if (!more) return more.status();
    if (have + *more < want) return Status::corruption("record truncated at end of file");
    have = want;
    return Status::ok();
  };
  if (have < format::kRecordHeaderSize) return Status::corruption("record truncated at end of file");
  auto hdr = format::decode_record_header({buf.data(), format::kRecordHeaderSize});
  if (!hdr) return whole();  // which heals it where it can
  *h = *hdr;
  // Written without a table (or not the record the entry describes: the
  // whole read says what is wrong with it).
  if (!(h->flags & format::kRecordFlagUnitTable) || h->raw_len != raw_len) return whole();
  // The table (longer than the guess if its units are smaller than 32 KiB),
  // then the units needed. The table points into the buffer, so it is
  // decoded again after the buffer grows.
  auto decode_table = [&] {
    return format::decode_unit_table({buf.data() + format::kRecordHeaderSize, have - format::kRecordHeaderSize},
                                     h->stored_len, h->raw_len, h->payload_hash);
  };
  VBLK_RETURN_IF_ERROR(read_to(format::kRecordHeaderSize + format::kUnitTableHeadSize));
  const size_t table_size = format::unit_table_size(format::get_u32(buf.data() + format::kRecordHeaderSize + 4));
  if (table_size > h->stored_len) return Status::corruption("unit table longer than the payload");
  VBLK_RETURN_IF_ERROR(read_to(format::kRecordHeaderSize + table_size));
  auto table = decode_table();
  if (!table) return table.status();
  const bool independent = h->flags & format::kRecordFlagIndependentUnits;
  if (independent && !independent_units_) return whole();  // which refuses it
  const uint32_t first = independent ? table->unit_of(raw_begin) : 0;
  const uint32_t last = raw_end >= raw_len ? table->unit_count() - 1 : table->unit_of(raw_end - 1);
  // Record offsets of the bytes of units first..last.
  const size_t frames_at = format::kRecordHeaderSize + table->size();
  const size_t lo = frames_at + table->start(first), hi = frames_at + table->end(last);
  std::span<const uint8_t> bytes;
  if (lo <= have) {
    // They follow what was read (always so from unit 0).
    if (hi > have) {
      VBLK_RETURN_IF_ERROR(read_to(hi));
      table = decode_table();
      if (!table) return table.status();
    }
    bytes = {buf.data() + lo, hi - lo};
  } else {
    // Apart from it: read into the buffer past the table.
    buf.resize(frames_at + (hi - lo));
    have = frames_at;
    auto got = read_image(e.record_offset + lo, std::span<uint8_t>(buf.data() + frames_at, hi - lo));
    if (!got) return got.status();
    if (*got < hi - lo) return Status::corruption("record truncated at end of file");
    table = decode_table();
    if (!table) return table.status();
    bytes = {buf.data() + frames_at, hi - lo};
  }
  if (Status units = table->check_units(bytes, first, last); !units) {
    // Damaged units: the whole record read again, healed where the backend
    // can; what was found here otherwise.
    return whole() ? Status::ok() : units;
  }
  raw->resize(h->raw_len);
  return decompress_units(*table, independent, bytes, first, last, *raw);
}

Status RecordReader::read_raw_record(const IndexEntry& e, size_t raw_len, RecordHeader* h, RawBuffer* raw) const {
  // The header and the payload, each where it belongs, in one read.
  std::array<uint8_t, format::kRecordHeaderSize> head;
  raw->resize(raw_len);
  const std::span<uint8_t> parts[] = {head, std::span<uint8_t>(raw->data(), raw_len)};
  auto n = read_image_parts(e.record_offset, parts);
  if (!n) return n.status();
  if (*n < head.size()) return Status::corruption("record truncated at end of file");
  auto hdr = format::decode_record_header(head);
  if (!hdr) return read_record(e.record_offset, e.record_length, h, raw);
  *h = *hdr;
  // Not the raw record the entry describes: the whole read says what it is.
  if ((h->flags & (format::kRecordFlagCompressed | format::kRecordFlagUnitTable)) || h->stored_len != raw_len)
    return read_record(e.record_offset, e.record_length, h, raw);
  if (*n < head.size() + raw_len) return Status::corruption("record truncated at end of file");
  if (check_payload(*h, std::span<const uint8_t>(raw->data(), raw_len))) return Status::ok();
  // Damaged: read whole by read_record, which heals it where it can.
  return read_record(e.record_offset, e.record_length, h, raw);
}

}  // namespace vblk::store
