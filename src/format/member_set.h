#pragma once
// Member sets (images with the incompatible feature kFeatureMemberSet):
// the image file IMAGE keeps the superblock, the checkpoint slots and the
// member table; the segments live as stripe rows over member files, each
// with a header of its own. The normative description is man/vblk.5,
// MEMBER SETS.
//
// The member table is kept twice in IMAGE's header area, at
// kMemberTableOffset[0] and [1]. A writer rewrites the copy that is not in
// force with generation + 1 and syncs: a torn write leaves the other copy,
// so changing a member's state in place is crash-safe. A reader takes the
// valid copy with the highest generation.
//
// Byte ranges (member table copy; N = member_count):
//   0    u64 magic          "VBLKMTAB"
//   8    u32 version        1
//   12   u32 member_count   N
//   16   u64 generation     1 for the table vblk-format writes
//   24   u8  image_uuid[16] the superblock's
//   40   u32 chunk_size     bytes per chunk of a stripe row
//   44   u32 entry_size     256
//   48   u8  layout[40]     the layout record (src/ec/layout.h)
//   88   reserved, zero, to 120
//   120  u64 checksum       XXH3-64 of bytes [0, 120) and of the entries
//   128  N entries of 256 bytes:
//     0   u8  member_uuid[16]
//     16  u8  role          0 data, 1 local parity, 2 global parity, 3 spare
//     17  u8  state         MemberState
//     18  u16 reserved, zero
//     20  u32 box
//     24  u32 name_length   bytes of name used, 1..192
//     28  u32 stands_for    for a spare, the member whose chunks it holds
//                           (rebuilt or being rebuilt); kNoMember otherwise
//     32  u64 errors        reads of the member that failed, or returned a
//                           chunk that failed its check, rebuilt from the
//                           others
//     40  u64 rebuilt_rows  for a rebuilding member, the stripe rows of its
//                           word rebuilt so far (where a rebuild resumes)
//     48  reserved, zero, to 64
//     64  char name[192]    the member file: relative to IMAGE's directory,
//                           or absolute; NUL-padded
//
// Byte ranges (member file header, at offset 0 of every member file):
//   0    u64 magic          "VBLKMEMB"
//   8    u32 version        1
//   12   u32 index          the member's index in the table
//   16   u8  image_uuid[16]
//   32   u8  member_uuid[16]
//   48   u8  role
//   49   u8[3] reserved, zero
//   52   u32 chunk_size
//   56   u64 checksum       XXH3-64 of bytes [0, 56)
//
// Byte ranges (tail slot header; a parity member has two, each followed by
// chunk_size bytes of parity):
//   0    u64 magic          "VBLKTAIL"
//   8    u64 seq            1, 2, 3, ... per sync that wrote tail slots
//   16   u64 segment
//   24   u32 row            the open row the parity covers
//   28   u32 fill           bytes of the row's data it covers; the rest
//                           counts as zeros
//   32   u64 parity_hash    XXH3-64 of the chunk_size parity bytes
//   40   u8[16] reserved, zero
//   56   u64 checksum       XXH3-64 of bytes [0, 56)
//
// Pure encode/decode; no I/O. Decoders never trust their input.

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "format/format.h"
#include "vblk/status.h"

namespace vblk::format {

inline constexpr uint64_t kMemberTableMagic = 0x4241544d4b4c4256ull;  // "VBLKMTAB"
inline constexpr uint64_t kMemberHeaderMagic = 0x424d454d4b4c4256ull;  // "VBLKMEMB"
inline constexpr uint64_t kTailSlotMagic = 0x4c4941544b4c4256ull;     // "VBLKTAIL"
inline constexpr uint32_t kMemberSetVersion = 1;

inline constexpr uint64_t kMemberTableOffset[2] = {128u << 10, 512u << 10};
inline constexpr uint32_t kMemberTableSlotBytes = 384u << 10;
inline constexpr uint32_t kMemberTableHeadSize = 128;
inline constexpr uint32_t kMemberEntrySize = 256;
inline constexpr uint32_t kMaxMemberNameBytes = 192;
inline constexpr uint32_t kMemberNameOffset = 64;
inline constexpr uint32_t kNoMember = 0xffffffffu;
inline constexpr uint32_t kMaxTableMembers = (kMemberTableSlotBytes - kMemberTableHeadSize) / kMemberEntrySize;
// A member-set image's data_start: past both copies of the member table.
inline constexpr uint64_t kMemberSetDataStart = 1u << 20;
static_assert(kMemberTableOffset[1] + kMemberTableSlotBytes <= kMemberSetDataStart);

inline constexpr uint32_t kMemberHeaderSize = 4096;  // the first 64 bytes used
inline constexpr uint32_t kTailHeaderSize = 4096;    // the first 64 bytes used
inline constexpr uint32_t kLayoutBytes = 40;

enum class MemberState : uint8_t {
  kOk = 0,
  // Not read or written; its chunks are rebuilt from the others on read.
  kFailed = 1,
  // Failed, and rows were written without it since: its file is out of
  // date and cannot simply come back.
  kStale = 2,
  // Being written by a rebuild: a spare whose stands_for names the member
  // whose chunks it receives, or a stale member rebuilt in place
  // (stands_for kNoMember). Stripe rows [0, rebuilt_rows) of its word are
  // on it; the rest are rebuilt from the others on read.
  kRebuilding = 3,
  // Out of the set: the spare whose stands_for names it holds its chunks
  // (rebuilt). Never read or written again.
  kReplaced = 4,
};
const char* to_string(MemberState s);

struct MemberEntry {
  std::array<uint8_t, 16> uuid{};
  uint8_t role = 0;
  MemberState state = MemberState::kOk;
  uint32_t box = 0;
  uint32_t stands_for = kNoMember;
  uint64_t errors = 0;
  uint64_t rebuilt_rows = 0;
  std::string name;
  bool operator==(const MemberEntry&) const = default;
};

struct MemberTable {
  uint64_t generation = 1;
  std::array<uint8_t, 16> image_uuid{};
  uint32_t chunk_size = 0;
  std::array<uint8_t, kLayoutBytes> layout{};
  std::vector<MemberEntry> members;
  bool operator==(const MemberTable&) const = default;
};

// The bytes of one table copy: kMemberTableHeadSize + N * kMemberEntrySize.
// InvalidArgument for too many members or a name that does not fit.
Result<std::vector<uint8_t>> encode_member_table(const MemberTable& t);
Result<MemberTable> decode_member_table(std::span<const uint8_t> in);
// The copy in force of the two (either may be damaged or empty): the valid
// one with the higher generation, and its slot. Corruption when neither is
// valid, naming both causes.
struct TableInForce {
  MemberTable table;
  int slot = 0;
};
Result<TableInForce> pick_member_table(std::span<const uint8_t> copy0, std::span<const uint8_t> copy1);

struct MemberHeader {
  uint32_t index = 0;
  std::array<uint8_t, 16> image_uuid{};
  std::array<uint8_t, 16> member_uuid{};
  uint8_t role = 0;
  uint32_t chunk_size = 0;
  bool operator==(const MemberHeader&) const = default;
};
void encode_member_header(const MemberHeader& h, std::span<uint8_t, 64> out);
Result<MemberHeader> decode_member_header(std::span<const uint8_t> in);

struct TailSlot {
  uint64_t seq = 0;
  uint64_t segment = 0;
  uint32_t row = 0;
  uint32_t fill = 0;
  uint64_t parity_hash = 0;
  bool operator==(const TailSlot&) const = default;
};
void encode_tail_slot(const TailSlot& t, std::span<uint8_t, 64> out);
Result<TailSlot> decode_tail_slot(std::span<const uint8_t> in);

// Where things are in a member file with chunks of chunk_size bytes: the
// header, the two tail slots (header + parity), then the chunks, the k-th
// chunk the member holds at member_data_start + k * chunk_size.
inline uint64_t tail_slot_offset(uint32_t chunk_size, int slot) {
  return kMemberHeaderSize + uint64_t(slot) * (kTailHeaderSize + chunk_size);
}
inline uint64_t member_data_start(uint32_t chunk_size) {
  return align_up(tail_slot_offset(chunk_size, 2), chunk_size);
}

}  // namespace vblk::format
