#pragma once
// Checkpoint metadata: the codec (no I/O), used by the store's checkpoint
// and open, by --check, and by the hostile-image generator.
//
// One byte string, stored as META records of at most kMetaChunkBytes each.
// Chunks chain backward: a META record's `first` is the file offset of the
// previous chunk (0 for the first), `count` its index. The slot names the
// last chunk, the chunk count, the total length and the XXH3-64 of the
// whole string (format.h, Checkpoint).
//   0  u64 meta_version   1, 2 or 3
//   8  u64 used_blocks
//   16 u64 zero_blocks
//   24 u64 trimmed_blocks
//   32 u64 stored_bytes   live DATA record bytes (header + padded payload,
//                         shared out among the record's live blocks)
//   40 u64 page_count P
//   48 P x { u64 page_no, u64 record_offset, u32 record_length, u32 reserved }
//      u64 segment_count S (<= the slot's: the table is a snapshot taken
//          before the META records are appended; a reader marks the segments
//          holding the META records and the head segment as used)
//      S x { u32 live_bytes, u32 fill }      fill 0 = free segment;
//                                            (kSegmentReleased, 0) = released
//      u64 bad_range_count B
//      B x { u64 first, u64 count }          ascending, disjoint
//      u64 block_count                       version 3 only: the capacity in force
// Allocation rule (replay depends on it): when the head segment cannot take
// the next record, the next segment is the lowest-numbered segment whose
// fill is 0 in the checkpoint in force, else segment_count (the file grows).
// Segments emptied after a checkpoint are not reused before the next one;
// that one records them as released (their data is no longer needed and
// their range is being punched), and only the one after it as free, so a
// segment is never punched while the checkpoint in force lets it be
// allocated.

#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "vblk/status.h"

namespace vblk::format {

inline constexpr uint32_t kMetaChunkBytes = 1u << 20;
// Version 2 added released segments; version 1 metadata reads the same.
// Version 3 (images with kFeatureResizable, and only they) appends the
// capacity in force.
inline constexpr uint64_t kMetaVersion = 2;
inline constexpr uint64_t kMetaVersionCapacity = 3;
inline constexpr uint32_t kSegmentReleased = 0xFFFFFFFFu;
inline constexpr uint32_t kMetaPageEntrySize = 24;
inline constexpr uint32_t kMetaSegmentEntrySize = 8;
inline constexpr uint32_t kMetaBadEntrySize = 16;

struct MetaPageEntry {
  uint64_t page_no = 0;
  uint64_t record_offset = 0;
  uint32_t record_length = 0;
  uint32_t reserved = 0;  // zero; settable so that hostile images can be made
};

struct MetaSegmentEntry {
  uint32_t live_bytes = 0;
  uint32_t fill = 0;
  static MetaSegmentEntry released() { return {kSegmentReleased, 0}; }
  bool is_released() const { return live_bytes == kSegmentReleased && fill == 0; }
};

struct CheckpointMeta {
  uint64_t version = kMetaVersion;
  uint64_t used_blocks = 0, zero_blocks = 0, trimmed_blocks = 0, stored_bytes = 0;
  std::vector<MetaPageEntry> pages;
  std::vector<MetaSegmentEntry> segments;
  std::vector<std::pair<uint64_t, uint64_t>> bad_ranges;  // first, count
  std::optional<uint64_t> block_count;                    // version 3 only
};

// The byte string; writes exactly the fields given (block_count when set),
// without checking them.
std::vector<uint8_t> encode_checkpoint_meta(const CheckpointMeta& meta);

// What the metadata of one image must agree with.
struct MetaBounds {
  bool resizable = false;               // version 3, and only it, then
  uint64_t superblock_block_count = 0;  // the capacity of an image that is not resizable
  uint32_t block_size = 0;
  uint32_t segment_size = 0;
  uint64_t entries_per_page = 0;  // index entries per page
  uint64_t data_start = 0;        // first byte a record may be at
  uint64_t file_size = 0;
  uint64_t segment_count = 0;  // the checkpoint slot's
};

// Decodes and checks the metadata against `bounds`: every count fits the
// bytes left, no trailing bytes, a known version (3 exactly when
// resizable), counters within the capacity, index directory entries inside
// the file and unique, segment accounting within a segment (or released),
// bad ranges ascending and disjoint within the capacity. Corruption names
// the first thing wrong. The capacity in force is block_count if set, else
// bounds.superblock_block_count.
Result<CheckpointMeta> decode_checkpoint_meta(std::span<const uint8_t> bytes, const MetaBounds& bounds);

}  // namespace vblk::format
