// The erasure-code layout (src/ec/layout.h): validation and its messages,
// the member list, chunk placement over boxes, the overhead of the brief's
// layouts, and the layout record's round trip and hostile records.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <map>
#include <set>
#include <string>

#include "ec/layout.h"
#include "format/format.h"

namespace vblk::ec {
namespace {

LayoutOptions opts(uint32_t d, uint32_t g, uint32_t p, uint32_t s, uint32_t boxes = 1, bool ha = false) {
  return LayoutOptions{d, g, p, s, boxes, ha};
}

Layout make(const LayoutOptions& o) {
  auto l = Layout::create(o);
  EXPECT_TRUE(l.is_ok()) << l.status().to_string();
  return *l;
}

// The message of a refused layout ("" when it is accepted).
std::string refusal(const LayoutOptions& o) {
  auto l = Layout::create(o);
  if (l.is_ok()) return "";
  EXPECT_EQ(l.status().code(), Status::Code::kInvalidArgument);
  return l.status().message();
}

TEST(EcLayout, GroupsSplitDataLastSmaller) {
  const Layout l = make(opts(38, 13, 1, 2));
  ASSERT_EQ(l.groups(), 3u);
  EXPECT_EQ(l.group_end(0) - l.group_begin(0), 13u);
  EXPECT_EQ(l.group_end(1) - l.group_begin(1), 13u);
  EXPECT_EQ(l.group_end(2) - l.group_begin(2), 12u);
  EXPECT_EQ(l.stripe_width(), 42u);
  EXPECT_EQ(l.member_count(), 44u);
  EXPECT_EQ(l.describe(), "38 data (13,13,12) + 3 local + 1 global + 2 spares");
}

TEST(EcLayout, ChunkPositionsAndRoles) {
  const Layout l = make(opts(12, 4, 2, 1));
  EXPECT_EQ(l.chunk_role(11), Role::kData);
  EXPECT_EQ(l.chunk_group(11), 2u);
  EXPECT_EQ(l.local_chunk(0), 12u);
  EXPECT_EQ(l.chunk_role(14), Role::kLocalParity);
  EXPECT_EQ(l.chunk_group(14), 2u);
  EXPECT_EQ(l.global_chunk(1), 16u);
  EXPECT_EQ(l.chunk_role(16), Role::kGlobalParity);
  EXPECT_EQ(l.chunk_group(16), kNoGroup);
  const auto members = l.members();
  ASSERT_EQ(members.size(), 18u);
  EXPECT_EQ(members[17].role, Role::kSpare);
  EXPECT_EQ(members[17].chunk, 0u);
  EXPECT_STREQ(to_string(Role::kLocalParity), "local-parity");
}

TEST(EcLayout, RefusalsNameTheOptionAndReason) {
  EXPECT_EQ(refusal(opts(0, 1, 0, 0)), "--data-members 0: must be at least 1");
  EXPECT_EQ(refusal(opts(12, 0, 1, 0)), "--group-size 0: must be at least 1");
  EXPECT_EQ(refusal(opts(12, 13, 1, 0)), "--group-size 13: larger than --data-members 12");
  EXPECT_EQ(refusal(opts(12, 4, 17, 0)), "--global-parity 17: at most 16");
  EXPECT_EQ(refusal(opts(256, 16, 1, 0)),
            "--data-members 256: at most 255 (the global parity's GF(2^8) has that many distinct points)");
  EXPECT_EQ(refusal(opts(12, 4, 1, 0, 0)), "--boxes 0: must be at least 1");
  EXPECT_EQ(refusal(opts(12, 4, 1, 2000)), "--spares 2000: more than 1024 members");
  EXPECT_EQ(refusal(opts(38, 13, 1, 2, 24)), "the layout has 1056 members, more than 1024 (one open file each)");
  // A huge --data-members must not wrap the sums around.
  EXPECT_NE(refusal(opts(UINT32_MAX, 1, 16, 0)), "");
  EXPECT_EQ(refusal(opts(255, 16, 16, 0)), "");
}

TEST(EcLayout, HaRefusals) {
  EXPECT_EQ(refusal(opts(12, 4, 1, 0, 1, true)), "--boxes 1: --ha needs at least 2 boxes (a whole box may fail)");
  // 16 chunks over 3 boxes: 6 in a box.
  EXPECT_EQ(refusal(opts(12, 4, 1, 2, 3, true)),
            "--boxes 3: --ha puts at most 2 of a stripe's 16 chunks in one box, which needs at least 8 boxes");
  // 8 data in one group + local = 9 chunks over 5 boxes: box 0 holds data 0
  // and data 5, of one group, and no global parity rebuilds the second.
  EXPECT_EQ(refusal(opts(8, 8, 0, 0, 5, true)),
            "--global-parity 0: --ha: box 0 holds 2 chunks of group 0, which a box failure loses together; at "
            "least 1 global parity needed");
  EXPECT_EQ(refusal(opts(8, 8, 1, 0, 5, true)), "");
  // Two chunks of a box in different groups need no global parity: over 5
  // boxes box 0 holds data 0 (group 0) and the local parity of group 1.
  EXPECT_EQ(refusal(opts(4, 2, 0, 0, 5, true)), "");
  EXPECT_NE(refusal(opts(4, 2, 0, 0, 4, true)), "") << "box 0: data 0 and the local parity of its group";
}

TEST(EcLayout, MembersRoundRobinOverBoxesWordPerBox) {
  const Layout l = make(opts(4, 2, 1, 1, 3));
  EXPECT_EQ(l.words(), 3u);
  EXPECT_EQ(l.member_count(), 24u);
  for (const Member& m : l.members()) {
    EXPECT_EQ(m.box, m.index % 3);
    EXPECT_EQ(m.word, m.box) << "without --ha a word lies in one box";
  }
  // Stripes rotate over the words; each stripe's members are in one box.
  for (uint64_t s = 0; s < 6; ++s) {
    const auto members = l.stripe_members(s);
    ASSERT_EQ(members.size(), 7u);
    for (uint32_t c = 0; c < members.size(); ++c) {
      const Member m = l.member(members[c]);
      EXPECT_EQ(m.box, s % 3);
      EXPECT_EQ(m.chunk, c);
      EXPECT_EQ(m.role, l.chunk_role(c));
    }
  }
}

TEST(EcLayout, HaStripeAtMostTwoChunksPerBox) {
  const Layout l = make(opts(18, 6, 1, 2, 11, true));
  EXPECT_EQ(l.words(), 1u);
  EXPECT_EQ(l.stripe_width(), 22u);
  EXPECT_EQ(l.member_count(), 24u);
  std::map<uint32_t, uint32_t> per_box;
  for (uint32_t m : l.stripe_members(7)) ++per_box[l.member(m).box];
  EXPECT_EQ(per_box.size(), 11u);
  for (auto [box, n] : per_box) EXPECT_EQ(n, 2u) << "box " << box;
  // A box's members, spares included, are those of its index modulo 11.
  EXPECT_EQ(l.box_members(1), (std::vector<uint32_t>{1, 12, 23}));
}

TEST(EcLayout, FailedChunksOfAWord) {
  const Layout l = make(opts(4, 2, 1, 1, 2));
  // Word 1 is members 1, 3, 5, ...: member 3 holds chunk 1; member 15
  // (slot 7 = W) is its spare; member 2 is word 0's; 99 is none.
  const std::array<uint32_t, 4> failed{3, 15, 2, 99};
  const ChunkSet set = l.failed_chunks(1, failed);
  EXPECT_EQ(set.count(), 1u);
  EXPECT_TRUE(set[1]);
  EXPECT_TRUE(l.failed_chunks(0, failed)[1]);
}

// The brief's full size: 11 boxes of 38 data drives in 3 groups + 3 local
// + 1 global + 2 spares, 44 drives each, one code word per box.
TEST(EcLayout, BriefLayout484Drives) {
  const Layout l = make(opts(38, 13, 1, 2, 11));
  EXPECT_EQ(l.member_count(), 484u);
  std::map<Role, uint32_t> roles;
  for (const Member& m : l.members()) ++roles[m.role];
  EXPECT_EQ(roles[Role::kData], 418u);
  EXPECT_EQ(roles[Role::kLocalParity], 33u);
  EXPECT_EQ(roles[Role::kGlobalParity], 11u);
  EXPECT_EQ(roles[Role::kSpare], 22u);
  const Overhead o = l.overhead();
  EXPECT_NEAR(o.stripe_share(), 4.0 / 42, 1e-12);
  EXPECT_NEAR(o.member_share(), 44.0 / 484, 1e-12);
  EXPECT_NEAR(o.raw_share(), 66.0 / 484, 1e-12);
  std::printf("%s: %u members; parity %.2f %% of each stripe, %.2f %% of the members; with spares %.2f %%\n",
              l.describe().c_str(), o.members, 100 * o.stripe_share(), 100 * o.member_share(), 100 * o.raw_share());
  // --ha as the brief has it: 2 drives in each of the 11 boxes, 22 in all.
  const Layout ha = make(opts(18, 6, 1, 0, 11, true));
  EXPECT_NEAR(ha.overhead().stripe_share(), 4.0 / 22, 1e-12);
  std::printf("%s: %u members; parity %.2f %% of each stripe\n", ha.describe().c_str(), ha.member_count(),
              100 * ha.overhead().stripe_share());
  // The brief's 38-drive word cannot be spread with --ha over 11 boxes.
  EXPECT_NE(refusal(opts(38, 13, 1, 2, 11, true)), "");
}

// ---- the layout record -----------------------------------------------------

std::array<uint8_t, kLayoutRecordSize> record_of(const Layout& l) {
  std::array<uint8_t, kLayoutRecordSize> r{};
  encode_layout(l, r);
  return r;
}

void rehash(std::array<uint8_t, kLayoutRecordSize>& r) { format::put_u64(r.data() + 32, format::hash64(r.data(), 32)); }

TEST(EcLayoutRecord, RoundTrip) {
  for (const auto& o : {opts(38, 13, 1, 2, 11), opts(18, 6, 1, 0, 11, true), opts(1, 1, 0, 0), opts(255, 16, 16, 3)}) {
    const Layout l = make(o);
    const auto r = record_of(l);
    EXPECT_EQ(format::get_u32(r.data()), kLayoutMagic);
    auto back = decode_layout(r);
    ASSERT_TRUE(back.is_ok()) << back.status().to_string();
    EXPECT_EQ(back->options(), o);
  }
}

TEST(EcLayoutRecord, ShortRecord) {
  const auto r = record_of(make(opts(12, 4, 1, 2)));
  auto back = decode_layout(std::span(r).first(kLayoutRecordSize - 1));
  EXPECT_TRUE(back.status().is_corruption());
  EXPECT_EQ(back.status().message(), "erasure-code layout record: 39 bytes, 40 needed");
  EXPECT_TRUE(decode_layout({}).status().is_corruption());
}

TEST(EcLayoutRecord, EveryFlippedBitIsRefused) {
  const auto good = record_of(make(opts(12, 4, 1, 2, 3)));
  for (size_t bit = 0; bit < 8 * kLayoutRecordSize; ++bit) {
    auto r = good;
    r[bit / 8] ^= uint8_t(1u << (bit % 8));
    auto back = decode_layout(r);
    ASSERT_FALSE(back.is_ok()) << "bit " << bit;
    const bool version = bit / 8 == 4 || bit / 8 == 5;
    EXPECT_EQ(back.status().code(), version ? Status::Code::kNotSupported : Status::Code::kCorruption) << bit;
  }
}

TEST(EcLayoutRecord, OtherVersionIsNotSupported) {
  auto r = record_of(make(opts(12, 4, 1, 2)));
  format::put_u16(r.data() + 4, 2);
  rehash(r);
  EXPECT_EQ(decode_layout(r).status().to_string(),
            "not supported: erasure-code layout record: version 2, this build reads 1");
}

TEST(EcLayoutRecord, WellHashedButHostileFields) {
  const auto good = record_of(make(opts(12, 4, 1, 2)));
  struct Case {
    size_t offset;
    uint32_t value;
    bool u16;
    const char* message;
  };
  const Case cases[] = {
      {0, 0x12345678, false, "erasure-code layout record: bad magic"},
      {6, 48, true, "erasure-code layout record: size 48, not 40"},
      {8, 0, false, "erasure-code layout record: --data-members 0: must be at least 1"},
      {12, 0, false, "erasure-code layout record: --group-size 0: must be at least 1"},
      {12, 99, false, "erasure-code layout record: --group-size 99: larger than --data-members 12"},
      {16, 0xFFFFFFFF, false, "erasure-code layout record: --global-parity 4294967295: at most 16"},
      {20, 0xFFFFFFFF, false, "erasure-code layout record: --spares 4294967295: more than 1024 members"},
      {24, 0, false, "erasure-code layout record: --boxes 0: must be at least 1"},
      {24, 0xFFFFFFFF, false, "erasure-code layout record: --boxes 4294967295: more than 1024 members"},
      {28, 2, false, "erasure-code layout record: unknown flags 2"},
      {28, 1, false, "erasure-code layout record: --boxes 1: --ha needs at least 2 boxes (a whole box may fail)"},
  };
  for (const Case& c : cases) {
    auto r = good;
    if (c.u16)
      format::put_u16(r.data() + c.offset, static_cast<uint16_t>(c.value));
    else
      format::put_u32(r.data() + c.offset, c.value);
    rehash(r);
    auto back = decode_layout(r);
    ASSERT_FALSE(back.is_ok()) << c.message;
    EXPECT_TRUE(back.status().is_corruption()) << c.message;
    EXPECT_EQ(back.status().message(), c.message);
  }
}

TEST(EcLayoutRecord, TrailingBytesAreNotPartOfIt) {
  std::vector<uint8_t> buf(64, 0xAA);
  encode_layout(make(opts(12, 4, 1, 2)), buf);
  EXPECT_TRUE(decode_layout(buf).is_ok());
  EXPECT_EQ(buf[kLayoutRecordSize], 0xAA) << "encode writes only the record";
}

}  // namespace
}  // namespace vblk::ec
