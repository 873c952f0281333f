#pragma once
// Checkpoint metadata: the codec (no I/O), used by the store's checkpoint
// and open, by --check, and by the hostile-image generator. The normative
// description is man/vblk.5, CHECKPOINT METADATA.
//
// One byte string, stored as META records of at most kMetaChunkBytes each.
// Chunks chain backward: a META record's `first` is the file offset of the
// previous chunk (0 for the first), `count` its index. The slot names the
// last chunk, the chunk count, the total length and the XXH3-64 of the
// whole string (format.h, Checkpoint; MetaLocation here).
//
// FULL metadata (versions 1, 2, 3): the whole state.
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
//
// DELTA metadata (version 4, images with kFeatureDeltaCheckpoints only):
// what changed since the checkpoint before it (generation g - 1 for a
// checkpoint of generation g), whose metadata it names; that one is a
// DELTA too, or the FULL base of the chain.
//   0  u64 meta_version   4
//   8  u64 used_blocks, 16 zero_blocks, 24 trimmed_blocks, 32 stored_bytes
//   40 u64 block_count    the capacity in force (the superblock's when the
//                         image is not resizable)
//   48 u64 depth          deltas since the FULL base, this one included (>= 1)
//   56 u64 prev_last_chunk, 64 prev_chunks, 72 prev_bytes, 80 prev_hash:
//                         the previous checkpoint's metadata, as a slot names it
//   88 u64 page_count P
//   96 P x { u64 page_no, u64 record_offset, u32 record_length, u32 reserved }
//          the page table entries that changed, ascending page_no;
//          record_offset 0 (record_length 0): the page left the table
//      u64 segment_change_count C
//      C x { u64 segment, u32 live_bytes, u32 fill }   ascending segment
//      u64 bad_range_count B
//      B x { u64 first, u64 count }          the whole list, as in FULL
// A chain is folded base first (fold_checkpoint_chain): each DELTA's
// counters, capacity and bad list replace the ones before; its page
// entries replace or remove theirs; its segment entries replace theirs.
//
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
// capacity in force. Version 4 is a DELTA (images with
// kFeatureDeltaCheckpoints only); their FULL metadata is version 2 or 3.
inline constexpr uint64_t kMetaVersion = 2;
inline constexpr uint64_t kMetaVersionCapacity = 3;
inline constexpr uint64_t kMetaVersionDelta = 4;
inline constexpr uint32_t kSegmentReleased = 0xFFFFFFFFu;
inline constexpr uint32_t kMetaPageEntrySize = 24;
inline constexpr uint32_t kMetaSegmentEntrySize = 8;
inline constexpr uint32_t kMetaSegmentChangeSize = 16;
inline constexpr uint32_t kMetaBadEntrySize = 16;
inline constexpr uint32_t kMetaDeltaHeaderSize = 96;  // up to the page table
// Note: implementation limit on a chain's depth (guards hostile input);
// vblk writes a FULL checkpoint long before (OpenOptions::max_delta_chain).
inline constexpr uint64_t kMaxDeltaDepth = 4096;

struct MetaPageEntry {
  uint64_t page_no = 0;
  uint64_t record_offset = 0;  // DELTA: 0 = the page left the table
  uint32_t record_length = 0;
  uint32_t reserved = 0;  // zero; settable so that hostile images can be made
  bool is_removal() const { return record_offset == 0; }
};

struct MetaSegmentEntry {
  uint32_t live_bytes = 0;
  uint32_t fill = 0;
  static MetaSegmentEntry released() { return {kSegmentReleased, 0}; }
  bool is_released() const { return live_bytes == kSegmentReleased && fill == 0; }
};

struct MetaSegmentChange {
  uint64_t segment = 0;
  MetaSegmentEntry entry;
};

// Where a checkpoint's metadata lies and how to check it: what a slot holds
// (format.h, Checkpoint) and what a DELTA holds of its predecessor.
struct MetaLocation {
  uint64_t last_chunk = 0;  // file offset of the last META record; 0 = none
  uint64_t chunks = 0;
  uint64_t bytes = 0;
  uint64_t hash = 0;  // XXH3-64 of the metadata
  bool operator==(const MetaLocation&) const = default;
};

struct CheckpointMeta {
  uint64_t version = kMetaVersion;
  uint64_t used_blocks = 0, zero_blocks = 0, trimmed_blocks = 0, stored_bytes = 0;
  // FULL: every stored page. DELTA: the entries that changed, removals
  // included.
  std::vector<MetaPageEntry> pages;
  std::vector<MetaSegmentEntry> segments;          // FULL only
  std::vector<MetaSegmentChange> segment_changes;  // DELTA only
  std::vector<std::pair<uint64_t, uint64_t>> bad_ranges;  // first, count
  std::optional<uint64_t> block_count;                    // version 3 and 4
  uint64_t depth = 0;  // DELTA only
  MetaLocation prev;   // DELTA only
  bool is_delta() const { return version == kMetaVersionDelta; }
};

// The byte string; writes exactly the fields given (block_count when set,
// and for version 4 the DELTA layout), without checking them.
std::vector<uint8_t> encode_checkpoint_meta(const CheckpointMeta& meta);

// The length encode_checkpoint_meta gives FULL metadata of these counts
// (without building it).
uint64_t full_meta_size(uint64_t pages, uint64_t segments, uint64_t bad_ranges, bool with_capacity);

// What the metadata of one image must agree with.
struct MetaBounds {
  bool resizable = false;               // version 3, and only it, then
  bool delta = false;                   // the image has kFeatureDeltaCheckpoints: version 4 allowed
  uint64_t superblock_block_count = 0;  // the capacity of an image that is not resizable
  uint32_t block_size = 0;
  uint32_t segment_size = 0;
  uint64_t entries_per_page = 0;  // index entries per page
  uint64_t data_start = 0;        // first byte a record may be at
  uint64_t file_size = 0;
  uint64_t segment_count = 0;  // the checkpoint slot's
};

// Checks a location against `bounds` (the slot's own, or a DELTA's
// predecessor): inside the file, a length within kMaxMetaBytes, at least
// one chunk and no more chunks than bytes. `what` names it.
Status check_meta_location(const MetaLocation& at, const MetaBounds& bounds, const char* what);

// Decodes and checks the metadata against `bounds`: every count fits the
// bytes left, no trailing bytes, a known version (3 exactly when resizable
// for FULL; 4 only with bounds.delta), counters within the capacity, index
// directory entries inside the file and unique (a DELTA's ascending),
// segment accounting within a segment (or released), a DELTA's segments
// ascending and below the slot's count, its depth within kMaxDeltaDepth and
// its predecessor's location plausible, bad ranges ascending and disjoint
// within the capacity. Corruption names the first thing wrong. The capacity
// in force is block_count if set, else bounds.superblock_block_count.
Result<CheckpointMeta> decode_checkpoint_meta(std::span<const uint8_t> bytes, const MetaBounds& bounds);

// The FULL metadata (version 2, or 3 when resizable) that `base` (FULL)
// with `deltas` (DELTA, oldest first, each decoded against bounds) applied
// describes, as the newest link of the chain would hold it whole: the
// newest counters, capacity and bad list; every page entry replaced or
// removed by the newest delta that lists it (a removal of a page not listed
// changes nothing); every segment entry replaced likewise, the table
// growing to the highest segment listed. Fails when a page the result
// keeps lies beyond the final capacity. Work: the base's size plus the
// deltas', once.
Result<CheckpointMeta> fold_checkpoint_chain(CheckpointMeta base, std::span<const CheckpointMeta> deltas,
                                             const MetaBounds& bounds);

}  // namespace vblk::format
