#pragma once
// On-disk structures of a vblk image, version 1. The normative description
// is man/vblk.5; this header is its implementation and must match it.
// Everything is little-endian. Every structure carries an XXH3-64 checksum
// (libxxhash) with the coverage stated beside it.
//
// File layout:
//   [0, 4096)            superblock (first 512 bytes used)
//   [4096, 4608)         checkpoint slot 0
//   [8192, 8704)         checkpoint slot 1
//   [data_start, ...)    segments of segment_size bytes; segment i starts at
//                        data_start + i * segment_size
// Each segment: a 64-byte segment header, then records back to back, each
// a 64-byte record header + payload padded to 8 bytes.
//
// Pure encode/decode and validation; no I/O. Decoders never trust input:
// they return Corruption / NotSupported with a message instead of asserting.

#include <array>
#include <cstdint>
#include <span>
#include <string>

#include "vblk/status.h"

namespace vblk::format {

inline constexpr uint32_t kVersion = 1;

inline constexpr std::array<uint8_t, 8> kSuperMagic = {'V', 'B', 'L', 'K', 'I', 'M', 'G', 0};
inline constexpr uint64_t kCheckpointMagic = 0x54504b434b4c4256ull;  // "VBLKCKPT"
inline constexpr uint64_t kSegmentMagic = 0x004745534b4c4256ull;     // "VBLKSEG\0"
inline constexpr uint32_t kRecordMagic = 0x43455256u;                // "VREC"

inline constexpr uint32_t kSuperblockSize = 512;
inline constexpr uint32_t kCheckpointSize = 512;
inline constexpr uint64_t kCheckpointOffset[2] = {4096, 8192};
inline constexpr uint32_t kSegmentHeaderSize = 64;
inline constexpr uint32_t kRecordHeaderSize = 64;
inline constexpr uint32_t kIndexEntrySize = 16;
inline constexpr uint32_t kRecordAlign = 8;

inline constexpr uint32_t kMinBlockSize = 512;
inline constexpr uint32_t kMaxBlockSize = 65536;
inline constexpr uint32_t kDefaultBlockSize = 4096;
// Note: an implementation limit, not a format rule: 2^50 bytes (1 PiB).
inline constexpr uint64_t kMaxCapacityBytes = 1ull << 50;
inline constexpr uint32_t kDefaultSegmentSize = 4u << 20;
inline constexpr uint32_t kMinSegmentSize = 1u << 20;
inline constexpr uint32_t kMaxSegmentSize = 256u << 20;
inline constexpr uint32_t kDefaultMaxRecordBytes = 128u << 10;
inline constexpr uint32_t kDefaultEntriesPerPage = 1024;
inline constexpr uint64_t kDefaultDataStart = 1u << 20;
inline constexpr uint32_t kMaxLabelBytes = 63;
// A DATA record covers at most this many blocks (the index entry stores
// count - 1 in a byte). ZERO, TRIM and BAD records cover up to 2^30.
inline constexpr uint32_t kMaxRecordBlocks = 256;
// Note: implementation limit on one record's payload (guards hostile input).
inline constexpr uint32_t kMaxRecordPayload = 16u << 20;
// Note: implementation limit on the checkpoint metadata (guards hostile input).
inline constexpr uint64_t kMaxMetaBytes = 4ull << 30;

// Feature bits. Incompatible: an implementation that does not know a set bit
// must refuse to open the image. Compatible: may be ignored. Autoclear: a
// writer that does not know a set bit clears it.
// Incompatible bit 0: compressed DATA payloads may begin with a unit table
// (record flag bit 1; format/unit_table.h). Set by vblk-format on new images.
inline constexpr uint64_t kFeatureUnitTables = 1ull << 0;
// Incompatible bit 1: compressed DATA records may carry the provisional flag
// (record flag bit 2): written at a faster level than the image's, to be
// recompressed at the image's level when the disk is idle. Set by
// vblk-format on new images.
inline constexpr uint64_t kFeatureDeferredCompression = 1ull << 1;
// Incompatible bit 2: a FLUSH record (type 8; format/flush_record.h) follows
// every flush that made new records durable, so that replay can tell damage
// in the log from a torn tail and go on past it. Set by vblk-format on new
// images.
inline constexpr uint64_t kFeatureFlushRecords = 1ull << 2;
// Incompatible bit 3: the capacity may change after the image is created.
// The capacity in force is carried by the checkpoint metadata (version 3,
// which ends with block_count), the superblock's block_count by an image
// whose checkpoint has no metadata yet; a checkpoint is what changes it.
// Set by vblk-format on new images.
inline constexpr uint64_t kFeatureResizable = 1ull << 3;
// Incompatible bit 4: the units of a compressed DATA payload's unit table
// may be independent zstd frames, one per unit (record flag bit 3), so that
// a unit decodes without the units before it. Set by vblk-format on new
// images.
inline constexpr uint64_t kFeatureIndependentUnits = 1ull << 4;
// Incompatible bit 5: a checkpoint's metadata may be a DELTA (version 4;
// format/checkpoint_meta.h): what changed since the checkpoint before it,
// which it names, down to a FULL one. Set by vblk-format on new images.
inline constexpr uint64_t kFeatureDeltaCheckpoints = 1ull << 5;
// Incompatible bit 6: the segments are stripe rows over member files, which
// the member table in the header area names (format/member_set.h). Set by
// vblk-format on member-set images only.
inline constexpr uint64_t kFeatureMemberSet = 1ull << 6;
inline constexpr uint64_t kKnownIncompatFeatures = kFeatureUnitTables | kFeatureDeferredCompression |
                                                   kFeatureFlushRecords | kFeatureResizable |
                                                   kFeatureIndependentUnits | kFeatureDeltaCheckpoints | kFeatureMemberSet;
inline constexpr uint64_t kKnownCompatFeatures = 0;
inline constexpr uint64_t kKnownAutoclearFeatures = 0;

enum class Compression : uint32_t { kNone = 0, kZstd = 1 };

struct Superblock {
  uint32_t version = kVersion;
  uint32_t header_length = kSuperblockSize;
  uint64_t incompat_features = 0;
  uint64_t compat_features = 0;
  uint64_t autoclear_features = 0;
  std::array<uint8_t, 16> uuid{};
  uint32_t block_size = kDefaultBlockSize;
  uint32_t segment_size = kDefaultSegmentSize;
  uint64_t block_count = 0;
  Compression compression = Compression::kZstd;
  int32_t compression_level = 3;
  uint32_t entries_per_page = kDefaultEntriesPerPage;
  uint32_t max_record_bytes = kDefaultMaxRecordBytes;
  uint64_t data_start = kDefaultDataStart;
  uint64_t created_unix = 0;
  std::string label;
};
// Byte ranges (superblock); block_count is the capacity at creation (the
// capacity in force, unless kFeatureResizable says the checkpoint has it):
//   0  magic[8]            "VBLKIMG\0"
//   8  u32 version         1
//   12 u32 header_length   512
//   16 u64 incompat_features
//   24 u64 compat_features
//   32 u64 autoclear_features
//   40 u8  uuid[16]
//   56 u32 block_size
//   60 u32 segment_size
//   64 u64 block_count
//   72 u32 compression     0 none, 1 zstd
//   76 i32 compression_level
//   80 u32 entries_per_page
//   84 u32 max_record_bytes
//   88 u64 data_start
//   96 u64 created_unix
//   104 char label[64]     NUL-padded
//   168..504 reserved, zero
//   504 u64 checksum       XXH3-64 of bytes [0, 504)

struct Checkpoint {
  uint64_t generation = 0;        // 0 = the empty image written by format
  uint64_t next_record_seq = 1;   // sequence number of the first record after this checkpoint
  uint64_t head_segment = 0;      // segment receiving records; ~0 = none yet
  uint32_t head_fill = 0;         // bytes used in the head segment
  uint64_t head_alloc_seq = 0;    // allocation number of the head segment
  uint64_t meta_last_chunk = 0;   // file offset of the last META record; 0 = no metadata
  uint32_t meta_chunks = 0;
  uint64_t meta_bytes = 0;        // total metadata bytes across chunks
  uint64_t meta_hash = 0;         // XXH3-64 of the concatenated metadata
  uint64_t segment_count = 0;     // segments the image spans
  std::array<uint8_t, 16> uuid{}; // copy of the superblock's
};
// Byte ranges (checkpoint slot):
//   0  u64 magic "VBLKCKPT"
//   8  u64 generation
//   16 u64 next_record_seq
//   24 u64 head_segment
//   32 u32 head_fill
//   36 u32 meta_chunks
//   40 u64 head_alloc_seq
//   48 u64 meta_last_chunk
//   56 u64 meta_bytes
//   64 u64 meta_hash
//   72 u64 segment_count
//   80 u8  uuid[16]
//   96..504 reserved, zero
//   504 u64 checksum XXH3-64 of bytes [0, 504)
inline constexpr uint64_t kNoSegment = ~0ull;

struct SegmentHeader {
  uint64_t alloc_seq = 0;
  uint64_t segment_index = 0;
  uint64_t generation = 0;
  std::array<uint8_t, 16> uuid{};
};
// Byte ranges (segment header, at the start of each segment):
//   0  u64 magic
//   8  u64 alloc_seq      1, 2, 3, ... in allocation order, never reused
//   16 u64 segment_index
//   24 u64 generation     checkpoint generation when allocated
//   32 u8  uuid[16]
//   48 u64 reserved, zero
//   56 u64 checksum       XXH3-64 of bytes [0, 56)

enum class RecordType : uint8_t {
  kData = 1,      // payload: `count` blocks starting at first (compressed if flag)
  kZero = 2,      // blocks [first, first+count) are USED and all zeros; no payload
  kTrim = 3,      // blocks [first, first+count) become TRIMMED (FREE/BAD unchanged)
  kBadSet = 4,    // blocks become BAD
  kBadClear = 5,  // BAD mark removed; blocks become TRIMMED
  kPage = 6,      // payload: one index page; first = page number
  kMeta = 7,      // payload: one chunk of checkpoint metadata; first = previous chunk offset
  kFlush = 8,     // payload: descriptors of the block records a flush made durable; first = claim
};
inline constexpr uint8_t kMaxRecordType = 8;
inline constexpr uint8_t kRecordFlagCompressed = 1;
// The payload is a unit table, then the zstd frame (DATA records with
// kRecordFlagCompressed, images with kFeatureUnitTables only).
inline constexpr uint8_t kRecordFlagUnitTable = 2;
// The payload was compressed at a faster level than the image's and a higher
// level would store it smaller; a writer may recompress it (DATA records with
// kRecordFlagCompressed, images with kFeatureDeferredCompression only). It
// changes nothing about how the payload reads.
inline constexpr uint8_t kRecordFlagProvisional = 4;
// The units of the payload's unit table are independent zstd frames, one
// per unit, back to back, instead of one frame cut at the unit boundaries
// (DATA records with kRecordFlagCompressed and kRecordFlagUnitTable, images
// with kFeatureIndependentUnits only; format/unit_table.h).
inline constexpr uint8_t kRecordFlagIndependentUnits = 8;

struct RecordHeader {
  RecordType type = RecordType::kData;
  uint8_t flags = 0;
  uint64_t seq = 0;
  uint64_t generation = 0;
  uint64_t first = 0;       // first block, page number, or previous META offset
  uint32_t count = 0;       // blocks covered (DATA/ZERO/TRIM/BAD*), chunk index (META)
  uint32_t stored_len = 0;  // payload bytes following the header
  uint32_t raw_len = 0;     // payload bytes once decompressed
  uint64_t payload_hash = 0;
};
// Byte ranges (record header):
//   0  u32 magic "VREC"
//   4  u8  type
//   5  u8  flags          bit 0: payload is zstd-compressed;
//                         bit 1: it begins with a unit table;
//                         bit 2: provisional (recompress when idle);
//                         bit 3: its units are independent frames
//   6  u16 reserved, zero
//   8  u64 seq            global record sequence, +1 per record
//   16 u64 generation     generation of the checkpoint the record follows
//   24 u64 first
//   32 u32 count
//   36 u32 stored_len
//   40 u32 raw_len
//   44 u32 reserved, zero
//   48 u64 payload_hash   XXH3-64 of the stored payload bytes (with a unit
//                         table: of the table; format/unit_table.h)
//   56 u64 header_hash    XXH3-64 of bytes [0, 56)

// Index entry (16 bytes; an index page is entries_per_page of them):
//   0  u64 record_offset  file offset of the DATA record; 0 = no payload
//   8  u32 record_length  header + padded payload
//   12 u16 index_in_record
//   14 u8  state          BlockState: 0 FREE, 1 USED, 2 TRIMMED
//   15 u8  record_blocks - 1 (blocks the record covers, for space accounting;
//          0 when record_offset is 0)
struct IndexEntry {
  uint64_t record_offset = 0;
  uint32_t record_length = 0;
  uint16_t index_in_record = 0;
  uint8_t state = 0;
  uint8_t blocks_minus_one = 0;
  bool operator==(const IndexEntry&) const = default;
};
static_assert(sizeof(IndexEntry) == kIndexEntrySize, "IndexEntry must be 16 bytes");

// ---- little-endian coding -------------------------------------------------
void put_u16(uint8_t* p, uint16_t v);
void put_u32(uint8_t* p, uint32_t v);
void put_u64(uint8_t* p, uint64_t v);
uint16_t get_u16(const uint8_t* p);
uint32_t get_u32(const uint8_t* p);
uint64_t get_u64(const uint8_t* p);
uint64_t hash64(const void* data, size_t len);

inline uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }
inline bool is_power_of_two(uint64_t v) { return v && !(v & (v - 1)); }
inline uint32_t record_total_length(uint32_t stored_len) {
  return kRecordHeaderSize + static_cast<uint32_t>(align_up(stored_len, kRecordAlign));
}

// ---- encode / decode ---------------------------------------------------------
void encode_superblock(const Superblock& sb, std::span<uint8_t, kSuperblockSize> out);
// Validates magic, checksum, version, features, geometry. `what` names the file.
Result<Superblock> decode_superblock(std::span<const uint8_t> in, const std::string& what);
// Checks geometry rules shared by format and decode (block size, capacity...).
Status validate_geometry(uint32_t block_size, uint64_t block_count, uint32_t segment_size);

void encode_checkpoint(const Checkpoint& cp, std::span<uint8_t, kCheckpointSize> out);
Result<Checkpoint> decode_checkpoint(std::span<const uint8_t> in);

void encode_segment_header(const SegmentHeader& h, std::span<uint8_t, kSegmentHeaderSize> out);
Result<SegmentHeader> decode_segment_header(std::span<const uint8_t> in);

// Encodes the header; payload_hash must already be set.
void encode_record_header(const RecordHeader& h, std::span<uint8_t, kRecordHeaderSize> out);
// Validates magic, header hash, type, lengths (not the payload hash).
Result<RecordHeader> decode_record_header(std::span<const uint8_t> in);

void encode_index_entry(const IndexEntry& e, uint8_t* out);
IndexEntry decode_index_entry(const uint8_t* in);

// The 8-4-4-4-12 lower-case hex form (vblk-inspect, the fault rules file).
std::string uuid_to_string(const std::array<uint8_t, 16>& uuid);
// "DATA", "ZERO", ... as vblk(5) names the record types.
const char* record_type_name(RecordType type);

}  // namespace vblk::format

// The checkpoint metadata's layout and codec: format/checkpoint_meta.h.
