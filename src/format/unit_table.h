#pragma once
// The unit table: the head of a compressed DATA payload whose record has
// flag bit 1 (kRecordFlagUnitTable; images with the incompatible feature
// kFeatureUnitTables). The normative description is man/vblk.5, UNIT TABLE.
//
// A payload longer than one unit is cut into units of unit_bytes of input,
// laid out one of two ways:
//   chained      (flag bit 3 clear) one zstd frame that ends a zstd block
//                after every unit: unit i decodes only after units 0..i-1,
//                whose window it refers back to;
//   independent  (flag bit 3, kRecordFlagIndependentUnits; images with
//                kFeatureIndependentUnits) one zstd frame per unit, back to
//                back: unit i decodes from its own bytes alone.
// The table says where each unit's compressed bytes end and holds their
// checksums, and the record's payload_hash is the checksum of the table: a
// whole read checks the table and every unit; a read of a few blocks the
// table and the units it decodes (chained: units 0 up to the one holding
// the last of them; independent: only the units holding them), and reads
// and decodes no others.
//
// Byte ranges (from the start of the payload):
//   0       u32 unit_bytes   raw bytes per unit: a power of two >= 512
//   4       u32 unit_count   N = ceil(raw_len / unit_bytes), >= 2
//   8       N x { u32 end, u32 reserved zero, u64 hash }
//             end:  offset in the frames just past unit i's compressed
//                   bytes; strictly increasing; the last is the length of
//                   the frames
//             hash: XXH3-64 of the bytes [end(i-1), end(i)), end(-1) = 0
//   8+16N   the zstd frame (chained) or frames (independent), to the end
//           of the payload
// The record header's payload_hash: XXH3-64 of bytes [0, 8+16N).
//
// Pure encode/decode and validation; no I/O and no zstd (the store decodes
// the frames). The decoder never trusts its input.

#include <algorithm>
#include <cstdint>
#include <span>

#include "vblk/status.h"

namespace vblk::format {

inline constexpr uint32_t kUnitTableHeadSize = 8;
inline constexpr uint32_t kUnitTableEntrySize = 16;

inline constexpr size_t unit_table_size(uint32_t unit_count) {
  return kUnitTableHeadSize + size_t{kUnitTableEntrySize} * unit_count;
}
inline constexpr uint32_t unit_count_for(uint32_t raw_len, uint32_t unit_bytes) {
  return (raw_len + unit_bytes - 1) / unit_bytes;
}

// Writes the table for `frame` (the frame or frames after the table),
// whose units end at `ends` (one per unit, the last = frame.size()), into
// out (REQUIRES out.size() == unit_table_size(ends.size())). The record's
// payload_hash is then payload_hash() of the table and frame.
void encode_unit_table(uint32_t unit_bytes, std::span<const uint32_t> ends, std::span<const uint8_t> frame,
                       std::span<uint8_t> out);

// A decoded and checked table; it points into the bytes it was decoded from.
class UnitTable {
 public:
  uint32_t unit_bytes() const { return unit_bytes_; }
  uint32_t unit_count() const { return unit_count_; }
  size_t size() const { return unit_table_size(unit_count_); }
  // Offset past the table just past unit i (REQUIRES i < unit_count()).
  uint32_t end(uint32_t i) const;
  // Where unit i's bytes begin: end(i - 1), 0 for unit 0.
  uint32_t start(uint32_t i) const { return i ? end(i - 1) : 0; }
  // The unit that holds raw byte `raw_offset`.
  uint32_t unit_of(size_t raw_offset) const { return static_cast<uint32_t>(raw_offset / unit_bytes_); }
  // The raw bytes unit i decodes to: unit_bytes(), less for the last unit
  // of a record whose length is not a multiple of it.
  size_t unit_raw_bytes(uint32_t i, uint32_t raw_len) const {
    return std::min<size_t>(unit_bytes_, raw_len - size_t{i} * unit_bytes_);
  }
  // Checks the checksums of units first..last against `bytes`, which begins
  // at start(first) and must hold at least up to end(last).
  Status check_units(std::span<const uint8_t> bytes, uint32_t first, uint32_t last) const;
  Status check_units(std::span<const uint8_t> frame, uint32_t last) const { return check_units(frame, 0, last); }

 private:
  friend Result<UnitTable> decode_unit_table(std::span<const uint8_t>, uint32_t, uint32_t, uint64_t);
  const uint8_t* entries_ = nullptr;
  uint32_t unit_bytes_ = 0;
  uint32_t unit_count_ = 0;
};

// Decodes the table at the start of `in` (which may hold only part of the
// payload, but at least the table) of a payload of stored_len bytes that
// decompresses to raw_len, whose record's payload_hash is `table_hash`.
// Checks the table's checksum and geometry, and that the ends rise
// strictly to the frame's length.
Result<UnitTable> decode_unit_table(std::span<const uint8_t> in, uint32_t stored_len, uint32_t raw_len,
                                    uint64_t table_hash);

// The payload_hash of a record with these flags and stored payload: of the
// unit table when it has one (REQUIRES: the table is whole), else of the
// whole payload.
uint64_t payload_hash(uint8_t flags, std::span<const uint8_t> payload);

}  // namespace vblk::format
