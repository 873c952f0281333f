#pragma once
// Layout: how an erasure-coded image's member files are arranged. A value
// type, validated when made; src/ec/README.md gives the design and its
// arithmetic.
//
// A code word (one stripe) has D data chunks, split into groups of G (the
// last group may be smaller), one local parity chunk per group (the XOR of
// its data) and P global parity chunks (Reed-Solomon over all D data
// chunks). Its chunk positions are
//   [0, D)            data, group g = [g*G, min(D, (g+1)*G))
//   [D, D+L)          local parity of group 0..L-1, L = ceil(D / G)
//   [D+L, D+L+P)      global parity 0..P-1
// and each chunk lives on its own member file. S hot spares per word hold
// nothing until a rebuild moves a chunk onto one.
//
// Boxes (failure domains) and words. Members are numbered so that member m
// is in box m mod B (round-robin). Without --ha every box holds a code word
// of its own and its own spares (B words; a stripe lies in one box, and
// losing a box loses its words' stripes); with --ha there is one word whose
// chunks are spread over the boxes, at most 2 of a stripe's chunks in any
// box, so that a whole box can fail. Member m is slot m / words of word
// m mod words; slot c < W holds chunk c, slot W + s spare s.
//
// Thread safety: a value; const methods may be called from any thread.

#include <bitset>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "vblk/status.h"

namespace vblk::ec {

// Limits. The global parity rows evaluate data chunk j at 2^j (ISA-L's
// gf_gen_rs_matrix; codec.h), distinct in GF(2^8) only for j < 255.
inline constexpr uint32_t kMaxDataMembers = 255;
// A degraded read may try every subset of the global parity rows it could
// use (repair_plan.cc); 16 keeps that at most C(16, 8) = 12870 small inversions.
inline constexpr uint32_t kMaxGlobalParity = 16;
// One open file per member: more than the 1024 descriptors a process is
// given by default would not open.
inline constexpr uint32_t kMaxMembers = 1024;
// The most chunk positions a word can have (D + L + P).
inline constexpr uint32_t kMaxStripeWidth = 2 * kMaxDataMembers + kMaxGlobalParity;
// --ha: no stripe puts more than this many chunks in one box.
inline constexpr uint32_t kHaMaxChunksPerBox = 2;

// A set of chunk positions of one word (failed, available, wanted).
using ChunkSet = std::bitset<kMaxStripeWidth>;

// What a member holds. Fixed numbers: kept in the image's member list.
enum class Role : uint8_t { kData = 0, kLocalParity = 1, kGlobalParity = 2, kSpare = 3 };
const char* to_string(Role role);

inline constexpr uint32_t kNoGroup = UINT32_MAX;

// The options of vblk-format, as typed.
struct LayoutOptions {
  uint32_t data_members = 0;   // --data-members D
  uint32_t group_size = 0;     // --group-size G
  uint32_t global_parity = 0;  // --global-parity P
  uint32_t spares = 0;         // --spares S (per word)
  uint32_t boxes = 1;          // --boxes B
  bool ha = false;             // --ha
  bool operator==(const LayoutOptions&) const = default;
};

struct Member {
  uint32_t index = 0;
  Role role = Role::kData;
  uint32_t word = 0;
  uint32_t chunk = 0;         // chunk position in its word; for a spare, which spare
  uint32_t group = kNoGroup;  // data and local parity only
  uint32_t box = 0;
};

// Space the layout spends on redundancy.
struct Overhead {
  uint32_t stripe_data = 0;     // D
  uint32_t stripe_parity = 0;   // L + P
  uint32_t members = 0;         // all members
  uint32_t parity_members = 0;  // words * (L + P)
  uint32_t spare_members = 0;   // words * S
  // Parity's share of every stripe: (L + P) / (D + L + P).
  double stripe_share() const { return double(stripe_parity) / (stripe_data + stripe_parity); }
  // Parity's share of all members, spares counted as members.
  double member_share() const { return double(parity_members) / members; }
  // The share of all members that holds no data (parity and spares).
  double raw_share() const { return double(parity_members + spare_members) / members; }
};

class Layout {
 public:
  // Checks the options; on failure InvalidArgument naming the option and
  // the reason ("--group-size 0: must be at least 1").
  static Result<Layout> create(const LayoutOptions& options);

  const LayoutOptions& options() const { return o_; }
  uint32_t data_members() const { return o_.data_members; }
  uint32_t group_size() const { return o_.group_size; }
  uint32_t global_parity() const { return o_.global_parity; }
  uint32_t spares() const { return o_.spares; }
  uint32_t boxes() const { return o_.boxes; }
  bool ha() const { return o_.ha; }

  // L: local parity groups (and chunks) per word.
  uint32_t groups() const { return (o_.data_members + o_.group_size - 1) / o_.group_size; }
  // W = D + L + P: chunks per stripe.
  uint32_t stripe_width() const { return o_.data_members + groups() + o_.global_parity; }
  // Code words: one per box without --ha, else one.
  uint32_t words() const { return o_.ha ? 1 : o_.boxes; }
  uint32_t member_count() const { return words() * (stripe_width() + o_.spares); }

  // Data chunks [group_begin(g), group_end(g)) form group g (REQUIRES g < groups()).
  uint32_t group_begin(uint32_t g) const { return g * o_.group_size; }
  uint32_t group_end(uint32_t g) const;
  // The chunk position of group g's local parity, of global parity p.
  uint32_t local_chunk(uint32_t g) const { return o_.data_members + g; }
  uint32_t global_chunk(uint32_t p) const { return o_.data_members + groups() + p; }
  // What chunk position c holds, and its group (kNoGroup for global parity).
  Role chunk_role(uint32_t c) const;
  uint32_t chunk_group(uint32_t c) const;

  // Every member, by index.
  std::vector<Member> members() const;
  Member member(uint32_t index) const;  // REQUIRES index < member_count()
  // The member holding chunk c of word w.
  uint32_t member_of(uint32_t word, uint32_t chunk) const { return chunk * words() + word; }
  // The word stripe s lies in (stripes rotate over the words) and the
  // member holding each of its chunks, by chunk position.
  uint32_t word_of_stripe(uint64_t stripe) const { return static_cast<uint32_t>(stripe % words()); }
  std::vector<uint32_t> stripe_members(uint64_t stripe) const;
  // The chunk positions of word w whose members are among `failed`
  // (member indices; spares and other words' members are ignored).
  ChunkSet failed_chunks(uint32_t word, std::span<const uint32_t> failed) const;
  // The members of box b.
  std::vector<uint32_t> box_members(uint32_t b) const;

  Overhead overhead() const;
  // "38 data (13,13,12) + 3 local + 1 global + 2 spares, 11 boxes, a word per box"
  std::string describe() const;

 private:
  explicit Layout(const LayoutOptions& o) : o_(o) {}
  LayoutOptions o_;
};

// ---- the layout record -----------------------------------------------------
// The layout as the image's member list will keep it: a fixed
// little-endian struct (all fields unsigned):
//   0   u32 magic     "VBEC" (0x43454256)
//   4   u16 version   1
//   6   u16 size      40, the record's length
//   8   u32 data_members
//   12  u32 group_size
//   16  u32 global_parity
//   20  u32 spares
//   24  u32 boxes
//   28  u32 flags     bit 0: ha; the other bits are zero
//   32  u64 hash      XXH3-64 of bytes [0, 32)
inline constexpr uint32_t kLayoutMagic = 0x43454256;
inline constexpr uint16_t kLayoutVersion = 1;
inline constexpr uint32_t kLayoutRecordSize = 40;
inline constexpr uint32_t kLayoutFlagHa = 1;

// Writes the record into out (REQUIRES out.size() >= kLayoutRecordSize).
void encode_layout(const Layout& layout, std::span<uint8_t> out);
// Decodes a record from the first kLayoutRecordSize bytes of `in`:
// Corruption for anything that is not a record this code wrote (short,
// magic, size, checksum, flags, or options create() refuses);
// NotSupported for another version.
Result<Layout> decode_layout(std::span<const uint8_t> in);

}  // namespace vblk::ec
