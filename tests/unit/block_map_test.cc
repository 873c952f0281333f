// The block map (report/block_map.h): the cells, counts and ratios built
// from an image, and its JSON form as the daemon sends it and the tools
// read it.

#include "report/block_map.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <array>
#include <string>
#include <utility>
#include <vector>

#include "image_fixtures.h"
#include "test_util.h"
#include "util/json.h"
#include "vblk/image_store.h"

namespace vblk {
namespace {

// The mixed image of image_fixtures.h, with blocks 100-101 BAD.
class BlockMapImageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    img_ = dir_.path("img");
    ASSERT_NO_FATAL_FAILURE(test::make_text_and_random_image(img_));
    auto s = test::open_image(img_);
    ASSERT_NE(s, nullptr);
    ASSERT_TRUE(s->set_bad(100, 2, true).is_ok());
    ASSERT_TRUE(s->close().is_ok());
  }
  test::TempDir dir_;
  std::string img_;
};

TEST_F(BlockMapImageTest, BlockMapCountsAndRatios) {
  auto s = ImageStore::open(img_, OpenOptions{.read_only = true});
  ASSERT_TRUE(s.is_ok());
  auto one = report::build_block_map(**s, 4096);
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

  auto coarse = report::build_block_map(**s, 10);  // 26 blocks a cell
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
  const std::string text = dump_json_compact(report::block_map_json(*coarse));
  EXPECT_EQ(text.find('\n'), std::string::npos) << "one line: " << text;
  auto parsed = parse_json(text);
  ASSERT_TRUE(parsed.is_ok()) << parsed.status().to_string();
  auto back = report::block_map_from_json(*parsed);
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
  auto m = report::block_map_from_json(good_map());
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
    EXPECT_FALSE(report::block_map_from_json(m).is_ok()) << "accepted " << where << " = " << value.dump();
  }
  for (const Json& not_a_map : {Json(), Json(3), Json("map"), Json::array(), Json::object()}) {
    EXPECT_FALSE(report::block_map_from_json(not_a_map).is_ok()) << not_a_map.dump();
  }
}

TEST(BlockMapJson, ToleratesOddValuesWhereAFallbackServes) {
  // Counts and ratios of another type read as 0: the map is only a picture.
  Json m = good_map();
  m["ratios"] = Json::array({"x", nullptr, -1});
  m["mixed"] = Json::array({Json::array({0, "1", true, 0, 0})});
  auto back = report::block_map_from_json(m);
  ASSERT_TRUE(back.is_ok()) << back.status().to_string();
  EXPECT_EQ(back->cells[0].ratio, 0.0);
  EXPECT_EQ(back->cells[0].counts, (std::array<uint64_t, 4>{0, 0, 0, 0}));
}

}  // namespace
}  // namespace vblk
