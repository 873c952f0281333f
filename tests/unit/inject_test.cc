// Fault injection: the executor (inject/injector.h) on an image, offline.

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "image_fixtures.h"
#include "inject/command.h"
#include "inject/injector.h"
#include "inject/offline.h"
#include "test_util.h"
#include "util/json.h"
#include "vblk/image_store.h"

namespace vblk {
namespace {

using inject::parse_command;

constexpr uint32_t kBs = 4096;

// The mixed image of image_fixtures.h.
class InjectImageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    img_ = dir_.path("img");
    ASSERT_NO_FATAL_FAILURE(test::make_text_and_random_image(img_));
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

}  // namespace
}  // namespace vblk
