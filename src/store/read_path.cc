// The read path: blocks, their locations, and the fault injection that
// damages a stored byte.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "format/unit_table.h"
#include "store/store_impl.h"

namespace vblk::store {

using format::IndexEntry;
using format::RecordHeader;
using format::RecordType;

Status StoreImpl::read_blocks(uint64_t first, uint64_t count, std::span<uint8_t> out) {
  const uint32_t bs = sb_.block_size;
  if (out.size() != count * bs) return Status::invalid_argument("read buffer size does not match the block count");
  std::vector<IndexEntry> entries(count);
  idle_.note_request();
  {
    MutexLock lock(mu_);
    VBLK_RETURN_IF_ERROR(check_powered());
    VBLK_RETURN_IF_ERROR(check_range(first, count));
    if (auto bad = bad_.first_in(first, count))
      return Status::bad_block("block " + std::to_string(*bad) + " is BAD");
    for (uint64_t i = 0; i < count; ++i) {
      auto e = get_entry(first + i);
      if (!e) return e.status();
      entries[i] = *e;
    }
    evict_pages();
  }
  thread_local RawBuffer raw;  // reused: no allocation per read
  for (uint64_t i = 0; i < count;) {
    const IndexEntry& e = entries[i];
    uint8_t* dst = out.data() + i * bs;
    if (e.record_offset == 0) {
      std::memset(dst, 0, bs);
      ++i;
      continue;
    }
    // Blocks i..j-1 come from the same record.
    uint64_t j = i + 1;
    while (j < count && entries[j].record_offset == e.record_offset) ++j;
    RecordHeader h;
    Status s;
    for (int attempt = 0;; ++attempt) {
      // Only the units of the record that hold the blocks read need decoding.
      uint32_t lowest = entries[i].index_in_record, last = 0;
      for (uint64_t k = i; k < j; ++k) {
        lowest = std::min<uint32_t>(lowest, entries[k].index_in_record);
        last = std::max<uint32_t>(last, entries[k].index_in_record);
      }
      s = reader_.read_record_part(entries[i], size_t{lowest} * bs, (size_t{last} + 1) * bs, &h, &raw);
      if (s && (h.type != RecordType::kData || raw.size() != size_t{h.count} * bs))
        s = Status::corruption("record does not hold this block");
      // Each block of the stretch must sit at its own place in the record:
      // an index entry naming another block's place would read that block's
      // data (found by the hostile-image test entry-swapped).
      for (uint64_t k = i; s && k < j; ++k)
        if (entries[k].index_in_record >= h.count || h.first + entries[k].index_in_record != first + k)
          s = Status::corruption("record does not hold this block");
      if (s || attempt == 3) break;
      // The record may have moved (overwrite, reclaim) since the lookup.
      MutexLock lock(mu_);
      bool moved = false;
      for (uint64_t k = i; k < j; ++k) {
        auto now = get_entry(first + k);
        if (!now) return now.status();
        if (!(*now == entries[k])) moved = true;
        entries[k] = *now;
      }
      if (!moved) break;
      if (entries[i].record_offset != e.record_offset) {
        j = i;  // re-plan this stretch from the fresh entries
        break;
      }
    }
    if (j == i) continue;
    // Keep the cause's code: a host read error is not damage to the image
    // (found by the crash test HostFault/read*).
    if (!s)
      return s.with_prefix("block " + std::to_string(first + i) + ": record at image offset " +
                           std::to_string(e.record_offset));
    for (uint64_t k = i; k < j; ++k)
      std::memcpy(out.data() + k * bs, raw.data() + size_t{entries[k].index_in_record} * bs, bs);
    i = j;
  }
  return Status::ok();
}

Result<BlockLocation> StoreImpl::locate(uint64_t block) {
  IndexEntry e;
  BlockLocation loc;
  {
    MutexLock lock(mu_);
    VBLK_RETURN_IF_ERROR(check_range(block, 1));
    auto r = get_entry(block);
    if (!r) return r.status();
    e = *r;
    loc.state = effective_state(block, e);
  }
  loc.zero = e.state == static_cast<uint8_t>(BlockState::kUsed) && e.record_offset == 0;
  loc.record_offset = e.record_offset;
  loc.record_length = e.record_length;
  loc.index_in_record = e.index_in_record;
  if (e.record_offset) {
    std::array<uint8_t, format::kRecordHeaderSize> buf{};
    auto n = reader_.read_image(e.record_offset, buf);
    if (!n) return n.status();
    auto h = format::decode_record_header(std::span<const uint8_t>(buf.data(), *n));
    // A damaged record (or the damage sentinel) is still where the index
    // says; reading the block says what is wrong with it.
    if (!h || is_damage_sentinel(e.record_offset)) {
      loc.record_blocks = e.blocks_minus_one + 1u;
      return loc;
    }
    loc.record_first_block = h->first;
    loc.record_blocks = h->count;
    loc.compressed = h->flags & format::kRecordFlagCompressed;
    loc.provisional = h->flags & format::kRecordFlagProvisional;
    loc.unit_table = h->flags & format::kRecordFlagUnitTable;
    loc.independent_units = h->flags & format::kRecordFlagIndependentUnits;
    loc.stored_payload = h->stored_len;
  }
  return loc;
}

Result<bool> StoreImpl::stored_zero(uint64_t block) {
  MutexLock lock(mu_);
  VBLK_RETURN_IF_ERROR(check_range(block, 1));
  auto e = get_entry(block);
  if (!e) return e.status();
  return effective_state(block, *e) == BlockState::kUsed && e->record_offset == 0;
}

Status StoreImpl::corrupt_block(uint64_t block) {
  MutexLock lock(mu_);
  VBLK_RETURN_IF_ERROR(check_writable());
  VBLK_RETURN_IF_ERROR(check_range(block, 1));
  auto e = get_entry(block);
  if (!e) return e.status();
  if (e->record_offset == 0)
    return Status::invalid_argument("block " + std::to_string(block) + " has no stored data to corrupt");
  // Already failing its check: corrupting it again could flip the byte
  // back. The block stays damaged, as asked.
  format::RecordHeader h;
  RawBuffer raw;
  const size_t begin = size_t{e->index_in_record} * sb_.block_size;
  Status readable = reader_.read_record_part(*e, begin, begin + sb_.block_size, &h, &raw);
  if (readable.is_corruption()) return Status::ok();
  auto at = corruption_target(*e);
  if (!at) return at.status();
  uint8_t byte = 0;
  auto n = reader_.read_image(*at, {&byte, 1});
  if (!n) return n.status();
  byte ^= 0x5a;
  return backend_->overwrite(segment_of(*at), static_cast<uint32_t>(*at - segment_start(segment_of(*at))),
                             {&byte, 1});
}

Result<uint64_t> StoreImpl::corruption_target(const IndexEntry& e) {
  const uint64_t payload_at = e.record_offset + format::kRecordHeaderSize;
  const uint64_t middle = payload_at + (e.record_length - format::kRecordHeaderSize) / 2;
  // A read checks a payload with a unit table only up to the unit it
  // needs: the byte must be in the unit that holds the block.
  std::array<uint8_t, format::kRecordHeaderSize> head;
  auto n = reader_.read_image(e.record_offset, head);
  if (!n) return n.status();
  auto h = format::decode_record_header({head.data(), *n});
  if (!h || !(h->flags & format::kRecordFlagUnitTable)) return middle;
  RawBuffer table_bytes;
  table_bytes.resize(std::min<size_t>(h->stored_len, format::unit_table_size(format::unit_count_for(
                                                          h->raw_len, format::kMinBlockSize))));
  n = reader_.read_image(payload_at, std::span<uint8_t>(table_bytes.data(), table_bytes.size()));
  if (!n) return n.status();
  auto table = format::decode_unit_table({table_bytes.data(), *n}, h->stored_len, h->raw_len, h->payload_hash);
  if (!table) return middle;  // damaged already: any byte will do
  const uint32_t unit = table->unit_of(size_t{e.index_in_record} * sb_.block_size);
  if (unit >= table->unit_count()) return middle;  // the entry does not fit the record: reads fail anyway
  const uint32_t start = unit ? table->end(unit - 1) : 0;
  return payload_at + table->size() + (start + table->end(unit)) / 2;
}

}  // namespace vblk::store
