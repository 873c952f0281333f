// How writers lay out the units of a record (vblk(5), Compression unit):
// independent units on the deferred write path, the smaller layout within
// 1% for final records, chained units on images without the
// independent_units feature; and reads of independent units through the
// store.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "format/format.h"
#include "store/store_impl.h"
#include "superblock_edit.h"
#include "test_util.h"
#include "vblk/image_store.h"

namespace vblk {
namespace {

using test::TempDir;

constexpr uint32_t kBs = 4096;
constexpr uint64_t kRecordBlocks = 32;  // 128 KiB: one record of four units

class UnitLayoutTest : public ::testing::Test {
 protected:
  void SetUp() override { path_ = dir_.path("img"); }
  // A new image at level 3; without_feature clears independent_units, as
  // in an image made before it.
  void make(bool without_feature = false) {
    FormatOptions f;
    f.capacity_bytes = 64 << 20;
    ASSERT_TRUE(ImageStore::create(path_, f).is_ok());
    if (without_feature) {
      ASSERT_TRUE(test::edit_superblock(
          path_, [](format::Superblock& sb) { sb.incompat_features &= ~format::kFeatureIndependentUnits; }));
    }
  }
  std::unique_ptr<ImageStore> open(bool defer = true) {
    OpenOptions o;
    o.defer_compression = defer;
    o.background_maintenance = false;
    auto s = ImageStore::open(path_, o);
    EXPECT_TRUE(s.is_ok()) << s.status().to_string();
    return s.is_ok() ? std::move(*s) : nullptr;
  }
  // The record of `block`: "raw", "one frame", "chained" or "independent".
  static std::string layout_of(ImageStore& st, uint64_t block) {
    auto loc = st.locate(block);
    EXPECT_TRUE(loc.is_ok());
    if (!loc || !loc->compressed) return "raw";
    if (!loc->unit_table) return "one frame";
    return loc->independent_units ? "independent" : "chained";
  }
  static void expect_reads_back(ImageStore& st, uint64_t first, const std::vector<uint8_t>& data) {
    std::vector<uint8_t> out(data.size());
    ASSERT_TRUE(st.read_blocks(first, data.size() / kBs, out).is_ok());
    EXPECT_EQ(out, data);
    // Block by block too: each read decodes only its unit (independent) or
    // the units up to it (chained).
    for (uint64_t b = 0; b < data.size() / kBs; b += 3) {
      std::vector<uint8_t> one(kBs);
      ASSERT_TRUE(st.read_blocks(first + b, 1, one).is_ok());
      EXPECT_TRUE(std::equal(one.begin(), one.end(), data.begin() + static_cast<std::ptrdiff_t>(b * kBs))) << b;
    }
  }
  TempDir dir_;
  std::string path_;
  // 32 KiB of words four times over: the chained frame stores the repeats
  // in a few bytes, independent frames in full.
  const std::vector<uint8_t> text_ = test::repeated_words(kRecordBlocks * kBs, store::kDecodeUnit, 1);
  const std::vector<uint8_t> half_random_ = test::half_compressible_blocks(kRecordBlocks, kBs, 2);
};

// Written at the image's level (--compress-at-write, an import): each
// record takes independent units unless they cost more than 1% over the
// chained frame.
TEST_F(UnitLayoutTest, FinalRecordsTakeTheSmallerLayout) {
  make();
  auto st = open(false);
  ASSERT_TRUE(st);
  EXPECT_TRUE(st->info().incompat_features & format::kFeatureIndependentUnits);
  ASSERT_TRUE(st->write_blocks(0, text_).is_ok());
  ASSERT_TRUE(st->write_blocks(64, half_random_).is_ok());
  EXPECT_EQ(layout_of(*st, 0), "chained");
  EXPECT_EQ(layout_of(*st, 64), "independent");
  expect_reads_back(*st, 0, text_);
  expect_reads_back(*st, 64, half_random_);
  st.reset();
  st = open();
  ASSERT_TRUE(st);
  expect_reads_back(*st, 0, text_);
  expect_reads_back(*st, 64, half_random_);
  EXPECT_TRUE(st->check().value().clean());
}

// Written at the fast level to be recompressed when idle: independent units
// whatever they cost; the recompression at the image's level then chooses.
TEST_F(UnitLayoutTest, ProvisionalRecordsHaveIndependentUnitsUntilRecompressed) {
  make();
  auto st = open();
  ASSERT_TRUE(st);
  ASSERT_TRUE(st->write_blocks(0, text_).is_ok());
  ASSERT_TRUE(st->write_blocks(64, half_random_).is_ok());
  ASSERT_TRUE(st->locate(0).value().provisional);
  EXPECT_EQ(layout_of(*st, 0), "independent");
  EXPECT_EQ(layout_of(*st, 64), "independent");
  expect_reads_back(*st, 0, text_);
  ASSERT_TRUE(st->recompress().is_ok());
  EXPECT_FALSE(st->locate(0).value().provisional);
  EXPECT_EQ(layout_of(*st, 0), "chained");
  EXPECT_EQ(layout_of(*st, 64), "independent");
  expect_reads_back(*st, 0, text_);
  expect_reads_back(*st, 64, half_random_);
  EXPECT_TRUE(st->check().value().clean());
}

// An image without the independent_units feature (made before it) opens,
// reads and writes as before: chained units only, on every path.
TEST_F(UnitLayoutTest, ImageWithoutTheFeatureKeepsChainedUnits) {
  make(true);
  auto st = open();
  ASSERT_TRUE(st);
  const auto names = st->info().feature_names;
  EXPECT_EQ(std::find(names.begin(), names.end(), "independent_units"), names.end());
  ASSERT_TRUE(st->write_blocks(0, text_).is_ok());
  ASSERT_TRUE(st->write_blocks(64, half_random_).is_ok());
  EXPECT_EQ(layout_of(*st, 0), "chained");
  EXPECT_EQ(layout_of(*st, 64), "chained");
  ASSERT_TRUE(st->recompress().is_ok());
  EXPECT_EQ(layout_of(*st, 0), "chained");
  st.reset();
  st = open(false);
  ASSERT_TRUE(st);
  ASSERT_TRUE(st->write_blocks(128, half_random_).is_ok());
  EXPECT_EQ(layout_of(*st, 128), "chained");
  expect_reads_back(*st, 0, text_);
  expect_reads_back(*st, 64, half_random_);
  expect_reads_back(*st, 128, half_random_);
  EXPECT_TRUE(st->check().value().clean());
  st.reset();
  format::Superblock sb;
  ASSERT_TRUE(test::edit_superblock(path_, [&](format::Superblock& s) { sb = s; }));
  EXPECT_FALSE(sb.incompat_features & format::kFeatureIndependentUnits);
}

// A read of a block in the last unit needs nothing of the three before it:
// with all three damaged it still reads, and those blocks fail.
TEST_F(UnitLayoutTest, AReadOfAnIndependentUnitNeedsNoOtherUnit) {
  make();
  auto st = open(false);
  ASSERT_TRUE(st);
  ASSERT_TRUE(st->write_blocks(0, half_random_).is_ok());
  ASSERT_EQ(layout_of(*st, 0), "independent");
  constexpr uint64_t kUnit = store::kDecodeUnit / kBs;
  for (uint64_t unit = 0; unit < 3; ++unit) ASSERT_TRUE(st->corrupt_block(unit * kUnit + 1).is_ok());
  const std::vector<uint8_t> last(half_random_.begin() + 3 * kUnit * kBs, half_random_.end());
  expect_reads_back(*st, 3 * kUnit, last);
  std::vector<uint8_t> out(kBs);
  for (uint64_t unit = 0; unit < 3; ++unit)
    for (uint64_t b : {unit * kUnit, unit * kUnit + kUnit - 1}) {
      Status s = st->read_blocks(b, 1, out);
      EXPECT_TRUE(s.is_corruption()) << b << ": " << s.to_string();
      EXPECT_NE(s.message().find("unit " + std::to_string(unit) + " of the payload: checksum mismatch"),
                std::string::npos)
          << s.message();
    }
  // Across the damaged unit 2 into unit 3: fails.
  std::vector<uint8_t> two(2 * kBs);
  EXPECT_TRUE(st->read_blocks(3 * kUnit - 1, 2, two).is_corruption());
  // The scrub reads the record whole and names its blocks.
  auto report = st->check().value();
  EXPECT_EQ(report.problems.size(), kRecordBlocks);
}

}  // namespace
}  // namespace vblk
