#include "format/format.h"

#include <uuid/uuid.h>
#include <xxhash.h>

#include <cstdio>
#include <cstring>

#include "util/bytes.h"

namespace vblk::format {

void put_u16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}
void put_u32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
void put_u64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint16_t get_u16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t get_u32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
uint64_t get_u64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
uint64_t hash64(const void* data, size_t len) { return XXH3_64bits(data, len); }

namespace {

// Checksum of a fixed-size structure whose last 8 bytes hold XXH3-64 of the rest.
void seal(uint8_t* p, size_t size) { put_u64(p + size - 8, hash64(p, size - 8)); }
bool sealed(const uint8_t* p, size_t size) { return get_u64(p + size - 8) == hash64(p, size - 8); }

}  // namespace

Status validate_geometry(uint32_t block_size, uint64_t block_count, uint32_t segment_size) {
  if (block_size < kMinBlockSize || block_size > kMaxBlockSize || !is_power_of_two(block_size))
    return Status::invalid_argument("block size " + std::to_string(block_size) +
                                    " is not a power of two between 512 and 65536");
  if (block_count == 0) return Status::invalid_argument("capacity is zero");
  if (block_count > kMaxCapacityBytes / block_size)
    return Status::invalid_argument("capacity " + std::to_string(block_count) + " blocks of " +
                                    std::to_string(block_size) + " bytes exceeds the 1 PiB limit");
  if (segment_size < kMinSegmentSize || segment_size > kMaxSegmentSize || !is_power_of_two(segment_size))
    return Status::invalid_argument("segment size " + std::to_string(segment_size) + " out of range");
  if (segment_size < 4ull * (block_size + kRecordHeaderSize) + kSegmentHeaderSize)
    return Status::invalid_argument("segment size too small for the block size");
  return Status::ok();
}

void encode_superblock(const Superblock& sb, std::span<uint8_t, kSuperblockSize> out) {
  uint8_t* p = out.data();
  std::memset(p, 0, kSuperblockSize);
  std::memcpy(p, kSuperMagic.data(), 8);
  put_u32(p + 8, sb.version);
  put_u32(p + 12, sb.header_length);
  put_u64(p + 16, sb.incompat_features);
  put_u64(p + 24, sb.compat_features);
  put_u64(p + 32, sb.autoclear_features);
  std::memcpy(p + 40, sb.uuid.data(), 16);
  put_u32(p + 56, sb.block_size);
  put_u32(p + 60, sb.segment_size);
  put_u64(p + 64, sb.block_count);
  put_u32(p + 72, static_cast<uint32_t>(sb.compression));
  put_u32(p + 76, static_cast<uint32_t>(sb.compression_level));
  put_u32(p + 80, sb.entries_per_page);
  put_u32(p + 84, sb.max_record_bytes);
  put_u64(p + 88, sb.data_start);
  put_u64(p + 96, sb.created_unix);
  std::memcpy(p + 104, sb.label.data(), std::min<size_t>(sb.label.size(), kMaxLabelBytes));
  seal(p, kSuperblockSize);
}

Result<Superblock> decode_superblock(std::span<const uint8_t> in, const std::string& what) {
  if (in.size() < kSuperblockSize)
    return Status::corruption(what + ": file too short to hold a vblk superblock (" +
                              std::to_string(in.size()) + " bytes)");
  const uint8_t* p = in.data();
  if (std::memcmp(p, kSuperMagic.data(), 8) != 0)
    return Status::corruption(what + ": not a vblk image (bad magic)");
  Superblock sb;
  sb.version = get_u32(p + 8);
  // Version is checked before the checksum so that a future image whose
  // superblock layout differs is reported as such, not as corrupt.
  if (sb.version != kVersion)
    return Status::not_supported(what + ": image format version " + std::to_string(sb.version) +
                                 " is not supported (this build reads version " +
                                 std::to_string(kVersion) + ")");
  if (!sealed(p, kSuperblockSize)) return Status::corruption(what + ": superblock checksum mismatch");
  sb.header_length = get_u32(p + 12);
  sb.incompat_features = get_u64(p + 16);
  sb.compat_features = get_u64(p + 24);
  sb.autoclear_features = get_u64(p + 32);
  std::memcpy(sb.uuid.data(), p + 40, 16);
  sb.block_size = get_u32(p + 56);
  sb.segment_size = get_u32(p + 60);
  sb.block_count = get_u64(p + 64);
  uint32_t comp = get_u32(p + 72);
  sb.compression_level = static_cast<int32_t>(get_u32(p + 76));
  sb.entries_per_page = get_u32(p + 80);
  sb.max_record_bytes = get_u32(p + 84);
  sb.data_start = get_u64(p + 88);
  sb.created_unix = get_u64(p + 96);
  const char* label = reinterpret_cast<const char*>(p + 104);
  sb.label.assign(label, strnlen(label, kMaxLabelBytes));

  if (uint64_t unknown = sb.incompat_features & ~kKnownIncompatFeatures)
    return Status::not_supported(what + ": image requires unknown incompatible features 0x" +
                                 [&] { char b[32]; std::snprintf(b, sizeof b, "%llx", (unsigned long long)unknown); return std::string(b); }() +
                                 " (written by a newer vblk?)");
  if (sb.header_length != kSuperblockSize)
    return Status::corruption(what + ": superblock length " + std::to_string(sb.header_length) + " invalid");
  if (!all_zero(p + 104 + kMaxLabelBytes, 504 - 104 - kMaxLabelBytes))
    return Status::corruption(what + ": superblock reserved bytes are not zero");
  if (comp > 1) return Status::corruption(what + ": unknown compression method " + std::to_string(comp));
  sb.compression = static_cast<Compression>(comp);
  if (sb.compression_level < 0 || sb.compression_level > 22)
    return Status::corruption(what + ": compression level " + std::to_string(sb.compression_level) + " invalid");
  if (Status s = validate_geometry(sb.block_size, sb.block_count, sb.segment_size); !s)
    return Status::corruption(what + ": " + s.message());
  if (sb.entries_per_page < 64 || sb.entries_per_page > 65536 || !is_power_of_two(sb.entries_per_page) ||
      uint64_t{sb.entries_per_page} * kIndexEntrySize + 2 * kRecordHeaderSize > sb.segment_size)
    return Status::corruption(what + ": index page size " + std::to_string(sb.entries_per_page) + " invalid");
  if (sb.max_record_bytes < sb.block_size || sb.max_record_bytes > (1u << 20) ||
      sb.max_record_bytes % sb.block_size || sb.max_record_bytes / sb.block_size > kMaxRecordBlocks ||
      record_total_length(sb.max_record_bytes) + kSegmentHeaderSize > sb.segment_size)
    return Status::corruption(what + ": record size limit " + std::to_string(sb.max_record_bytes) + " invalid");
  if (sb.data_start < 3 * 4096 || sb.data_start % 4096 || sb.data_start > (1ull << 30))
    return Status::corruption(what + ": data start " + std::to_string(sb.data_start) + " invalid");
  return sb;
}

void encode_checkpoint(const Checkpoint& cp, std::span<uint8_t, kCheckpointSize> out) {
  uint8_t* p = out.data();
  std::memset(p, 0, kCheckpointSize);
  put_u64(p + 0, kCheckpointMagic);
  put_u64(p + 8, cp.generation);
  put_u64(p + 16, cp.next_record_seq);
  put_u64(p + 24, cp.head_segment);
  put_u32(p + 32, cp.head_fill);
  put_u32(p + 36, cp.meta_chunks);
  put_u64(p + 40, cp.head_alloc_seq);
  put_u64(p + 48, cp.meta_last_chunk);
  put_u64(p + 56, cp.meta_bytes);
  put_u64(p + 64, cp.meta_hash);
  put_u64(p + 72, cp.segment_count);
  std::memcpy(p + 80, cp.uuid.data(), 16);
  seal(p, kCheckpointSize);
}

Result<Checkpoint> decode_checkpoint(std::span<const uint8_t> in) {
  if (in.size() < kCheckpointSize) return Status::corruption("checkpoint slot truncated");
  const uint8_t* p = in.data();
  if (get_u64(p) != kCheckpointMagic) return Status::corruption("checkpoint slot has bad magic");
  if (!sealed(p, kCheckpointSize)) return Status::corruption("checkpoint slot checksum mismatch");
  Checkpoint cp;
  cp.generation = get_u64(p + 8);
  cp.next_record_seq = get_u64(p + 16);
  cp.head_segment = get_u64(p + 24);
  cp.head_fill = get_u32(p + 32);
  cp.meta_chunks = get_u32(p + 36);
  cp.head_alloc_seq = get_u64(p + 40);
  cp.meta_last_chunk = get_u64(p + 48);
  cp.meta_bytes = get_u64(p + 56);
  cp.meta_hash = get_u64(p + 64);
  cp.segment_count = get_u64(p + 72);
  std::memcpy(cp.uuid.data(), p + 80, 16);
  if (!all_zero(p + 96, 504 - 96)) return Status::corruption("checkpoint slot reserved bytes are not zero");
  return cp;
}

void encode_segment_header(const SegmentHeader& h, std::span<uint8_t, kSegmentHeaderSize> out) {
  uint8_t* p = out.data();
  std::memset(p, 0, kSegmentHeaderSize);
  put_u64(p, kSegmentMagic);
  put_u64(p + 8, h.alloc_seq);
  put_u64(p + 16, h.segment_index);
  put_u64(p + 24, h.generation);
  std::memcpy(p + 32, h.uuid.data(), 16);
  seal(p, kSegmentHeaderSize);
}

Result<SegmentHeader> decode_segment_header(std::span<const uint8_t> in) {
  if (in.size() < kSegmentHeaderSize) return Status::corruption("segment header truncated");
  const uint8_t* p = in.data();
  if (get_u64(p) != kSegmentMagic) return Status::corruption("segment header has bad magic");
  if (!sealed(p, kSegmentHeaderSize)) return Status::corruption("segment header checksum mismatch");
  if (get_u64(p + 48) != 0) return Status::corruption("segment header reserved bytes are not zero");
  SegmentHeader h;
  h.alloc_seq = get_u64(p + 8);
  h.segment_index = get_u64(p + 16);
  h.generation = get_u64(p + 24);
  std::memcpy(h.uuid.data(), p + 32, 16);
  return h;
}

void encode_record_header(const RecordHeader& h, std::span<uint8_t, kRecordHeaderSize> out) {
  uint8_t* p = out.data();
  std::memset(p, 0, kRecordHeaderSize);
  put_u32(p, kRecordMagic);
  p[4] = static_cast<uint8_t>(h.type);
  p[5] = h.flags;
  put_u64(p + 8, h.seq);
  put_u64(p + 16, h.generation);
  put_u64(p + 24, h.first);
  put_u32(p + 32, h.count);
  put_u32(p + 36, h.stored_len);
  put_u32(p + 40, h.raw_len);
  put_u64(p + 48, h.payload_hash);
  seal(p, kRecordHeaderSize);
}

Result<RecordHeader> decode_record_header(std::span<const uint8_t> in) {
  if (in.size() < kRecordHeaderSize) return Status::corruption("record header truncated");
  const uint8_t* p = in.data();
  if (get_u32(p) != kRecordMagic) return Status::corruption("record header has bad magic");
  if (!sealed(p, kRecordHeaderSize)) return Status::corruption("record header checksum mismatch");
  if (get_u16(p + 6) != 0 || get_u32(p + 44) != 0) return Status::corruption("record header reserved bytes are not zero");
  RecordHeader h;
  uint8_t type = p[4];
  if (type < 1 || type > kMaxRecordType) return Status::corruption("record has unknown type " + std::to_string(type));
  h.type = static_cast<RecordType>(type);
  h.flags = p[5];
  if (h.flags & ~(kRecordFlagCompressed | kRecordFlagUnitTable | kRecordFlagProvisional | kRecordFlagIndependentUnits))
    return Status::corruption("record has unknown flags");
  if ((h.flags & kRecordFlagUnitTable) && (h.type != RecordType::kData || !(h.flags & kRecordFlagCompressed)))
    return Status::corruption("unit table on a record that is not compressed DATA");
  if ((h.flags & kRecordFlagProvisional) && (h.type != RecordType::kData || !(h.flags & kRecordFlagCompressed)))
    return Status::corruption("provisional flag on a record that is not compressed DATA");
  if ((h.flags & kRecordFlagIndependentUnits) && !(h.flags & kRecordFlagUnitTable))
    return Status::corruption("independent units on a record without a unit table");
  h.seq = get_u64(p + 8);
  h.generation = get_u64(p + 16);
  h.first = get_u64(p + 24);
  h.count = get_u32(p + 32);
  h.stored_len = get_u32(p + 36);
  h.raw_len = get_u32(p + 40);
  h.payload_hash = get_u64(p + 48);
  if (h.stored_len > kMaxRecordPayload || h.raw_len > kMaxRecordPayload)
    return Status::corruption("record payload length out of range");
  if (!(h.flags & kRecordFlagCompressed) && h.stored_len != h.raw_len)
    return Status::corruption("uncompressed record with differing lengths");
  return h;
}

void encode_index_entry(const IndexEntry& e, uint8_t* out) {
  put_u64(out, e.record_offset);
  put_u32(out + 8, e.record_length);
  put_u16(out + 12, e.index_in_record);
  out[14] = e.state;
  out[15] = e.blocks_minus_one;
}

IndexEntry decode_index_entry(const uint8_t* in) {
  IndexEntry e;
  e.record_offset = get_u64(in);
  e.record_length = get_u32(in + 8);
  e.index_in_record = get_u16(in + 12);
  e.state = in[14];
  e.blocks_minus_one = in[15];
  return e;
}

const char* record_type_name(RecordType type) {
  switch (type) {
    case RecordType::kData: return "DATA";
    case RecordType::kZero: return "ZERO";
    case RecordType::kTrim: return "TRIM";
    case RecordType::kBadSet: return "BAD_SET";
    case RecordType::kBadClear: return "BAD_CLEAR";
    case RecordType::kPage: return "PAGE";
    case RecordType::kMeta: return "META";
    case RecordType::kFlush: return "FLUSH";
  }
  return "unknown";
}

std::string uuid_to_string(const std::array<uint8_t, 16>& u) {
  static_assert(sizeof(uuid_t) == 16);
  char buf[UUID_STR_LEN];  // 36 characters and the NUL
  uuid_unparse_lower(u.data(), buf);
  return buf;
}

}  // namespace vblk::format
