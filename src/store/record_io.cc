// Building, appending, applying and reading log records.
#include <spdlog/spdlog.h>

#include <cstring>

#include "format/unit_table.h"
#include "store/store_impl.h"
#include "util/bytes.h"

namespace vblk::store {

using format::IndexEntry;
using format::RecordHeader;
using format::RecordType;


std::vector<PendingRecord> StoreImpl::build_data_records(uint64_t first, std::span<const uint8_t> data, int level,
                                                        bool exact_level) {
  const uint32_t bs = sb_.block_size;
  const uint64_t count = data.size() / bs;
  std::vector<PendingRecord> out;
  // A large write whose samples (one per 128 KiB) all fail to compress is
  // stored raw without sampling each record again (two per record).
  const bool raw_all =
      level > 0 && data.size() >= 256 * 1024 && samples_incompressible(data, data.size() / (128 * 1024));
  // How payloads of more than one unit are laid out (vblk(5), Compression
  // unit): below the image's level (a writer deferring compression) with
  // independent units, for the compression is to be fast and most of these
  // records are recompressed later, and the rest are data the fast levels
  // store as well, on which independent units cost little; at the image's
  // level (final records) the smaller way within kMaxIndependentUnitsCost.
  const UnitLayout layout = !unit_tables_         ? UnitLayout::kNone
                            : !independent_units_ ? UnitLayout::kChained
                            : level < level_      ? UnitLayout::kIndependent
                                                  : UnitLayout::kSmaller;
  // A DATA record of the blocks from `at` whose stored payload is `payload`
  // (compressed, flags set) or the raw bytes themselves (flags 0).
  auto push_data = [&](uint64_t at, std::span<const uint8_t> raw, uint8_t flags, std::vector<uint8_t>&& payload) {
    PendingRecord& rec = out.emplace_back();
    rec.header.type = RecordType::kData;
    rec.header.first = first + at;
    rec.header.count = static_cast<uint32_t>(raw.size() / bs);
    rec.header.raw_len = static_cast<uint32_t>(raw.size());
    rec.header.flags = flags;
    if (flags)
      rec.payload = std::move(payload);
    else
      rec.borrowed = raw;
    rec.header.payload_hash = format::payload_hash(flags, rec.bytes());
    rec.hashed = true;
  };
  // Data stored raw has no unit table, so a read of one of its blocks reads
  // and checks its whole record: raw records hold at most kMaxRawRecordBytes
  // (at least one block).
  const uint64_t raw_record_blocks = std::max<uint64_t>(1, kMaxRawRecordBytes / bs);
  for (uint64_t i = 0; i < count;) {
    bool zero = all_zero(data.data() + i * bs, bs);
    uint64_t j = i + 1;
    uint64_t limit = zero ? (1u << 30) : max_record_blocks_;
    while (j < count && j - i < limit && all_zero(data.data() + j * bs, bs) == zero) ++j;
    if (zero) {
      PendingRecord& rec = out.emplace_back();
      rec.header.type = RecordType::kZero;
      rec.header.first = first + i;
      rec.header.count = static_cast<uint32_t>(j - i);
    } else {
      std::span<const uint8_t> raw = data.subspan(i * bs, (j - i) * bs);
      std::vector<uint8_t> packed;
      int used = 0;
      uint8_t flags = raw_all ? 0 : compress_payload(raw, level, layout, &packed, &used, exact_level);
      // Below the image's level, a payload that the slowest level tried
      // made smallest would likely be smaller still at the image's level.
      if (flags && level < level_ && used == level) flags |= format::kRecordFlagProvisional;
      if (flags) {
        push_data(i, raw, flags, std::move(packed));
      } else {
        for (uint64_t k = i; k < j; k += raw_record_blocks) {
          const uint64_t n = std::min(raw_record_blocks, j - k);
          push_data(k, data.subspan(k * bs, n * bs), 0, {});
        }
      }
    }
    i = j;
  }
  for (size_t k = 1; k < out.size(); ++k) out[k].continues_call = true;
  return out;
}

Result<size_t> StoreImpl::read_image(uint64_t address, std::span<uint8_t> out) {
  const std::span<uint8_t> parts[] = {out};
  return read_image_parts(address, parts);
}

Result<size_t> StoreImpl::read_image_parts(uint64_t address, std::span<const std::span<uint8_t>> parts) {
  if (address >= sb_.data_start) {
    const uint64_t seg = segment_of(address);
    return backend_->read(seg, static_cast<uint32_t>(address - segment_start(seg)), parts);
  }
  // Only the checkpoint slots and the superblock lie below data_start.
  size_t total = 0;
  for (std::span<uint8_t> p : parts) {
    auto n = backend_->read_header(address + total, p);
    if (!n) return n.status();
    total += *n;
    if (*n < p.size()) break;
  }
  return total;
}

Result<uint64_t> StoreImpl::append_record(PendingRecord& rec) {
  VBLK_RETURN_IF_ERROR(start_generation_locked());
  return log_.append(rec, generation_, segments_);
}

Status StoreImpl::append_and_apply(PendingRecord& rec) {
  auto off = append_record(rec);
  if (!off) return off.status();
  return apply_record(rec.header, *off);
}

Status StoreImpl::apply_record(const RecordHeader& h, uint64_t offset) {
  const uint32_t total = format::record_total_length(h.stored_len);
  switch (h.type) {
    case RecordType::kData: {
      if (h.count == 0 || h.count > format::kMaxRecordBlocks)
        return Status::corruption("DATA record covers " + std::to_string(h.count) + " blocks");
      VBLK_RETURN_IF_ERROR(check_range(h.first, h.count));
      if (h.flags & format::kRecordFlagProvisional) segments_.add_provisional(segment_of(offset), total);
      for (uint32_t i = 0; i < h.count; ++i) {
        IndexEntry e{offset, total, static_cast<uint16_t>(i), static_cast<uint8_t>(BlockState::kUsed),
                     static_cast<uint8_t>(h.count - 1)};
        VBLK_RETURN_IF_ERROR(set_entry(h.first + i, e));
      }
      return Status::ok();
    }
    case RecordType::kZero: {
      VBLK_RETURN_IF_ERROR(check_range(h.first, h.count));
      VBLK_RETURN_IF_ERROR(check_replay_growth(h.count));
      IndexEntry e{0, 0, 0, static_cast<uint8_t>(BlockState::kUsed), 0};
      for (uint64_t b = h.first; b < h.first + h.count; ++b) VBLK_RETURN_IF_ERROR(set_entry(b, e));
      return Status::ok();
    }
    case RecordType::kTrim:
    case RecordType::kBadSet: {
      VBLK_RETURN_IF_ERROR(check_range(h.first, h.count));
      // Pages that do not exist hold only FREE blocks, which a trim leaves
      // FREE: only the pages that exist are visited, so a record over a huge
      // range costs what the disk holds (found by the hostile-image test
      // log-trim-1g-blocks).
      const uint64_t end = h.first + h.count;
      if (h.count == 0) return Status::ok();
      for (uint64_t page_no : present_pages(page_of(h.first), page_of(end - 1))) {
        uint64_t b = std::max(h.first, page_no * sb_.entries_per_page);
        const uint64_t page_end = std::min(end, (page_no + 1) * sb_.entries_per_page);
        auto page = get_page(page_no, false);
        if (!page) return page.status();
        if (!*page) continue;
        for (; b < page_end; ++b) {
          const IndexEntry& cur = (*page)->entries[slot_of(b)];
          if (cur.state == static_cast<uint8_t>(BlockState::kFree)) continue;
          if (h.type == RecordType::kTrim && bad_.contains(b)) continue;
          VBLK_RETURN_IF_ERROR(set_entry(b, IndexEntry{0, 0, 0, static_cast<uint8_t>(BlockState::kTrimmed), 0}));
        }
      }
      if (h.type == RecordType::kBadSet) bad_.add(h.first, h.count);
      return Status::ok();
    }
    case RecordType::kBadClear: {
      VBLK_RETURN_IF_ERROR(check_range(h.first, h.count));
      // A cleared block reads zeros: it becomes TRIMMED. Only the BAD ranges
      // are walked, not every block of the record (found by the
      // hostile-image test log-bad-clear-1g-blocks).
      VBLK_RETURN_IF_ERROR(check_replay_growth(bad_.count_in(h.first, h.count)));
      const uint64_t end = h.first + h.count;
      for (uint64_t b = h.first; b < end;) {
        auto bad = bad_.first_in(b, end - b);
        if (!bad) break;
        const uint64_t bad_end = std::min(end, bad_.run_end(*bad));
        for (b = *bad; b < bad_end; ++b)
          VBLK_RETURN_IF_ERROR(set_entry(b, IndexEntry{0, 0, 0, static_cast<uint8_t>(BlockState::kTrimmed), 0}));
      }
      bad_.remove(h.first, h.count);
      return Status::ok();
    }
    case RecordType::kPage:
    case RecordType::kMeta:
      // Written by a checkpoint that did not complete: nothing to apply.
    case RecordType::kFlush:
      // Read by replay for its claim (replay.cc); changes no block.
      return Status::ok();
  }
  return Status::corruption("unknown record type");
}

Status StoreImpl::read_record(uint64_t offset, uint32_t length_hint, RecordHeader* h, RawBuffer* raw,
                               std::vector<uint8_t>* stored, size_t raw_needed) {
  if (is_damage_sentinel(offset)) return Status::corruption("its log record was lost to damage in the image");
  // Reused by the thread's next reads: no allocation per record.
  thread_local RawBuffer buf;
  buf.resize(std::max<uint32_t>(length_hint, format::kRecordHeaderSize));
  auto n = read_image(offset, buf);
  if (!n) return n.status();
  if (*n < format::kRecordHeaderSize) return Status::corruption("record truncated at end of file");
  auto hdr = format::decode_record_header({buf.data(), format::kRecordHeaderSize});
  if (!hdr) return hdr.status();
  *h = *hdr;
  const uint32_t total = format::record_total_length(h->stored_len);
  if (total != buf.size()) {
    buf.resize(total);
    n = read_image(offset, buf);
    if (!n) return n.status();
  }
  if (*n < format::kRecordHeaderSize + h->stored_len) return Status::corruption("record truncated at end of file");
  std::span<const uint8_t> payload(buf.data() + format::kRecordHeaderSize, h->stored_len);
  VBLK_RETURN_IF_ERROR(check_payload(*h, payload));
  if (stored) stored->assign(payload.begin(), payload.end());
  if (raw) {
    raw->resize(h->raw_len);
    VBLK_RETURN_IF_ERROR(decode_payload(*h, payload, *raw, raw_needed));
  }
  return Status::ok();
}

Status StoreImpl::check_payload(const RecordHeader& h, std::span<const uint8_t> payload) const {
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

size_t StoreImpl::first_part_read(const IndexEntry& e, size_t raw_begin, size_t raw_end) const {
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

Status StoreImpl::read_record_part(const IndexEntry& e, size_t raw_begin, size_t raw_end, RecordHeader* h,
                                   RawBuffer* raw) {
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
  if (!hdr) return hdr.status();
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
  VBLK_RETURN_IF_ERROR(table->check_units(bytes, first, last));
  raw->resize(h->raw_len);
  return decompress_units(*table, independent, bytes, first, last, *raw);
}

Status StoreImpl::read_raw_record(const IndexEntry& e, size_t raw_len, RecordHeader* h, RawBuffer* raw) {
  // The header and the payload, each where it belongs, in one read.
  std::array<uint8_t, format::kRecordHeaderSize> head;
  raw->resize(raw_len);
  const std::span<uint8_t> parts[] = {head, std::span<uint8_t>(raw->data(), raw_len)};
  auto n = read_image_parts(e.record_offset, parts);
  if (!n) return n.status();
  if (*n < head.size()) return Status::corruption("record truncated at end of file");
  auto hdr = format::decode_record_header(head);
  if (!hdr) return hdr.status();
  *h = *hdr;
  // Not the raw record the entry describes: the whole read says what it is.
  if ((h->flags & (format::kRecordFlagCompressed | format::kRecordFlagUnitTable)) || h->stored_len != raw_len)
    return read_record(e.record_offset, e.record_length, h, raw);
  if (*n < head.size() + raw_len) return Status::corruption("record truncated at end of file");
  return check_payload(*h, std::span<const uint8_t>(raw->data(), raw_len));
}

}  // namespace vblk::store
