// The erasure codec (src/ec/codec.h): encoding, and every failure pattern
// of small layouts, exhaustively up to P + 2 failed chunks. For each set:
// recoverable() gives what a maximally recoverable local code promises
// (the count below), plan() succeeds exactly when recoverable() says so,
// reconstruct() gives back the exact bytes while reading only the chunks
// the plan names (the others are handed in empty), and a lost chunk is
// refused before any byte is written.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "ec/codec.h"

namespace vblk::ec {
namespace {

constexpr uint32_t kChunk = 256;

Layout make(uint32_t d, uint32_t g, uint32_t p, uint32_t s = 0, uint32_t boxes = 1, bool ha = false) {
  auto l = Layout::create({d, g, p, s, boxes, ha});
  EXPECT_TRUE(l.is_ok()) << l.status().to_string();
  return *l;
}

Codec codec_of(const Layout& l, uint32_t chunk = kChunk) {
  auto c = Codec::create(l, chunk);
  EXPECT_TRUE(c.is_ok()) << c.status().to_string();
  return std::move(*c);
}

// Aligned chunk buffers, freed together.
class Buffers {
 public:
  Buffers(size_t count, uint32_t size)
      : size_(size), mem_(static_cast<uint8_t*>(std::aligned_alloc(kChunkAlign, count * size))) {}
  std::span<uint8_t> operator[](size_t i) const { return {mem_.get() + i * size_, size_}; }

 private:
  struct Free {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  uint32_t size_;
  std::unique_ptr<uint8_t, Free> mem_;
};

// One encoded stripe of random data.
struct Stripe {
  Stripe(const Codec& c, uint32_t seed) : codec(c), chunks(c.width(), c.chunk_size()) {
    std::mt19937 rng(seed);
    const Layout& l = c.layout();
    std::vector<std::span<const uint8_t>> data;
    std::vector<std::span<uint8_t>> parity;
    for (uint32_t i = 0; i < c.width(); ++i) {
      if (i < l.data_members()) {
        for (uint8_t& b : chunks[i]) b = static_cast<uint8_t>(rng());
        data.push_back(chunks[i]);
      } else {
        parity.push_back(chunks[i]);
      }
    }
    EXPECT_TRUE(c.encode(data, parity).is_ok());
  }
  bool same(uint32_t chunk, std::span<const uint8_t> bytes) const {
    return std::equal(bytes.begin(), bytes.end(), chunks[chunk].begin());
  }
  // Plans and runs the rebuild of `wanted` with `failed` gone, handing the
  // codec only the chunks the plan reads. The status of the plan.
  Status rebuild(const ChunkSet& failed, const std::vector<uint32_t>& wanted, std::vector<uint32_t>* reads = nullptr) {
    ChunkSet available;
    for (uint32_t i = 0; i < codec.width(); ++i) available[i] = !failed[i];
    auto plan = codec.plan(available, wanted);
    if (!plan) return plan.status();
    if (reads) *reads = plan->reads();
    std::vector<std::span<const uint8_t>> in(codec.width());
    for (uint32_t r : plan->reads()) {
      EXPECT_TRUE(available[r]) << "the plan reads failed chunk " << r;
      in[r] = chunks[r];
    }
    Buffers out_mem(wanted.size(), codec.chunk_size());
    std::vector<std::span<uint8_t>> out;
    for (size_t i = 0; i < wanted.size(); ++i) out.push_back(out_mem[i]);
    VBLK_RETURN_IF_ERROR(codec.reconstruct(*plan, in, out));
    for (size_t i = 0; i < wanted.size(); ++i)
      EXPECT_TRUE(same(wanted[i], out[i])) << "chunk " << wanted[i] << " rebuilt wrong";
    return Status::ok();
  }
  const Codec& codec;
  Buffers chunks;
};

std::vector<uint32_t> members_of(const ChunkSet& set, uint32_t width) {
  std::vector<uint32_t> out;
  for (uint32_t i = 0; i < width; ++i)
    if (set[i]) out.push_back(i);
  return out;
}

// What a maximally recoverable local code can rebuild: every failed data
// chunk beyond one per group whose local parity is there needs a global
// parity chunk of its own.
Recoverability expected(const Layout& l, const ChunkSet& failed) {
  Recoverability r;
  uint32_t need = 0, globals = 0;
  for (uint32_t p = 0; p < l.global_parity(); ++p) {
    r.failed_global += failed[l.global_chunk(p)];
    globals += !failed[l.global_chunk(p)];
  }
  for (uint32_t g = 0; g < l.groups(); ++g) {
    uint32_t data = 0;
    for (uint32_t c = l.group_begin(g); c < l.group_end(g); ++c) data += failed[c];
    const bool local_there = !failed[l.local_chunk(g)];
    need += data > (local_there ? 1 : 0) ? data - (local_there ? 1 : 0) : 0;
  }
  r.solvable = need <= globals;
  for (uint32_t g = 0; g < l.groups(); ++g) {
    uint32_t missing = failed[l.local_chunk(g)];
    for (uint32_t c = l.group_begin(g); c < l.group_end(g); ++c) missing += failed[c];
    r.groups.push_back(missing == 0   ? GroupHealth::kIntact
                       : missing == 1 ? GroupHealth::kLocal
                       : r.solvable   ? GroupHealth::kGlobal
                                      : GroupHealth::kLost);
  }
  return r;
}

std::string describe(const ChunkSet& failed, uint32_t width) {
  std::string s = "failed {";
  for (uint32_t c : members_of(failed, width)) s += std::to_string(c) + " ";
  return s + "}";
}

// Failures confined to one group's data and local parity, every global
// parity chunk there: rows 0..k of a Vandermonde matrix over distinct
// points, always solvable for up to P + 1 of them.
bool one_group_within_parity(const Layout& l, const ChunkSet& failed) {
  for (uint32_t p = 0; p < l.global_parity(); ++p)
    if (failed[l.global_chunk(p)]) return false;
  uint32_t groups_hit = 0;
  for (uint32_t g = 0; g < l.groups(); ++g) {
    bool hit = failed[l.local_chunk(g)];
    for (uint32_t c = l.group_begin(g); c < l.group_end(g); ++c) hit |= failed[c];
    groups_hit += hit;
  }
  return groups_hit <= 1 && failed.count() <= l.global_parity() + 1;
}

// Every failed set of up to `max_failed` chunks of the layout. `maximal`:
// the code rebuilds everything the count in expected() allows (true of
// the layouts below with P <= 2; not in general, see src/ec/README.md).
void exhaustive(const Layout& l, uint32_t max_failed, bool maximal) {
  const Codec codec = codec_of(l);
  Stripe stripe(codec, 42);
  const uint32_t w = codec.width();
  uint32_t sets = 0, recovered = 0, short_of_maximal = 0;
  for (uint32_t mask_bits = 0; mask_bits < (1u << w); ++mask_bits) {
    if (static_cast<uint32_t>(__builtin_popcount(mask_bits)) > max_failed) continue;
    ChunkSet failed;
    for (uint32_t i = 0; i < w; ++i) failed[i] = (mask_bits >> i) & 1;
    const std::string what = describe(failed, w);
    const Recoverability want = expected(l, failed);
    const Recoverability got = codec.recoverable(failed);
    if (maximal) {
      ASSERT_EQ(got.groups, want.groups) << what;
      ASSERT_EQ(got.solvable, want.solvable) << what;
    }
    ASSERT_TRUE(want.ok() || !got.ok()) << what << ": more than any local code can rebuild";
    if (one_group_within_parity(l, failed)) {
      ASSERT_TRUE(got.ok()) << what;
    }
    short_of_maximal += want.ok() && !got.ok();
    ++sets;
    // All failed chunks at once: rebuilt exactly, or refused as lost.
    const Status all = stripe.rebuild(failed, members_of(failed, w));
    ASSERT_EQ(all.is_ok(), got.ok()) << what << ": " << all.to_string();
    if (!all.is_ok()) {
      EXPECT_TRUE(all.is_io_error()) << all.to_string();
    }
    recovered += all.is_ok();
    // Each failed chunk on its own: rebuilt exactly when its group (or, for
    // global parity, the joint solve) allows.
    for (uint32_t c : members_of(failed, w)) {
      const uint32_t g = l.chunk_group(c);
      const bool can = g == kNoGroup ? got.solvable : got.group_ok(g);
      const Status one = stripe.rebuild(failed, {c});
      ASSERT_EQ(one.is_ok(), can) << what << " chunk " << c << ": " << one.to_string();
    }
  }
  std::printf("%s: %u failure sets of up to %u chunks, %u recoverable, %u short of a maximal code\n",
              l.describe().c_str(), sets, max_failed, recovered, short_of_maximal);
}

TEST(EcCodec, ExhaustiveD12G4P1) { exhaustive(make(12, 4, 1), 3, true); }
TEST(EcCodec, ExhaustiveD8G4P2) { exhaustive(make(8, 4, 2), 4, true); }
TEST(EcCodec, ExhaustiveUnevenGroupsP2) { exhaustive(make(7, 3, 2), 4, true); }
TEST(EcCodec, ExhaustiveNoGlobalParity) { exhaustive(make(6, 2, 0), 2, true); }
TEST(EcCodec, ExhaustiveD10G4P3) { exhaustive(make(10, 4, 3), 5, false); }

// The table of recoverable patterns, by name, on the brief's word.
class EcTable : public ::testing::Test {
 protected:
  EcTable() : layout_(make(38, 13, 1, 2)), codec_(codec_of(layout_)), stripe_(codec_, 7) {}
  ChunkSet set(std::initializer_list<uint32_t> chunks) {
    ChunkSet s;
    for (uint32_t c : chunks) s.set(c);
    return s;
  }
  Layout layout_;
  Codec codec_;
  Stripe stripe_;
};

TEST_F(EcTable, OneFailureReadsOnlyItsGroup) {
  for (uint32_t c = 0; c < codec_.width(); ++c) {
    std::vector<uint32_t> reads;
    ASSERT_TRUE(stripe_.rebuild(set({c}), {c}, &reads).is_ok()) << c;
    const uint32_t g = layout_.chunk_group(c);
    if (g == kNoGroup) {
      EXPECT_EQ(reads.size(), layout_.data_members()) << "global parity is encoded again from all data";
      continue;
    }
    std::vector<uint32_t> group;
    for (uint32_t i = layout_.group_begin(g); i < layout_.group_end(g); ++i) group.push_back(i);
    group.push_back(layout_.local_chunk(g));
    group.erase(std::find(group.begin(), group.end(), c));
    EXPECT_EQ(reads, group) << "chunk " << c;
  }
}

TEST_F(EcTable, TwoInOneGroupUseLocalAndGlobal) {
  EXPECT_EQ(codec_.recoverable(set({3, 9})).groups[0], GroupHealth::kGlobal);
  std::vector<uint32_t> reads;
  ASSERT_TRUE(stripe_.rebuild(set({3, 9}), {3, 9}, &reads).is_ok());
  // All other data, group 0's local parity, the global parity.
  EXPECT_EQ(reads.size(), 36u + 1 + 1);
  EXPECT_TRUE(std::binary_search(reads.begin(), reads.end(), layout_.local_chunk(0)));
  EXPECT_TRUE(std::binary_search(reads.begin(), reads.end(), layout_.global_chunk(0)));
  // A data chunk and its group's local parity.
  EXPECT_TRUE(stripe_.rebuild(set({5, layout_.local_chunk(0)}), {5, layout_.local_chunk(0)}).is_ok());
}

TEST_F(EcTable, OnePerGroupInEveryGroupIsLocal) {
  const ChunkSet failed = set({1, 20, 37, layout_.global_chunk(0)});
  const Recoverability r = codec_.recoverable(failed);
  EXPECT_EQ(r.groups, std::vector<GroupHealth>(3, GroupHealth::kLocal));
  EXPECT_TRUE(r.ok());
  std::vector<uint32_t> reads;
  ASSERT_TRUE(stripe_.rebuild(failed, {20}, &reads).is_ok());
  EXPECT_EQ(reads.size(), 13u) << "12 other data of group 1 and its local parity";
  EXPECT_TRUE(stripe_.rebuild(failed, {1, 20, 37, layout_.global_chunk(0)}).is_ok());
}

TEST_F(EcTable, ThreeInOneGroupIsDataLoss) {
  const ChunkSet failed = set({0, 1, 2, 20});
  const Recoverability r = codec_.recoverable(failed);
  EXPECT_EQ(r.groups[0], GroupHealth::kLost);
  EXPECT_EQ(r.groups[1], GroupHealth::kLocal) << "a group with one failure still reads";
  EXPECT_FALSE(r.ok());
  const Status lost = stripe_.rebuild(failed, {1});
  EXPECT_EQ(lost.to_string(), "I/O error: chunk 1 lost: group 0 cannot be rebuilt from the chunks left");
  EXPECT_TRUE(stripe_.rebuild(failed, {20}).is_ok());
  EXPECT_TRUE(stripe_.rebuild(failed, {5}).is_ok()) << "a chunk that is there";
  // Two groups with two failures each and one global parity.
  EXPECT_FALSE(codec_.recoverable(set({0, 1, 13, 14})).ok());
}

// --ha: every whole box of the brief's HA layout fails on its own.
TEST(EcCodec, HaWholeBoxFailure) {
  const Layout l = make(18, 6, 1, 2, 11, true);
  const Codec codec = codec_of(l);
  Stripe stripe(codec, 3);
  for (uint32_t b = 0; b < l.boxes(); ++b) {
    const auto box = l.box_members(b);
    const auto words = recoverable_members(codec, box);
    ASSERT_EQ(words.size(), 1u);
    EXPECT_TRUE(words[0].ok()) << "box " << b;
    const ChunkSet failed = l.failed_chunks(0, box);
    EXPECT_EQ(failed.count(), 2u);
    EXPECT_TRUE(stripe.rebuild(failed, members_of(failed, codec.width())).is_ok()) << "box " << b;
  }
  // Two boxes at once is more than --ha promises: some pair loses data.
  bool some_lost = false;
  for (uint32_t a = 0; a < l.boxes(); ++a)
    for (uint32_t b = a + 1; b < l.boxes(); ++b) {
      auto both = l.box_members(a);
      const auto other = l.box_members(b);
      both.insert(both.end(), other.begin(), other.end());
      some_lost |= !recoverable_members(codec, both)[0].ok();
    }
  EXPECT_TRUE(some_lost);
}

// Without --ha a box is a word: losing it loses that word's stripes only.
TEST(EcCodec, BoxFailureWithoutHaLosesItsWord) {
  const Layout l = make(4, 2, 1, 1, 3);
  const Codec codec = codec_of(l);
  const auto words = recoverable_members(codec, l.box_members(1));
  ASSERT_EQ(words.size(), 3u);
  EXPECT_TRUE(words[0].ok());
  EXPECT_FALSE(words[1].ok());
  EXPECT_TRUE(words[2].ok());
  EXPECT_EQ(words[0].groups, std::vector<GroupHealth>(2, GroupHealth::kIntact));
}

TEST(EcCodec, LargeChunksRoundTrip) {
  const Codec codec = codec_of(make(10, 4, 3), 64 << 10);
  Stripe stripe(codec, 11);
  ChunkSet failed;
  for (uint32_t c : {0u, 1u, 2u, 5u, 11u}) failed.set(c);
  EXPECT_TRUE(stripe.rebuild(failed, members_of(failed, codec.width())).is_ok());
}

TEST(EcCodec, OneMemberGroupsMirror) {
  const Codec codec = codec_of(make(3, 1, 0));
  Stripe stripe(codec, 5);
  for (uint32_t c = 0; c < 3; ++c) EXPECT_TRUE(stripe.same(3 + c, stripe.chunks[c])) << "local parity = copy";
  ChunkSet failed;
  failed.set(1);
  EXPECT_TRUE(stripe.rebuild(failed, {1}).is_ok());
}

TEST(EcCodec, BadArguments) {
  const Layout l = make(4, 2, 1);
  EXPECT_EQ(Codec::create(l, 0).status().to_string(),
            "invalid argument: chunk size 0: must be a positive multiple of 64");
  EXPECT_FALSE(Codec::create(l, 100).is_ok());
  const Codec codec = codec_of(l);
  ChunkSet all;
  for (uint32_t i = 0; i < codec.width(); ++i) all.set(i);
  const std::vector<uint32_t> twice{1, 1}, outside{7};
  EXPECT_EQ(codec.plan(all, twice).status().to_string(), "invalid argument: chunk 1 wanted twice");
  EXPECT_EQ(codec.plan(all, outside).status().to_string(), "invalid argument: chunk 7: the stripe has 7");

  Buffers mem(8, kChunk);
  std::vector<std::span<const uint8_t>> data{mem[0], mem[1], mem[2], mem[3]};
  std::vector<std::span<uint8_t>> parity{mem[4], mem[5], mem[6]};
  EXPECT_TRUE(codec.encode(data, parity).is_ok());
  EXPECT_FALSE(codec.encode(std::span(data).first(3), parity).is_ok());
  data[2] = mem[2].subspan(1, kChunk - 1);
  EXPECT_EQ(codec.encode(data, parity).to_string(),
            "invalid argument: data chunk 2: 255 bytes, not the chunk size 256");
  data[2] = mem[2];
  parity[1] = std::span(mem[5].data() + 32, kChunk);
  EXPECT_EQ(codec.encode(data, parity).to_string(), "invalid argument: parity chunk 1: not aligned to 64 bytes");
}

TEST(EcCodec, ReconstructChecksPlanAndBuffers) {
  const Codec codec = codec_of(make(4, 2, 1));
  const Codec other = codec_of(make(6, 3, 1));
  Stripe stripe(codec, 9);
  ChunkSet available;
  for (uint32_t i = 1; i < codec.width(); ++i) available.set(i);
  const std::vector<uint32_t> wanted{0};
  auto plan = codec.plan(available, wanted);
  ASSERT_TRUE(plan.is_ok());
  std::vector<std::span<const uint8_t>> in(codec.width());
  for (uint32_t r : plan->reads()) in[r] = stripe.chunks[r];
  Buffers out_mem(1, kChunk);
  std::fill(out_mem[0].begin(), out_mem[0].end(), 0xEE);
  std::vector<std::span<uint8_t>> out{out_mem[0]};
  std::vector<std::span<const uint8_t>> other_in(other.width());
  EXPECT_EQ(other.reconstruct(*plan, other_in, out).to_string(),
            "invalid argument: reconstruct: the plan is not one of this codec's");
  in[plan->reads()[0]] = {};
  EXPECT_FALSE(codec.reconstruct(*plan, in, out).is_ok()) << "a chunk the plan reads is missing";
  EXPECT_TRUE(std::all_of(out_mem[0].begin(), out_mem[0].end(), [](uint8_t b) { return b == 0xEE; }))
      << "a refused call writes nothing";
  EXPECT_FALSE(codec.reconstruct(*plan, in, {}).is_ok());
}

}  // namespace
}  // namespace vblk::ec
