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

}  // namespace vblk::store
