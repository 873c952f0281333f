#pragma once
// RecordReader: reads log records from the image and checks them against
// their hashes (vblk(5) RECORDS). It holds no lock and needs none: a record
// is written before any index entry names it, and a record that the
// cleaner freed or a writer replaced meanwhile fails its check, which the
// caller answers by looking the block up again (read_path.cc).

#include <cstdint>
#include <span>
#include <vector>

#include "format/format.h"
#include "store/raw_buffer.h"
#include "store/segment_backend.h"
#include "vblk/status.h"

namespace vblk::store {

class RecordReader {
 public:
  RecordReader(const format::Superblock& sb, SegmentBackend& backend);

  // Reads at an address of the image (segment_backend.h): in the header
  // area, or within one segment (never past its end).
  Result<size_t> read_image(uint64_t address, std::span<uint8_t> out) const;
  Result<size_t> read_image_parts(uint64_t address, std::span<const std::span<uint8_t>> parts) const;

  // Reads and verifies a record at offset (one that fails its checksums is
  // healed from the backend's redundancy when it has some and length_hint
  // is the record's length, as an index entry gives it); payload decompressed into *raw
  // when raw != nullptr, and copied as stored into *stored when stored !=
  // nullptr. With raw_needed, only the first raw_needed bytes of *raw are
  // filled (at least; *raw still has the record's length): a read of a few
  // blocks need not decode the whole record.
  Status read_record(uint64_t offset, uint32_t length_hint, format::RecordHeader* h, RawBuffer* raw,
                     std::vector<uint8_t>* stored = nullptr, size_t raw_needed = SIZE_MAX) const;
  // read_record(e.record_offset, e.record_length, h, raw, nullptr,
  // raw_end) for the DATA record of index entry e, which reads, checks and
  // decodes only the units of a record with a unit table that a read of
  // its raw bytes [raw_begin, raw_end) needs: those up to the one holding
  // byte raw_end - 1 when they are chained, only those holding the range
  // when they are independent. The rest of *raw is left as it was.
  Status read_record_part(const format::IndexEntry& e, size_t raw_begin, size_t raw_end, format::RecordHeader* h,
                          RawBuffer* raw) const;
  // How many bytes of e's record read_record_part reads first for raw
  // bytes [raw_begin, raw_end); 0 when it reads the whole record instead.
  size_t first_part_read(const format::IndexEntry& e, size_t raw_begin, size_t raw_end) const;
  // Checks a whole stored payload against its record's payload_hash: the
  // hash of all of it, or, with a unit table (allowed only when the image
  // has the feature), of the table, and each unit against the table.
  Status check_payload(const format::RecordHeader& h, std::span<const uint8_t> payload) const;

  uint64_t segment_of(uint64_t offset) const { return (offset - sb_.data_start) / sb_.segment_size; }
  uint64_t segment_start(uint64_t seg) const { return sb_.data_start + seg * sb_.segment_size; }
  // Index entries of blocks whose record was lost to damage name the start
  // of a segment, where a segment header lies and never a record: their
  // reads fail, and they hold no space (vblk(5) INDEX).
  bool is_damage_sentinel(uint64_t record_offset) const {
    return record_offset >= sb_.data_start && (record_offset - sb_.data_start) % sb_.segment_size == 0;
  }

 private:
  // bytes hold a whole record that passes its checksums.
  bool record_passes(std::span<const uint8_t> bytes) const;
  // The record at offset, read into bytes, failed (`failed` says how): the
  // backend's copy rebuilt from its redundancy into bytes when one passes
  // (SegmentBackend::heal); `failed` when none does.
  Status heal(uint64_t offset, std::span<uint8_t> bytes, const Status& failed) const;
  // A record stored raw (its length says so): the payload is read straight
  // into *raw and checked there, instead of being read with the header and
  // copied out; header and payload come in one read (read_image_parts).
  Status read_raw_record(const format::IndexEntry& e, size_t raw_len, format::RecordHeader* h, RawBuffer* raw) const;

  const format::Superblock& sb_;
  SegmentBackend& backend_;
  const bool unit_tables_;        // the image has kFeatureUnitTables: DATA payloads get unit tables
  const bool independent_units_;  // the image has kFeatureIndependentUnits: their units may be independent
};

}  // namespace vblk::store
