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

TEST(MemberVerdict, ASpareRebuiltOntoHoldsTheMembersPlace) {
  // Member 5 (word 0, chunk 5) replaced by word 0's first spare (chunk 42):
  // its chunks are there again, the spare is no longer free.
  const ec::Layout l = brief();
  std::vector<MemberStatus> m = layout_members(l);
  const uint32_t gone = l.member_of(0, 5), spare = l.member_of(0, 42);
  set_table_state(m[gone], format::MemberState::kReplaced);
  set_table_state(m[spare], format::MemberState::kOk, gone);
  EXPECT_EQ(m[spare].state, State::kOnline);
  EXPECT_EQ(m[spare].stands_for, gone);
  EXPECT_EQ(state_text(m[spare]), "online (for " + std::to_string(gone) + ")");
  EXPECT_EQ(state_text(m[gone]), "failed (replaced)");
  Verdict v = judge(l, m);
  EXPECT_TRUE(v.recoverable);
  EXPECT_EQ(v.failed_members, 0u) << "a replaced member's place is held";
  EXPECT_FALSE(v.words[0].degraded());
  EXPECT_EQ(v.words[0].more, exactly(2));
  EXPECT_EQ(v.words[0].spares_ready, 1u) << "one spare of two left";
  // While the spare is still being rebuilt onto, the member is missing.
  set_table_state(m[spare], format::MemberState::kRebuilding, gone);
  v = judge(l, m);
  EXPECT_EQ(v.words[0].missing, 1u);
  EXPECT_EQ(v.failed_members, 1u);
  // Only a spare stands for a member, and never for a spare.
  m[spare].stands_for = l.member_of(0, 43);
  EXPECT_FALSE(judge_members(l, m).is_ok());
  m[spare].stands_for.reset();
  m[gone].stands_for = spare;
  EXPECT_FALSE(judge_members(l, m).is_ok());
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

// A small layout, two boxes of 4 data (2,2) + 2 local + 1 global + 1
// spare, with one data member failed, one rebuilding and errors counted.
MemberReport small_report() {
  const ec::Layout l = make({4, 2, 1, 1, 2, false});
  std::vector<MemberStatus> m = layout_members(l);
  for (MemberStatus& s : m) {
    s.bytes = 1048576;
    s.first_bytes = {0x56, 0x42, static_cast<uint8_t>(s.index), 0xff};
  }
  m[l.member_of(0, 1)].state = State::kFailed;
  m[l.member_of(0, 1)].errors = 7;
  m[l.member_of(0, 7)].state = State::kRebuilding;  // word 0's spare takes chunk 1
  m[l.member_of(0, 7)].rebuild_fraction = 0.425;
  auto r = build_member_report(l, m);
  EXPECT_TRUE(r.is_ok()) << r.status().to_string();
  return *r;
}

TEST(MemberReport, SmallLayoutText) {
  EXPECT_EQ(members_text(small_report()),
            "layout: 4 data (2,2) + 2 local + 1 global + 1 spares, a word in each of 2 boxes\n"
            "index  box  word  role           group  state                   bytes  errors  first bytes\n"
            "    0    0     0  data               0  online                1048576       0  56 42 00 ff\n"
            "    1    1     1  data               0  online                1048576       0  56 42 01 ff\n"
            "    2    0     0  data               0  failed                1048576       7  56 42 02 ff\n"
            "    3    1     1  data               0  online                1048576       0  56 42 03 ff\n"
            "    4    0     0  data               1  online                1048576       0  56 42 04 ff\n"
            "    5    1     1  data               1  online                1048576       0  56 42 05 ff\n"
            "    6    0     0  data               1  online                1048576       0  56 42 06 ff\n"
            "    7    1     1  data               1  online                1048576       0  56 42 07 ff\n"
            "    8    0     0  local-parity       0  online                1048576       0  56 42 08 ff\n"
            "    9    1     1  local-parity       0  online                1048576       0  56 42 09 ff\n"
            "   10    0     0  local-parity       1  online                1048576       0  56 42 0a ff\n"
            "   11    1     1  local-parity       1  online                1048576       0  56 42 0b ff\n"
            "   12    0     0  global-parity      -  online                1048576       0  56 42 0c ff\n"
            "   13    1     1  global-parity      -  online                1048576       0  56 42 0d ff\n"
            "   14    0     0  spare              -  rebuilding 42%        1048576       0  56 42 0e ff\n"
            "   15    1     1  spare              -  spare                 1048576       0  56 42 0f ff\n"
            "verdict: recoverable; 1 member failed, 1 rebuilding\n"
            "word 0 (box 0): degraded, 1 of 7 chunks missing, can take 1 more failure; spares ready 0 of 1\n"
            "  group 0: 1 missing, rebuilt from its local parity; can take 1 more\n"
            "  group 1: intact; can take 2 more\n"
            "  global parity: 0 of 1 missing\n"
            "word 1 (box 1): intact, can take 2 more failures, each group 2 more; spares ready 1 of 1\n"
            "boxes down: none\n"
            "the member set can take 1 more failure (in its weakest word) and no more boxes\n");
}

// The member table's states as the report shows them, a state this code
// does not know included: never online.
TEST(MemberReport, TableStates) {
  MemberStatus data, spare;
  spare.role = ec::Role::kSpare;
  set_table_state(data, format::MemberState::kOk);
  set_table_state(spare, format::MemberState::kOk);
  EXPECT_EQ(data.state, MemberStatus::State::kOnline);
  EXPECT_EQ(spare.state, MemberStatus::State::kSpare);
  set_table_state(data, format::MemberState::kFailed);
  EXPECT_EQ(state_text(data), "failed");
  set_table_state(data, format::MemberState::kStale);
  EXPECT_EQ(state_text(data), "failed (stale)");
  set_table_state(data, static_cast<format::MemberState>(200));
  EXPECT_EQ(data.state, MemberStatus::State::kFailed);
  EXPECT_NE(state_text(data).find("failed ("), std::string::npos) << state_text(data);
  set_table_state(data, format::MemberState::kOk);
  EXPECT_EQ(state_text(data), "online");
}

TEST(MemberReport, SmallLayoutJson) {
  const Json j = members_json(small_report());
  EXPECT_EQ(j["layout"].dump(),
            R"({"data_members":4,"group_size":2,"global_parity":1,"spares":1,"boxes":2,"ha":false,"members":16,)"
            R"("words":2,"describe":"4 data (2,2) + 2 local + 1 global + 1 spares, a word in each of 2 boxes"})");
  ASSERT_EQ(j["members"].size(), 16u);
  EXPECT_EQ(j["members"][2].dump(),
            R"({"index":2,"box":0,"word":0,"role":"data","group":0,"state":"failed","table_state":null,"stands_for":null,)"
            R"("bytes":1048576,)"
            R"("errors":7,)"
            R"("first_bytes":"564202ff","rebuild_fraction":null})");
  EXPECT_EQ(j["members"][14]["group"], nullptr);
  EXPECT_EQ(j["members"][14]["state"], "rebuilding");
  EXPECT_EQ(j["members"][14]["rebuild_fraction"], 0.425);
  const Json& v = j["verdict"];
  EXPECT_EQ(v["recoverable"], true);
  EXPECT_EQ(v["failed_members"], 1);
  EXPECT_EQ(v["rebuilding_members"], 1);
  EXPECT_EQ(v["more_failures"], 1);
  EXPECT_EQ(v["more_failures_exact"], true);
  EXPECT_EQ(v["boxes_down"], Json::array());
  EXPECT_EQ(v["box_failure"], "none");
  EXPECT_EQ(v["more_boxes"], 0);
  ASSERT_EQ(v["words"].size(), 2u);
  EXPECT_EQ(v["words"][0].dump(),
            R"({"word":0,"box":0,"recoverable":true,"missing":1,"missing_global":0,"spares_ready":0,)"
            R"("more_failures":1,"more_failures_exact":true,"degraded_groups":[0],"groups":[)"
            R"({"group":0,"health":"local","missing":1,"more_failures":1,"more_failures_exact":true},)"
            R"({"group":1,"health":"intact","missing":0,"more_failures":2,"more_failures_exact":true}]})");
  // Data loss: counts of further failures are null.
  std::vector<MemberStatus> m = small_report().members;
  m[4].state = State::kFailed;  // word 0, chunk 2 (group 1) ...
  m[6].state = State::kFailed;  // ... chunk 3 and its local parity
  m[10].state = State::kFailed;
  auto lost = build_member_report(small_report().layout, m);
  ASSERT_TRUE(lost.is_ok());
  const Json jl = members_json(*lost);
  EXPECT_EQ(jl["verdict"]["recoverable"], false);
  EXPECT_EQ(jl["verdict"]["more_failures"], nullptr);
  EXPECT_EQ(jl["verdict"]["more_failures_exact"], false);
  EXPECT_EQ(jl["verdict"]["words"][0]["degraded_groups"], Json::array({0, 1}));
  EXPECT_EQ(jl["verdict"]["words"][0]["groups"][1]["health"], "lost");
  EXPECT_EQ(jl["verdict"]["words"][0]["groups"][1]["more_failures"], nullptr);
}

// The attribute `name` of the first element in `element` ("" when absent).
std::string attribute(const std::string& element, const std::string& name) {
  const std::string key = " " + name + "=\"";
  const size_t at = element.find(key);
  if (at == std::string::npos) return "";
  const size_t begin = at + key.size();
  return element.substr(begin, element.find('"', begin) - begin);
}

// Every <g class="member" ...>...</g> of an SVG.
std::vector<std::string> member_elements(const std::string& svg) {
  std::vector<std::string> out;
  for (size_t at = svg.find("<g class=\"member\""); at != std::string::npos;
       at = svg.find("<g class=\"member\"", at + 1))
    out.push_back(svg.substr(at, svg.find("</g>", at) - at));
  return out;
}

TEST(MemberSvg, ColourPerStateAndRole) {
  // The brief's colours, by what a member is and how.
  EXPECT_STREQ(member_fill(ec::Role::kData, State::kOnline), "#43a047");  // green
  EXPECT_STREQ(member_fill(ec::Role::kLocalParity, State::kOnline), "#8e44ad");  // purple
  EXPECT_STREQ(member_fill(ec::Role::kGlobalParity, State::kOnline), "#1f6fc5");  // blue
  EXPECT_STREQ(member_fill(ec::Role::kSpare, State::kSpare), "#f4d03f");  // yellow
  EXPECT_STREQ(member_fill(ec::Role::kSpare, State::kOnline), "#f4d03f");
  for (ec::Role role : {ec::Role::kData, ec::Role::kLocalParity, ec::Role::kGlobalParity, ec::Role::kSpare}) {
    EXPECT_STREQ(member_fill(role, State::kFailed), "#d7191c") << "red";
    EXPECT_STREQ(member_fill(role, State::kRebuilding), "#fbe3c2") << "the track of the orange bar";
  }

  const MemberReport r = small_report();
  const std::string svg = render_members_svg(r, {.title = "disk <1> & \"2\""});
  EXPECT_EQ(svg.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
  EXPECT_NE(svg.find("disk &lt;1&gt; &amp; &quot;2&quot;"), std::string::npos) << "the title escaped";
  EXPECT_EQ(svg.find("disk <1>"), std::string::npos);
  std::map<uint32_t, std::string> members;  // by index
  for (const std::string& e : member_elements(svg)) members[static_cast<uint32_t>(std::stoul(attribute(e, "data-index")))] = e;
  ASSERT_EQ(members.size(), 16u);
  std::map<std::string, int> boxes;
  for (const auto& [index, e] : members) {
    const MemberStatus& m = r.members[index];
    EXPECT_EQ(attribute(e, "data-state"), to_string(m.state)) << e;
    EXPECT_EQ(attribute(e, "data-role"), ec::to_string(m.role)) << e;
    EXPECT_EQ(attribute(e, "data-box"), std::to_string(m.box)) << e;
    const std::string button = e.substr(e.find("<rect class=\"button\""));
    EXPECT_EQ(attribute(button, "fill"), member_fill(m.role, m.state)) << e;
    EXPECT_EQ(e.find("class=\"progress\"") != std::string::npos, m.state == State::kRebuilding) << e;
    ++boxes[attribute(e, "data-box")];
  }
  EXPECT_EQ(boxes, (std::map<std::string, int>{{"0", 8}, {"1", 8}}));
  const std::string rebuilding = members[14];
  EXPECT_EQ(attribute(rebuilding, "data-rebuild"), "0.425");
  EXPECT_EQ(attribute(rebuilding.substr(rebuilding.find("class=\"progress\"")), "width"), "47.6") << "42.5% of 112";
  EXPECT_NE(rebuilding.find(">14 S 42%</text>"), std::string::npos) << rebuilding;
  EXPECT_NE(members[2].find(">2 D 56 42 02 ff</text>"), std::string::npos) << members[2];
  for (const char* key : {"data", "local parity", "global parity", "spare", "failed", "rebuilding"})
    EXPECT_NE(svg.find(std::string(">") + key), std::string::npos) << "legend: " << key;
  EXPECT_NE(svg.find("data-recoverable=\"true\">verdict: recoverable"), std::string::npos);
  // Balanced elements: every <g> and <text> closed.
  auto count = [&](const std::string& s) {
    size_t n = 0;
    for (size_t at = svg.find(s); at != std::string::npos; at = svg.find(s, at + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count("<g "), count("</g>"));
  EXPECT_EQ(count("<text "), count("</text>"));
  EXPECT_EQ(count("<title>"), count("</title>"));
}

TEST(MemberSvg, BoxDownHeading) {
  const ec::Layout l = brief_ha();
  auto r = build_member_report(l, box_failed(l, 3));
  ASSERT_TRUE(r.is_ok());
  const std::string svg = render_members_svg(*r, {});
  EXPECT_NE(svg.find("data-box=\"3\" data-down=\"true\""), std::string::npos);
  EXPECT_NE(svg.find(">box 3 down</text>"), std::string::npos);
  EXPECT_NE(svg.find("data-box=\"2\" data-down=\"false\""), std::string::npos);
  EXPECT_EQ(member_elements(svg).size(), 22u);
}

TEST(HexDump, XxdLayout) {
  const std::string text = "Hello, world\n\x01\x02\x7f~ and more";
  const std::vector<uint8_t> bytes(text.begin(), text.end());
  // As `xxd` and `xxd -o 0x1234567890` print these bytes.
  EXPECT_EQ(hex_dump(bytes, 0),
            "00000000: 4865 6c6c 6f2c 2077 6f72 6c64 0a01 027f  Hello, world....\n"
            "00000010: 7e20 616e 6420 6d6f 7265                 ~ and more\n");
  EXPECT_EQ(hex_dump(bytes, 0x1234567890), "1234567890: 4865 6c6c 6f2c 2077 6f72 6c64 0a01 027f  Hello, world....\n"
                                           "12345678a0: 7e20 616e 6420 6d6f 7265                 ~ and more\n")
      << "--offset X: lines counted from X, wider offsets as needed";
  EXPECT_EQ(hex_dump({}, 5), "");
  const std::vector<uint8_t> zeros(64, 0);
  EXPECT_EQ(hex_dump(zeros, 0, {.squeeze = true, .end_offset = true}),
            "00000000: 0000 0000 0000 0000 0000 0000 0000 0000  ................\n*\n00000040\n");
  EXPECT_EQ(hex_dump(std::span(zeros).first(32), 16),
            "00000010: 0000 0000 0000 0000 0000 0000 0000 0000  ................\n"
            "00000020: 0000 0000 0000 0000 0000 0000 0000 0000  ................\n");
  EXPECT_EQ(hex_string(std::vector<uint8_t>{0xde, 0xad, 0x01}), "dead01");
}

}  // namespace
}  // namespace vblk::report
