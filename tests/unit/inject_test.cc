// Fault injection: the command language, the remap rule, cutting rules, the
// rules file, the executor on an image, the block map and its JSON form.

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <memory>
#include <sstream>

#include "inject/block_map.h"
#include "inject/command.h"
#include "inject/injector.h"
#include "inject/offline.h"
#include "inject/rules_file.h"
#include "test_util.h"
#include "util/json.h"
#include "vblk/fault_device.h"
#include "vblk/image_device.h"
#include "vblk/image_store.h"
#include "vblk/mem_device.h"

namespace vblk {
namespace {

using inject::Action;
using inject::BlockRange;
using inject::Command;
using inject::parse_command;
using inject::WritePolicy;
using std::chrono::microseconds;

constexpr uint32_t kBs = 4096;

// ---- command language ------------------------------------------------------

TEST(InjectCommand, ParsesEveryAction) {
  auto c = parse_command("bad 10-20 remap");
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  EXPECT_EQ(c->action, Action::kBad);
  EXPECT_EQ(c->range, (BlockRange{10, 11}));
  EXPECT_EQ(c->on_write, WritePolicy::kRemap);
  EXPECT_EQ(parse_command("bad 7")->on_write, WritePolicy::kFail);
  EXPECT_EQ(parse_command("flaky 5 3")->fail_writes, 3u);
  EXPECT_EQ(parse_command("corrupt 9")->range, (BlockRange{9, 1}));
  EXPECT_EQ(parse_command("latency 20ms")->latency, microseconds(20000));
  EXPECT_FALSE(parse_command("latency 20ms")->range.has_value());
  EXPECT_EQ(parse_command("latency 1.5 0-9")->latency, microseconds(1500));
  EXPECT_EQ(parse_command("clear all")->range, std::nullopt);
  EXPECT_EQ(parse_command("  clear\t3-4 \n")->range, (BlockRange{3, 2}));
  EXPECT_EQ(parse_command("list")->action, Action::kList);
  EXPECT_EQ(parse_command("remap 1-2")->action, Action::kRemap);
  EXPECT_EQ(parse_command("powercut")->action, Action::kPowercut);
  EXPECT_FALSE(parse_command("powercut")->power_on);
  EXPECT_TRUE(parse_command("powercut continue")->power_on);
}

TEST(InjectCommand, NullBlkRanges) {
  auto plus = parse_command("+100-199");
  ASSERT_TRUE(plus.is_ok());
  EXPECT_EQ(plus->action, Action::kBad);
  EXPECT_EQ(plus->range, (BlockRange{100, 100}));
  auto minus = parse_command("-5");
  ASSERT_TRUE(minus.is_ok());
  EXPECT_EQ(minus->action, Action::kClear);
  EXPECT_EQ(minus->range, (BlockRange{5, 1}));
}

TEST(InjectCommand, RejectsMalformedCommands) {
  for (const char* bad : {"", "frob 1", "bad", "bad 5-3", "bad x", "bad 1 sometimes", "flaky 1", "flaky 1 0",
                          "flaky 1-2 3", "corrupt", "latency", "latency -1ms", "latency 0", "latency 2h",
                          "clear", "list 3", "+1-2 extra", "bad 18446744073709551616",
                          "bad 0-18446744073709551615", "powercut now", "powercut continue 1"}) {
    auto c = parse_command(bad);
    EXPECT_FALSE(c.is_ok()) << "accepted '" << bad << "'";
    if (!c.is_ok()) {
      EXPECT_EQ(c.status().code(), Status::Code::kInvalidArgument) << bad;
    }
  }
}

TEST(InjectCommand, TextRoundTrips) {
  for (const char* text : {"bad 10-20 remap", "bad 7 fail", "remap 3-4", "flaky 5 2", "corrupt 9", "latency 250us",
                           "latency 20ms 0-1023", "latency 2s 5", "clear 1-2", "clear all", "list", "powercut", "powercut continue"}) {
    auto c = parse_command(text);
    ASSERT_TRUE(c.is_ok()) << text;
    EXPECT_EQ(inject::to_text(*c), text);
    EXPECT_EQ(*parse_command(inject::to_text(*c)), *c);
  }
}

TEST(InjectCommand, Durations) {
  EXPECT_EQ(*inject::parse_duration("500us"), microseconds(500));
  EXPECT_EQ(*inject::parse_duration("0.5"), microseconds(500));
  EXPECT_EQ(*inject::parse_duration("2s"), microseconds(2000000));
  EXPECT_EQ(*inject::parse_duration("0.25s"), microseconds(250000));
  EXPECT_FALSE(inject::parse_duration("ms").is_ok());
  EXPECT_FALSE(inject::parse_duration("1.ms").is_ok());
  EXPECT_FALSE(inject::parse_duration("3601s").is_ok());
  EXPECT_EQ(inject::duration_text(microseconds(1500)), "1500us");
  EXPECT_EQ(inject::duration_text(microseconds(3000)), "3ms");
}

// ---- FaultDevice: remap and cutting rules ----------------------------------

class RemapTest : public ::testing::Test {
 protected:
  RemapTest() : dev_(std::make_unique<MemDevice>(512, 64)) {}
  std::vector<uint8_t> block(uint8_t fill, uint64_t n = 1) { return std::vector<uint8_t>(n * 512, fill); }
  FaultDevice dev_;
};

TEST_F(RemapTest, WriteToRemapBadBlockClearsTheMark) {
  ASSERT_TRUE(dev_.set_bad(10, 2, true).is_ok());
  ASSERT_TRUE(dev_.add_remap(10, 1).is_ok());
  std::vector<uint8_t> out(512);
  EXPECT_TRUE(dev_.read_block(10, out).is_bad_block());
  ASSERT_TRUE(dev_.write_block(10, block(7)).is_ok());
  EXPECT_EQ(*dev_.state(10), BlockState::kUsed);
  ASSERT_TRUE(dev_.read_block(10, out).is_ok());
  EXPECT_EQ(out, block(7));
  EXPECT_TRUE(dev_.write_block(11, block(8)).is_bad_block()) << "block 11 has no remap rule";
  EXPECT_EQ(*dev_.state(11), BlockState::kBad);
}

TEST_F(RemapTest, WriteSpanningAnUnremappedBadBlockChangesNothing) {
  ASSERT_TRUE(dev_.set_bad(10, 2, true).is_ok());
  ASSERT_TRUE(dev_.add_remap(10, 1).is_ok());
  EXPECT_TRUE(dev_.write_blocks(9, block(1, 3)).is_bad_block());
  EXPECT_EQ(*dev_.state(10), BlockState::kBad) << "the remappable block was cleared by a failed write";
  EXPECT_EQ(*dev_.state(9), BlockState::kFree);
}

TEST_F(RemapTest, RemapRuleStaysAfterFiringAndCoveredRangesAddNothing) {
  ASSERT_TRUE(dev_.add_remap(0, 16).is_ok());
  ASSERT_TRUE(dev_.add_remap(4, 4).is_ok());
  EXPECT_EQ(dev_.list().size(), 1u);
  ASSERT_TRUE(dev_.set_bad(3, 1, true).is_ok());
  ASSERT_TRUE(dev_.write_block(3, block(1)).is_ok());
  ASSERT_TRUE(dev_.set_bad(3, 1, true).is_ok());
  ASSERT_TRUE(dev_.write_block(3, block(2)).is_ok());
  EXPECT_EQ(dev_.list().size(), 1u);
  EXPECT_TRUE(dev_.add_remap(60, 5).is_out_of_range());
  EXPECT_TRUE(dev_.add_remap(0, 0).is_out_of_range());
}

TEST_F(RemapTest, FlakyFiresBeforeRemap) {
  ASSERT_TRUE(dev_.set_bad(5, 1, true).is_ok());
  ASSERT_TRUE(dev_.add_remap(5, 1).is_ok());
  ASSERT_TRUE(dev_.add_flaky(5, 1).is_ok());
  EXPECT_TRUE(dev_.write_block(5, block(3)).is_io_error());
  EXPECT_EQ(*dev_.state(5), BlockState::kBad);
  EXPECT_TRUE(dev_.write_block(5, block(3)).is_ok());
}

TEST_F(RemapTest, CutKeepsThePartsOutsideTheRange) {
  ASSERT_TRUE(dev_.add_latency(microseconds(10), 0, 64).is_ok());
  ASSERT_TRUE(dev_.add_remap(8, 8).is_ok());
  ASSERT_TRUE(dev_.add_flaky(9, 2).is_ok());
  ASSERT_TRUE(dev_.add_flaky(30, 2).is_ok());
  EXPECT_EQ(dev_.cut(9, 3), 3u);
  std::vector<std::string> rules;
  for (const FaultRule& r : dev_.list()) rules.push_back(inject::rule_command(r));
  EXPECT_EQ(rules, (std::vector<std::string>{"latency 10us 0-8", "latency 10us 12-63", "remap 8", "remap 12-15",
                                             "flaky 30 2"}));
  dev_.remove_remap(0, 64);
  EXPECT_EQ(dev_.list().size(), 3u);
  EXPECT_EQ(dev_.cut(63, 1), 1u);
  EXPECT_EQ(inject::rule_command(dev_.list()[1]), "latency 10us 12-62");
}

// ---- rules file ------------------------------------------------------------

constexpr const char* kUuidA = "1b4e28ba-2fa1-41d2-883f-0016d3cca427";
constexpr const char* kUuidB = "6fa459ea-ee8a-4ca4-894e-db77e160355e";

TEST(InjectRulesFile, SaveLoadRoundTripAndRemoveWhenEmpty) {
  test::TempDir dir;
  const std::string path = dir.path("img.faults");
  const inject::ImageId img{"img", kUuidA};
  FaultDevice a(std::make_unique<MemDevice>(512, 64));
  ASSERT_TRUE(a.add_flaky(5, 2).is_ok());
  ASSERT_TRUE(a.add_latency(microseconds(20000), 0, 10).is_ok());
  ASSERT_TRUE(a.add_remap(10, 3).is_ok());
  ASSERT_TRUE(inject::save_rules(path, img, a.list()).is_ok());
  FaultDevice b(std::make_unique<MemDevice>(512, 64));
  auto n = inject::load_rules(path, img, b);
  ASSERT_TRUE(n.is_ok()) << n.status().to_string();
  EXPECT_EQ(n->applied, 3u);
  EXPECT_EQ(n->file_uuid, kUuidA);
  EXPECT_EQ(n->ignored, "");
  ASSERT_EQ(b.list().size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(inject::rule_command(b.list()[i]), inject::rule_command(a.list()[i]));
  ASSERT_TRUE(inject::save_rules(path, img, {}).is_ok());
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_EQ(inject::load_rules(path, img, b)->applied, 0u) << "a missing file is no rules";
}

TEST(InjectRulesFile, AnotherImagesFileIsNotApplied) {
  test::TempDir dir;
  const std::string path = dir.path("img.faults");
  FaultDevice a(std::make_unique<MemDevice>(512, 64));
  ASSERT_TRUE(a.add_flaky(5, 2).is_ok());
  ASSERT_TRUE(inject::save_rules(path, {"old", kUuidA}, a.list()).is_ok());
  FaultDevice b(std::make_unique<MemDevice>(512, 64));
  auto n = inject::load_rules(path, {"img", kUuidB}, b);
  ASSERT_TRUE(n.is_ok()) << n.status().to_string();
  EXPECT_EQ(n->applied, 0u);
  EXPECT_TRUE(b.list().empty());
  EXPECT_EQ(n->ignored, path + ": fault rules of image " + kUuidA + ", not of img (uuid " + kUuidB + "): not applied");
  // Upper-case UUIDs are the same UUIDs.
  std::ofstream(path) << "uuid " << std::string(kUuidB).replace(0, 8, "6FA459EA") << "\nflaky 1 1\n";
  EXPECT_EQ(inject::load_rules(path, {"img", kUuidB}, b)->applied, 1u);
}

TEST(InjectRulesFile, FileWithoutUuidIsApplied) {
  test::TempDir dir;
  const std::string path = dir.path("img.faults");
  std::ofstream(path) << "# vblk fault rules for img\nflaky 5 2\nremap 10-12\n";
  FaultDevice d(std::make_unique<MemDevice>(512, 64));
  auto n = inject::load_rules(path, {"img", kUuidA}, d);
  ASSERT_TRUE(n.is_ok()) << n.status().to_string();
  EXPECT_EQ(n->applied, 2u);
  EXPECT_EQ(n->file_uuid, "");
  EXPECT_EQ(n->ignored, "");
}

TEST(InjectRulesFile, BadLineNamesFileAndLine) {
  test::TempDir dir;
  const std::string path = dir.path("img.faults");
  const inject::ImageId img{"img", kUuidA};
  std::ofstream(path) << "# comment\nflaky 1 1\n\nbad 3\n";
  FaultDevice d(std::make_unique<MemDevice>(512, 64));
  auto n = inject::load_rules(path, img, d);
  ASSERT_FALSE(n.is_ok());
  EXPECT_NE(n.status().message().find(path + ": line 4"), std::string::npos) << n.status().message();
  std::ofstream(path) << "flaky 99 1\n";
  EXPECT_TRUE(inject::load_rules(path, img, d).status().is_out_of_range());
  std::ofstream(path) << "uuid " << kUuidA << "\nuuid " << kUuidB << "\n";
  n = inject::load_rules(path, img, d);
  ASSERT_FALSE(n.is_ok());
  EXPECT_NE(n.status().message().find(path + ": line 2"), std::string::npos) << n.status().message();
  std::ofstream(path) << "uuid\n";
  EXPECT_FALSE(inject::load_rules(path, img, d).is_ok()) << "a uuid line without the UUID";
}

// ---- executor and block map on an image ------------------------------------

class InjectImageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    img_ = dir_.path("img");
    FormatOptions fo;
    fo.capacity_bytes = 256 * kBs;
    fo.segment_size = 1 << 20;
    ASSERT_TRUE(ImageStore::create(img_, fo).is_ok());
    auto s = ImageStore::open(img_, OpenOptions{});
    ASSERT_TRUE(s.is_ok());
    // Blocks 0..63 in one call (one record), compressible; 64..95 random.
    std::vector<uint8_t> text(64 * kBs);
    for (size_t i = 0; i < text.size(); ++i) text[i] = static_cast<uint8_t>("vblk block map "[i % 15]);
    ASSERT_TRUE((*s)->write_blocks(0, text).is_ok());
    ASSERT_TRUE((*s)->write_blocks(64, test::random_bytes(32 * kBs, 7)).is_ok());
    ASSERT_TRUE((*s)->close().is_ok());
  }
  test::TempDir dir_;
  std::string img_;
};

TEST_F(InjectImageTest, CorruptDamagesOnlyThatBlockEvenInsideALargerRecord) {
  auto before = ImageStore::open(img_, OpenOptions{.read_only = true});
  ASSERT_TRUE(before.is_ok());
  ASSERT_GT((*before)->locate(10)->record_blocks, 1u);
  ASSERT_TRUE((*before)->close().is_ok());
  before = Status::ok();

  auto msg = inject::inject_offline(img_, *parse_command("corrupt 10"));
  ASSERT_TRUE(msg.is_ok()) << msg.status().to_string();
  EXPECT_EQ(msg->message.rfind("injecting corruption into block 10 of " + img_, 0), 0u) << msg->message;
  auto s = ImageStore::open(img_, OpenOptions{.read_only = true});
  ASSERT_TRUE(s.is_ok());
  auto report = (*s)->check();
  ASSERT_TRUE(report.is_ok());
  ASSERT_EQ(report->problems.size(), 1u);
  EXPECT_TRUE(report->problems[0].has_block);
  EXPECT_EQ(report->problems[0].block, 10u);
  std::vector<uint8_t> out(kBs);
  EXPECT_TRUE((*s)->read_blocks(10, 1, out).is_corruption());
  EXPECT_TRUE((*s)->read_blocks(9, 1, out).is_ok());
  EXPECT_TRUE((*s)->read_blocks(11, 1, out).is_ok());
  ASSERT_TRUE((*s)->close().is_ok());
}

TEST_F(InjectImageTest, CorruptRefusesBlocksWithNothingStored) {
  auto r = inject::inject_offline(img_, *parse_command("corrupt 200"));
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("nothing is stored"), std::string::npos) << r.status().message();
  ASSERT_TRUE(inject::inject_offline(img_, *parse_command("bad 3")).is_ok());
  EXPECT_FALSE(inject::inject_offline(img_, *parse_command("corrupt 3")).is_ok());
}

TEST_F(InjectImageTest, BadClearAndRulesFile) {
  ASSERT_TRUE(inject::inject_offline(img_, *parse_command("bad 10-20 remap")).is_ok());
  ASSERT_TRUE(inject::inject_offline(img_, *parse_command("flaky 30 2")).is_ok());
  auto json = inject::faults_json_offline(img_);
  ASSERT_TRUE(json.is_ok());
  auto j = parse_json(*json);
  ASSERT_TRUE(j.is_ok());
  EXPECT_EQ(j->at("bad_blocks"), 11u);
  ASSERT_EQ(j->at("rules").size(), 2u);
  EXPECT_EQ(j->at("rules")[0]["command"], "remap 10-20");
  // "bad ... fail" takes the range out of the remap policy.
  ASSERT_TRUE(inject::inject_offline(img_, *parse_command("bad 15 fail")).is_ok());
  j = parse_json(*inject::faults_json_offline(img_));
  EXPECT_EQ(j->at("rules")[0]["command"], "remap 10-14");
  auto cleared = inject::inject_offline(img_, *parse_command("clear all"));
  ASSERT_TRUE(cleared.is_ok());
  EXPECT_EQ(cleared->message,
            "cleared every fault of " + img_ + ": 11 BAD blocks (now TRIMMED: they read zeros), 3 rules");
  EXPECT_FALSE(std::filesystem::exists(img_ + ".faults"));
  auto out_of_range = inject::inject_offline(img_, *parse_command("bad 250-260"));
  EXPECT_TRUE(out_of_range.status().is_out_of_range());
}

TEST_F(InjectImageTest, OutcomeJsonHoldsWhatEachActionDid) {
  auto json_of = [&](const char* command) {
    auto o = inject::inject_offline(img_, *parse_command(command));
    EXPECT_TRUE(o.is_ok()) << command << ": " << o.status().to_string();
    return o.is_ok() ? inject::outcome_json(*o) : Json();
  };
  Json bad = json_of("bad 5-9 remap");
  EXPECT_EQ(bad["action"], "bad");
  EXPECT_EQ(bad["command"], "bad 5-9 remap");
  EXPECT_EQ(bad["blocks"], Json({{"first", 5}, {"count", 5}}));
  EXPECT_EQ(bad["on_write"], "remap");
  EXPECT_EQ(bad["state_after"], "BAD");
  EXPECT_EQ(bad["message"].get<std::string>().rfind("injecting BAD into blocks 5-9 of ", 0), 0u) << bad.dump();
  std::vector<std::string> keys;
  for (const auto& [key, value] : bad.items()) keys.push_back(key);
  EXPECT_EQ(keys.front(), "action");
  EXPECT_EQ(keys.back(), "message") << "message comes last";

  EXPECT_EQ(json_of("flaky 30 2")["fail_writes"], 2);
  Json corrupt = json_of("corrupt 10");
  EXPECT_EQ(corrupt["blocks"]["count"], 1);
  EXPECT_GT(corrupt["record_offset"].get<uint64_t>(), 0u);
  // Latency without a range covers the whole device.
  Json latency = json_of("latency 1500us");
  EXPECT_EQ(latency["latency_us"], 1500);
  EXPECT_EQ(latency["blocks"], Json({{"first", 0}, {"count", 256}}));

  Json clear = json_of("clear 0-7");
  EXPECT_EQ(clear["bad_blocks_cleared"], 3);
  EXPECT_EQ(clear["state_after"], "TRIMMED");
  EXPECT_EQ(clear["rules_removed"], 2) << "the remap and latency rules were cut at block 8";
  Json all = json_of("clear all");
  EXPECT_EQ(all["command"], "clear all");
  EXPECT_EQ(all["blocks"]["count"], 256);
  EXPECT_EQ(all["bad_blocks_cleared"], 2);
}

TEST_F(InjectImageTest, BlockMapCountsAndRatios) {
  ASSERT_TRUE(inject::inject_offline(img_, *parse_command("bad 100-101")).is_ok());
  auto s = ImageStore::open(img_, OpenOptions{.read_only = true});
  ASSERT_TRUE(s.is_ok());
  auto one = inject::build_block_map(**s, 4096);
  ASSERT_TRUE(one.is_ok());
  EXPECT_EQ(one->blocks_per_cell, 1u);
  ASSERT_EQ(one->cells.size(), 256u);
  EXPECT_EQ(one->cells[0].worst, BlockState::kUsed);
  EXPECT_EQ(one->cells[100].worst, BlockState::kBad);
  EXPECT_EQ(one->cells[200].worst, BlockState::kFree);
  EXPECT_GT(one->cells[0].ratio, 10.0) << "repetitive text compresses well";
  EXPECT_GT(one->cells[70].ratio, 0.9);
  EXPECT_LT(one->cells[70].ratio, 1.1) << "random bytes do not compress";
  EXPECT_EQ(one->cells[200].ratio, 0.0);

  auto coarse = inject::build_block_map(**s, 10);  // 26 blocks a cell
  ASSERT_TRUE(coarse.is_ok());
  EXPECT_EQ(coarse->blocks_per_cell, 26u);
  ASSERT_EQ(coarse->cells.size(), 10u);
  EXPECT_EQ(coarse->cell_blocks(9), 22u);
  std::array<uint64_t, 4> totals{};
  for (const auto& c : coarse->cells) {
    for (size_t k = 0; k < 4; ++k) totals[k] += c.counts[k];
  }
  EXPECT_EQ(totals, (std::array<uint64_t, 4>{158, 96, 0, 2}));
  EXPECT_EQ(coarse->cells[3].worst, BlockState::kBad) << "blocks 78-103 hold the BAD ones";

  // JSON round trip, as the daemon sends it.
  const std::string text = dump_json_compact(inject::block_map_json(*coarse));
  EXPECT_EQ(text.find('\n'), std::string::npos) << "one line: " << text;
  auto parsed = parse_json(text);
  ASSERT_TRUE(parsed.is_ok()) << parsed.status().to_string();
  auto back = inject::block_map_from_json(*parsed);
  ASSERT_TRUE(back.is_ok()) << back.status().to_string();
  ASSERT_EQ(back->cells.size(), coarse->cells.size());
  for (size_t i = 0; i < back->cells.size(); ++i) {
    EXPECT_EQ(back->cells[i].worst, coarse->cells[i].worst) << i;
    EXPECT_EQ(back->cells[i].counts, coarse->cells[i].counts) << i;
    EXPECT_NEAR(back->cells[i].ratio, coarse->cells[i].ratio, 0.01) << i;
  }
  ASSERT_TRUE((*s)->close().is_ok());
}

// The map as the daemon writes it, to be spoiled by the tests below.
Json good_map() {
  return Json::parse(R"({"block_count": 10, "block_size": 4096, "blocks_per_cell": 4, "cells": 3,
                         "states": "#.X", "mixed": [[0, 1, 3, 0, 0]], "ratios": [2.5, 0, 0]})");
}

TEST(BlockMapJson, ReadsWhatTheDaemonWrites) {
  auto m = inject::block_map_from_json(good_map());
  ASSERT_TRUE(m.is_ok()) << m.status().to_string();
  ASSERT_EQ(m->cells.size(), 3u);
  EXPECT_EQ(m->cells[0].counts, (std::array<uint64_t, 4>{1, 3, 0, 0}));
  EXPECT_EQ(m->cells[2].worst, BlockState::kBad);
  EXPECT_EQ(m->cells[2].counts[3], 2u) << "the last cell holds blocks 8-9";
  EXPECT_EQ(m->cells[0].ratio, 2.5);
}

TEST(BlockMapJson, RefusesMapsThatDoNotFit) {
  auto mixed = [](Json cell) { return Json::array({std::move(cell)}); };
  const std::vector<std::pair<std::string, Json>> spoiled = {
      {"/states", 7},
      {"/states", "#."},
      {"/states", "#?X"},
      {"/ratios", Json::object()},
      {"/ratios", Json::array({1, 2})},
      {"/block_count", -10},
      {"/block_count", "10"},
      {"/block_count", 1e30},
      {"/block_count", UINT64_MAX},
      {"/blocks_per_cell", 0},
      {"/blocks_per_cell", -4},
      {"/mixed", mixed(Json::array({0, 1, 3}))},
      {"/mixed", mixed(Json::array({3, 1, 3, 0, 0}))},
      {"/mixed", mixed(Json::array({-1, 1, 3, 0, 0}))},
      {"/mixed", mixed(Json::array({1e300, 1, 3, 0, 0}))},
      {"/mixed", mixed(Json::array({"0", 1, 3, 0, 0}))},
      {"/mixed", Json::array({7})},
  };
  for (const auto& [where, value] : spoiled) {
    Json m = good_map();
    m[Json::json_pointer(where)] = value;
    EXPECT_FALSE(inject::block_map_from_json(m).is_ok()) << "accepted " << where << " = " << value.dump();
  }
  for (const Json& not_a_map : {Json(), Json(3), Json("map"), Json::array(), Json::object()}) {
    EXPECT_FALSE(inject::block_map_from_json(not_a_map).is_ok()) << not_a_map.dump();
  }
}

TEST(BlockMapJson, ToleratesOddValuesWhereAFallbackServes) {
  // Counts and ratios of another type read as 0: the map is only a picture.
  Json m = good_map();
  m["ratios"] = Json::array({"x", nullptr, -1});
  m["mixed"] = Json::array({Json::array({0, "1", true, 0, 0})});
  auto back = inject::block_map_from_json(m);
  ASSERT_TRUE(back.is_ok()) << back.status().to_string();
  EXPECT_EQ(back->cells[0].ratio, 0.0);
  EXPECT_EQ(back->cells[0].counts, (std::array<uint64_t, 4>{0, 0, 0, 0}));
}

}  // namespace
}  // namespace vblk
