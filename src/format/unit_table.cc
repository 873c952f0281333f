#include "format/unit_table.h"

#include <algorithm>
#include <string>

#include "format/format.h"

namespace vblk::format {

namespace {

uint32_t entry_end(const uint8_t* entries, uint32_t i) { return get_u32(entries + size_t{i} * kUnitTableEntrySize); }

}  // namespace

void encode_unit_table(uint32_t unit_bytes, std::span<const uint32_t> ends, std::span<const uint8_t> frame,
                       std::span<uint8_t> out) {
  uint8_t* p = out.data();
  put_u32(p, unit_bytes);
  put_u32(p + 4, static_cast<uint32_t>(ends.size()));
  uint32_t start = 0;
  for (size_t i = 0; i < ends.size(); ++i) {
    uint8_t* e = p + kUnitTableHeadSize + i * kUnitTableEntrySize;
    put_u32(e, ends[i]);
    put_u32(e + 4, 0);
    put_u64(e + 8, hash64(frame.data() + start, ends[i] - start));
    start = ends[i];
  }
}

uint64_t payload_hash(uint8_t flags, std::span<const uint8_t> payload) {
  if (!(flags & kRecordFlagUnitTable) || payload.size() < kUnitTableHeadSize)
    return hash64(payload.data(), payload.size());
  return hash64(payload.data(), std::min<size_t>(payload.size(), unit_table_size(get_u32(payload.data() + 4))));
}

uint32_t UnitTable::end(uint32_t i) const { return entry_end(entries_, i); }

Status UnitTable::check_units(std::span<const uint8_t> bytes, uint32_t first, uint32_t last) const {
  // Offsets in `bytes` are those past the table less `base`.
  const uint32_t base = start(first);
  uint32_t at = base;
  for (uint32_t i = first; i <= last; ++i) {
    const uint8_t* e = entries_ + size_t{i} * kUnitTableEntrySize;
    const uint32_t stop = get_u32(e);
    if (stop - base > bytes.size()) return Status::corruption("unit table: unit ends past the bytes read");
    if (hash64(bytes.data() + (at - base), stop - at) != get_u64(e + 8))
      return Status::corruption("unit " + std::to_string(i) + " of the payload: checksum mismatch");
    at = stop;
  }
  return Status::ok();
}

Result<UnitTable> decode_unit_table(std::span<const uint8_t> in, uint32_t stored_len, uint32_t raw_len,
                                    uint64_t table_hash) {
  if (in.size() < kUnitTableHeadSize || stored_len < kUnitTableHeadSize)
    return Status::corruption("unit table truncated");
  const uint8_t* p = in.data();
  UnitTable t;
  t.unit_bytes_ = get_u32(p);
  t.unit_count_ = get_u32(p + 4);
  // A count within what raw_len allows, so the size below cannot overflow
  // (the checks against stored_len and in.size() keep the checksum in bounds).
  if (t.unit_count_ < 2 || t.unit_count_ > raw_len / kMinBlockSize + 1)
    return Status::corruption("unit table: " + std::to_string(t.unit_count_) + " units");
  const size_t size = unit_table_size(t.unit_count_);
  if (size > stored_len) return Status::corruption("unit table longer than the payload");
  if (size > in.size()) return Status::corruption("unit table truncated");
  if (hash64(p, size) != table_hash) return Status::corruption("unit table checksum mismatch");
  if (t.unit_bytes_ < kMinBlockSize || !is_power_of_two(t.unit_bytes_))
    return Status::corruption("unit table: unit size " + std::to_string(t.unit_bytes_) + " invalid");
  if (t.unit_count_ != unit_count_for(raw_len, t.unit_bytes_))
    return Status::corruption("unit table: " + std::to_string(t.unit_count_) + " units do not cover " +
                              std::to_string(raw_len) + " bytes of " + std::to_string(t.unit_bytes_));
  t.entries_ = p + kUnitTableHeadSize;
  const size_t frame_len = stored_len - size;
  uint32_t prev = 0;
  for (uint32_t i = 0; i < t.unit_count_; ++i) {
    const uint8_t* e = t.entries_ + size_t{i} * kUnitTableEntrySize;
    if (get_u32(e + 4) != 0) return Status::corruption("unit table reserved bytes are not zero");
    const uint32_t end = get_u32(e);
    if (end <= prev) return Status::corruption("unit table: unit ends do not rise");
    prev = end;
  }
  if (prev != frame_len) return Status::corruption("unit table: the last unit does not end the payload");
  return t;
}

}  // namespace vblk::format
