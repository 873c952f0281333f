// The report of an erasure-coded member set (src/report/member_*.h): the
// verdict for every pattern of the brief's failure table, the member
// statuses a layout refuses, the text and JSON of a small layout, the SVG's
// structure and colours, and the hex dump of a member.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "ec/layout.h"
#include "report/hex_dump.h"
#include "report/member_report.h"
#include "report/member_svg.h"
#include "report/member_verdict.h"

namespace vblk::report {
namespace {

using State = MemberStatus::State;

ec::Layout make(const ec::LayoutOptions& o) {
  auto l = ec::Layout::create(o);
  EXPECT_TRUE(l.is_ok()) << l.status().to_string();
  return *l;
}

// The brief's layouts: 11 boxes of 38 data (13,13,12) + 3 local + 1 global
// + 2 spares, and 18 data (6,6,6) + 3 local + 1 global over 11 boxes, --ha.
ec::Layout brief() { return make({38, 13, 1, 2, 11, false}); }
ec::Layout brief_ha() { return make({18, 6, 1, 0, 11, true}); }

// The layout's members, all well, with these members of word 0 (by chunk
// position) failed.
std::vector<MemberStatus> with_failed_chunks(const ec::Layout& l, std::vector<uint32_t> chunks, uint32_t word = 0) {
  std::vector<MemberStatus> m = layout_members(l);
  for (uint32_t c : chunks) m[l.member_of(word, c)].state = State::kFailed;
  return m;
}

Verdict judge(const ec::Layout& l, const std::vector<MemberStatus>& m, const JudgeOptions& o = {}) {
  auto v = judge_members(l, m, o);
  EXPECT_TRUE(v.is_ok()) << v.status().to_string();
  return v.is_ok() ? *v : Verdict{};
}

Tolerance exactly(uint32_t n) { return Tolerance{n, false}; }

// The failure table of the brief, on its layout (a word per box; word 0
// has data 0-12, 13-25, 26-37 in groups 0-2, local parity at 38-40, global
// parity at 41).
TEST(MemberVerdict, AllWell) {
  const ec::Layout l = brief();
  const Verdict v = judge(l, layout_members(l));
  EXPECT_TRUE(v.recoverable);
  ASSERT_EQ(v.words.size(), 11u);
  for (const WordVerdict& w : v.words) {
    EXPECT_FALSE(w.degraded());
    EXPECT_EQ(w.more, exactly(2)) << "any two failures, not every three (three in a group)";
    EXPECT_EQ(w.spares_ready, 2u);
    for (const GroupVerdict& g : w.groups) EXPECT_EQ(g.more, exactly(2)) << "group " << g.group;
  }
  EXPECT_EQ(v.more, exactly(2));
  EXPECT_EQ(v.more_boxes, exactly(0)) << "without --ha a box holds whole words";
  EXPECT_TRUE(v.boxes_down.empty());
  EXPECT_EQ(v.failed_members, 0u);
}

TEST(MemberVerdict, OneMemberFailed) {
  const ec::Layout l = brief();
  const Verdict v = judge(l, with_failed_chunks(l, {5}));
  EXPECT_TRUE(v.recoverable);
  EXPECT_EQ(v.failed_members, 1u);
  const WordVerdict& w = v.words[0];
  EXPECT_EQ(w.missing, 1u);
  EXPECT_EQ(w.groups[0].health, ec::GroupHealth::kLocal);
  EXPECT_EQ(w.groups[0].missing, 1u);
  EXPECT_EQ(w.groups[0].more, exactly(1)) << "a second in the group needs the global parity, a third is lost";
  EXPECT_EQ(w.groups[1].more, exactly(2));
  EXPECT_EQ(w.more, exactly(1));
  EXPECT_EQ(v.words[1].more, exactly(2)) << "the other words are untouched";
  EXPECT_EQ(v.more, exactly(1)) << "the weakest word's";
}

TEST(MemberVerdict, TwoInAGroup) {
  const ec::Layout l = brief();
  const Verdict v = judge(l, with_failed_chunks(l, {14, 20}));
  EXPECT_TRUE(v.recoverable);
  const WordVerdict& w = v.words[0];
  EXPECT_EQ(w.groups[1].health, ec::GroupHealth::kGlobal);
  EXPECT_EQ(w.groups[1].missing, 2u);
  EXPECT_EQ(w.groups[1].more, exactly(0));
  EXPECT_EQ(w.groups[0].more, exactly(1)) << "the global parity is spoken for";
  EXPECT_EQ(w.more, exactly(0));
  EXPECT_EQ(v.more, exactly(0));
}

TEST(MemberVerdict, OnePerGroup) {
  const ec::Layout l = brief();
  const Verdict v = judge(l, with_failed_chunks(l, {0, 13, 26}));
  EXPECT_TRUE(v.recoverable);
  for (const GroupVerdict& g : v.words[0].groups) {
    EXPECT_EQ(g.health, ec::GroupHealth::kLocal) << g.group;
    EXPECT_EQ(g.more, exactly(1)) << g.group;
  }
  EXPECT_EQ(v.words[0].more, exactly(1));
}

TEST(MemberVerdict, GlobalParityAlone) {
  const ec::Layout l = brief();
  const Verdict v = judge(l, with_failed_chunks(l, {41}));
  EXPECT_TRUE(v.recoverable);
  EXPECT_EQ(v.words[0].missing_global, 1u);
  for (const GroupVerdict& g : v.words[0].groups) {
    EXPECT_EQ(g.health, ec::GroupHealth::kIntact);
    EXPECT_EQ(g.more, exactly(1)) << "local parity only now";
  }
}

TEST(MemberVerdict, ThreeInAGroupIsDataLoss) {
  const ec::Layout l = brief();
  // Three data; two data and the local parity; two data and the global parity.
  for (const std::vector<uint32_t>& chunks : {std::vector<uint32_t>{0, 1, 2}, {0, 1, 38}, {0, 1, 41}}) {
    auto r = build_member_report(l, with_failed_chunks(l, chunks));
    ASSERT_TRUE(r.is_ok());
    const Verdict& v = r->verdict;
    EXPECT_FALSE(v.recoverable);
    EXPECT_FALSE(v.words[0].recoverable);
    EXPECT_EQ(v.words[0].groups[0].health, ec::GroupHealth::kLost);
    EXPECT_EQ(v.words[0].more, std::nullopt);
    EXPECT_EQ(v.words[0].groups[0].more, std::nullopt);
    EXPECT_EQ(v.more, std::nullopt);
    EXPECT_EQ(v.more_boxes, std::nullopt);
    EXPECT_TRUE(v.words[1].recoverable);
    const std::string text = verdict_text(*r);
    EXPECT_EQ(text.rfind("verdict: DATA LOSS: word 0 group 0 lost; 3 members failed", 0), 0u) << text;
    const std::string missing = chunks[2] == 41 ? "2" : "3";
    EXPECT_NE(text.find("  group 0: " + missing + " missing, LOST\n"), std::string::npos) << text;
    EXPECT_NE(text.find("the member set has lost data"), std::string::npos) << text;
  }
}

// Every member of box b failed.
std::vector<MemberStatus> box_failed(const ec::Layout& l, uint32_t b) {
  std::vector<MemberStatus> m = layout_members(l);
  for (uint32_t i : l.box_members(b)) m[i].state = State::kFailed;
  return m;
}

TEST(MemberVerdict, BoxDownWithHa) {
  const ec::Layout l = brief_ha();
  EXPECT_EQ(judge(l, layout_members(l)).more_boxes, exactly(1)) << "--ha: any one box";
  auto r = build_member_report(l, box_failed(l, 3));
  ASSERT_TRUE(r.is_ok());
  const Verdict& v = r->verdict;
  EXPECT_TRUE(v.recoverable);
  EXPECT_EQ(v.boxes_down, std::vector<uint32_t>{3});
  EXPECT_EQ(v.failed_members, 2u);
  EXPECT_EQ(v.more_boxes, exactly(0));
  const std::string text = verdict_text(*r);
  EXPECT_NE(text.find("box 3 down: all 2 of its members failed; a box failure, which --ha tolerates: every stripe is "
                      "still recoverable\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(members_json(*r)["verdict"]["box_failure"], "tolerated");
  // And a further member elsewhere: the verdict comes from the codec, not the box.
  std::vector<MemberStatus> more = box_failed(l, 3);
  for (uint32_t i : l.box_members(4)) more[i].state = State::kFailed;
  auto worse = build_member_report(l, more);
  ASSERT_TRUE(worse.is_ok());
  EXPECT_EQ(worse->verdict.boxes_down, (std::vector<uint32_t>{3, 4}));
  EXPECT_NE(verdict_text(*worse).find("a box failure with --ha, and more failed: stripes are lost"), std::string::npos)
      << verdict_text(*worse);
}

TEST(MemberVerdict, BoxDownWithoutHa) {
  const ec::Layout l = brief();
  auto r = build_member_report(l, box_failed(l, 3));
  ASSERT_TRUE(r.is_ok());
  const Verdict& v = r->verdict;
  EXPECT_FALSE(v.recoverable);
  EXPECT_EQ(v.boxes_down, std::vector<uint32_t>{3});
  EXPECT_EQ(v.failed_members, 44u);
  EXPECT_FALSE(v.words[3].recoverable);
  EXPECT_TRUE(v.words[2].recoverable);
  const std::string text = verdict_text(*r);
  EXPECT_NE(text.find("box 3 down: all 44 of its members failed; word 3's stripes are lost (without --ha a box holds "
                      "whole stripes)\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(members_json(*r)["verdict"]["box_failure"], "data lost");
}

TEST(MemberVerdict, RebuildingIsMissingUntilDone) {
  const ec::Layout l = brief();
  std::vector<MemberStatus> m = layout_members(l);
  m[l.member_of(0, 3)].state = State::kRebuilding;
  m[l.member_of(0, 3)].rebuild_fraction = 0.5;
  m[l.member_of(0, 42)].state = State::kRebuilding;  // spare 0 of word 0, taking a chunk
  m[l.member_of(1, 43)].state = State::kFailed;      // spare 1 of word 1
  const Verdict v = judge(l, m);
  EXPECT_EQ(v.rebuilding_members, 2u);
  EXPECT_EQ(v.failed_members, 1u);
  EXPECT_EQ(v.words[0].missing, 1u) << "a spare holds no chunk";
  EXPECT_EQ(v.words[0].groups[0].health, ec::GroupHealth::kLocal);
  EXPECT_EQ(v.words[0].spares_ready, 1u);
  EXPECT_EQ(v.words[1].spares_ready, 1u);
  EXPECT_FALSE(v.words[1].degraded()) << "a failed spare loses no chunk";
}

TEST(MemberVerdict, BoundedSearchIsALowerBound) {
  const ec::Layout l = brief();
  auto r = build_member_report(l, layout_members(l), JudgeOptions{.max_checks = 100});
  ASSERT_TRUE(r.is_ok());
  // 42 single failures fit in 100 checks, the 861 pairs do not.
  EXPECT_EQ(r->verdict.words[0].more, (Tolerance{1, true}));
  EXPECT_EQ(r->verdict.words[0].groups[0].more, (Tolerance{1, true})) << "14 singles, then 91 pairs";
  EXPECT_EQ(r->verdict.more, (Tolerance{1, true}));
  EXPECT_NE(verdict_text(*r).find("can take at least 1 more failure"), std::string::npos) << verdict_text(*r);
  const Json j = members_json(*r);
  EXPECT_EQ(j["verdict"]["more_failures"], 1);
  EXPECT_EQ(j["verdict"]["more_failures_exact"], false);
}

TEST(MemberStatuses, RefusesWhatTheLayoutDoesNot) {
  const ec::Layout l = make({4, 2, 1, 1, 2, false});  // 16 members
  const std::vector<MemberStatus> good = layout_members(l);
  ASSERT_TRUE(check_member_statuses(l, good).is_ok());
  struct Case {
    std::function<void(std::vector<MemberStatus>&)> spoil;
    std::string message;
  };
  const std::vector<Case> cases = {
      {[](auto& m) { m.pop_back(); }, "members: 15 statuses for a layout of 16 members"},
      {[](auto& m) { m[15].index = 16; }, "member 16: beyond the layout's 16 members"},
      {[](auto& m) { m[15].index = 3; }, "member 3: listed twice"},
      {[](auto& m) { m[0].role = ec::Role::kSpare; }, "member 0: role spare, the layout says data"},
      {[](auto& m) { m[2].box = 1; }, "member 2: box 1, the layout says box 0"},
      {[](auto& m) { m[0].group = 1; }, "member 0: group 1, the layout says group 0"},
      {[](auto& m) { m[12].group = 0; }, "member 12: group 0, the layout says group none"},
      {[](auto& m) { m[4].state = State::kRebuilding, m[4].rebuild_fraction = 1.5; },
       "member 4: rebuild fraction 1.500000, not in [0, 1]"},
      {[](auto& m) { m[4].state = State::kRebuilding, m[4].rebuild_fraction = std::nan(""); },
       "member 4: rebuild fraction nan, not in [0, 1]"},
  };
  for (const Case& c : cases) {
    std::vector<MemberStatus> m = good;
    c.spoil(m);
    auto r = build_member_report(l, m);
    ASSERT_FALSE(r.is_ok()) << c.message;
    EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
    EXPECT_EQ(r.status().message(), c.message);
  }
  std::vector<MemberStatus> shuffled(good.rbegin(), good.rend());
  auto r = build_member_report(l, shuffled);
  ASSERT_TRUE(r.is_ok()) << "any order";
  EXPECT_EQ(r->members[5].index, 5u);
}

}  // namespace
}  // namespace vblk::report
