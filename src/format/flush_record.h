#pragma once
// The FLUSH record (type 8; images with the incompatible feature
// kFeatureFlushRecords). The normative description is man/vblk.5, RECORDS
// and RECOVERY.
//
// A writer appends one after each flush that made new records durable, and
// synchronizes the file again before the flush returns. Its header's
// `first` is the claim: every record of this generation with a sequence
// number up to it was on stable storage before the FLUSH record was
// written. Replay uses the claim to tell a torn tail (records no completed
// flush covered: the log ends there) from damage in the middle (covered
// records that fail their checks: replay goes on past them), and the
// descriptors to know which blocks a record whose header is damaged
// covered.
//
// Byte ranges (payload, stored raw; count = N descriptors):
//   0      u64 from_seq     the descriptors cover the block records with
//   8      u64 to_seq       from_seq <= seq <= to_seq (to_seq <= the claim;
//                           to_seq = from_seq - 1: none)
//   16     N x {
//     0    u64 seq
//     8    u64 first        first block
//     16   u32 count        blocks
//     20   u8  type         DATA, ZERO, TRIM, BAD_SET or BAD_CLEAR
//     21   u8[3] reserved, zero
//   }
// Every record in [from_seq, to_seq] of one of those types has a
// descriptor, ascending by seq; records of other types have none. A flush
// that made more than kMaxFlushDescriptors block records durable writes
// several FLUSH records, each with its own range and the same claim.
//
// Pure encode/decode and validation; no I/O. The decoder never trusts its
// input.

#include <cstdint>
#include <span>
#include <vector>

#include "format/format.h"
#include "vblk/status.h"

namespace vblk::format {

inline constexpr uint32_t kFlushHeadSize = 16;
inline constexpr uint32_t kFlushDescriptorSize = 24;
// Descriptors per FLUSH record: a flush that covers more writes several
// FLUSH records with the same claim.
inline constexpr uint32_t kMaxFlushDescriptors = 65536;

struct FlushDescriptor {
  uint64_t seq = 0;
  uint64_t first = 0;
  uint32_t count = 0;
  RecordType type = RecordType::kData;
  bool operator==(const FlushDescriptor&) const = default;
};

struct FlushPayload {
  uint64_t from_seq = 0;
  uint64_t to_seq = 0;
  std::vector<FlushDescriptor> descriptors;
};

// True for the record types a FLUSH record describes.
bool covers_blocks(RecordType type);

std::vector<uint8_t> encode_flush_payload(const FlushPayload& p);
// Checks the layout against the header's claim and count: lengths,
// from_seq <= to_seq + 1, to_seq <= claim, types, seqs ascending within
// [from_seq, to_seq], reserved bytes zero.
Result<FlushPayload> decode_flush_payload(std::span<const uint8_t> in, uint64_t claim, uint32_t count);

}  // namespace vblk::format
