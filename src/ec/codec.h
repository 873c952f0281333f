#pragma once
// Codec: the erasure code of a Layout's stripe, computed with Intel ISA-L.
// Pure: no I/O; the caller reads and writes the chunks.
//
// The generator matrix, one row per chunk position over the D data chunks:
//   data d          the unit row e_d
//   local parity g  ones over group g's data (XOR; ISA-L's xor_gen)
//   global parity p entry j = a_j^(p+1), a_j = 2^j in GF(2^8): rows of
//                  ISA-L's gf_gen_rs_matrix (Vandermonde), without its
//                  all-ones row, which is the sum of the local rows
// Encoding is xor_gen per group and one ec_encode_data for the P global
// rows. Reconstruction first plans (plan()): which chunks to read, the
// fewest that do (a chunk that is there is read alone; one missing chunk
// of a group is the XOR of the rest of its group; anything else is the
// joint solve below), and the decode matrix of that solve, so that one
// plan serves every stripe with the same failures. Then reconstruct() runs
// the plan over the chunks read.
//
// The joint solve. Unknowns: every failed data chunk (a global row touches
// all data, so all of it must be known or solved). Rows: the local row of
// each group with failed data whose local parity is there, then the
// fewest global rows that make the square system invertible (the first
// subset of the available ones that gf_invert_matrix accepts). If none
// does, the failed data are lost, and so is everything that needed them.
// Every pattern the failure table promises is solvable (one chunk; two
// with P >= 1; one per group; up to P + 1 in one group). Past that the code
// is not maximally recoverable in GF(2^8); recoverable() says exactly what
// it rebuilds, with the same algebra (src/ec/README.md).
//
// Buffers: every chunk is chunk_size() bytes (a multiple of kChunkAlign)
// and starts at an address aligned to kChunkAlign (xor_gen needs 32).
//
// Thread safety: a Codec and a RepairPlan are immutable once made; their
// const methods may run concurrently.

#include <cstdint>
#include <span>
#include <vector>

#include "ec/layout.h"
#include "vblk/status.h"

namespace vblk::ec {

inline constexpr uint32_t kChunkAlign = 64;

// What a set of failed chunks leaves of one group of a stripe.
enum class GroupHealth : uint8_t {
  kIntact = 0,  // none of its data or local parity failed
  kLocal = 1,   // one failed: rebuilt from the rest of the group alone
  kGlobal = 2,  // more failed: rebuilt by the joint solve with global parity
  kLost = 3,    // more failed and the joint solve is impossible
};
const char* to_string(GroupHealth health);

struct Recoverability {
  std::vector<GroupHealth> groups;  // by group
  uint32_t failed_global = 0;       // failed global parity chunks
  bool solvable = true;             // the joint solve over every failed data chunk works
  // Every failed chunk of the stripe can be rebuilt.
  bool ok() const;
  // Group g's data can all be read or rebuilt.
  bool group_ok(uint32_t g) const { return groups[g] != GroupHealth::kLost; }
};

// How to rebuild some chunks of a stripe from the chunks that are there.
// Made by Codec::plan, used by Codec::reconstruct of the same Codec.
class RepairPlan {
 public:
  // The chunk positions asked for, in the order of reconstruct()'s outputs.
  const std::vector<uint32_t>& wanted() const { return wanted_; }
  // The chunk positions reconstruct() reads, ascending.
  const std::vector<uint32_t>& reads() const { return reads_; }
  // Whether the joint solve (or a re-encode from all data) is involved.
  bool uses_global() const { return uses_global_; }

 private:
  friend class Codec;
  enum class Step : uint8_t { kCopy, kXor, kSolved, kLocalParity, kGlobalParity };
  uint32_t width_ = 0;
  std::vector<uint32_t> wanted_;
  std::vector<uint32_t> reads_;
  std::vector<Step> steps_;                    // by wanted
  std::vector<std::vector<uint32_t>> xor_of_;  // kXor: the chunks XORed, by wanted
  bool uses_global_ = false;
  std::vector<uint32_t> unknown_;  // failed data chunks, solved jointly
  std::vector<uint32_t> sources_;  // the decode matrix's input chunks
  std::vector<uint8_t> tables_;    // ec_init_tables of the decode matrix
};

class Codec {
 public:
  // InvalidArgument unless chunk_size is a positive multiple of kChunkAlign.
  static Result<Codec> create(const Layout& layout, uint32_t chunk_size);

  const Layout& layout() const { return layout_; }
  uint32_t chunk_size() const { return chunk_size_; }
  uint32_t width() const { return layout_.stripe_width(); }

  // Computes the parity of one stripe: parity[g] the local parity of group
  // g, parity[groups() + p] global parity p. InvalidArgument (and nothing
  // written) when the counts, sizes or alignment are wrong.
  Status encode(std::span<const std::span<const uint8_t>> data, std::span<const std::span<uint8_t>> parity) const;

  // Which groups of a stripe with these failed chunk positions can be read.
  Recoverability recoverable(const ChunkSet& failed) const;

  // Plans the rebuild of `wanted` (chunk positions, no repeats) from the
  // chunks in `available`. IoError naming the lost group when a wanted
  // chunk cannot be rebuilt; InvalidArgument for a bad position.
  Result<RepairPlan> plan(const ChunkSet& available, std::span<const uint32_t> wanted) const;

  // Runs a plan: chunks has width() entries by chunk position, and every
  // position in plan.reads() holds that chunk's bytes (the others are not
  // looked at and may be empty); out has one buffer per wanted chunk.
  // InvalidArgument (nothing written) for a plan of another codec or a
  // wrong buffer.
  Status reconstruct(const RepairPlan& plan, std::span<const std::span<const uint8_t>> chunks,
                     std::span<const std::span<uint8_t>> out) const;

 private:
  struct Solve;
  Codec(const Layout& layout, uint32_t chunk_size);
  uint8_t coefficient(uint32_t row, uint32_t data) const;
  bool find_solve(const ChunkSet& available, Solve& solve) const;
  void build_decoder(const Solve& solve, RepairPlan& plan) const;
  void plan_global(const ChunkSet& available, RepairPlan& plan) const;
  Status check_buffer(std::span<const uint8_t> b, const char* what, uint32_t index) const;

  Layout layout_;
  uint32_t chunk_size_;
  std::vector<uint8_t> global_rows_;    // P x D: row p, entry j = 2^((p+1) j)
  std::vector<uint8_t> global_tables_;  // ec_init_tables of the global rows
};

// Per code word of the layout, what these failed members leave.
std::vector<Recoverability> recoverable_members(const Codec& codec, std::span<const uint32_t> failed_members);

}  // namespace vblk::ec
