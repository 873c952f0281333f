// Deferred compression: writes at level 1 marked provisional, and the pass
// that recompresses them at the image's level (store/recompress.cc).
#include <gtest/gtest.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>

#include "format/format.h"
#include "io/crash_file.h"
#include "io/mem_file.h"
#include "manual_clock.h"
#include "store/open.h"
#include "store/store_impl.h"
#include "superblock_edit.h"
#include "test_util.h"
#include "vblk/image_store.h"

namespace vblk {
namespace {

using test::TempDir;

// Text-like blocks: lines drawn at random from 1500 lines of made-up words,
// which zstd level 3 stores about a quarter smaller than level 1 (it finds
// more of the repeated lines in a 128 KiB record), and level 1 markedly
// smaller than the fast levels below it, so writes mark them provisional.
std::vector<uint8_t> text_blocks(size_t count, uint32_t bs, uint64_t seed) {
  static const std::array<const char*, 16> kSyllables{"ka", "to", "ri", "mu", "se", "lo", "na", "vi",
                                                      "de", "po", "gu", "fe", "ji", "bo", "ha", "ze"};
  std::mt19937_64 rng(seed);
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  std::vector<std::string> words(3000), lines(1500);
  for (auto& w : words)
    for (size_t k = 0, n = 1 + pick(4); k < n; ++k) w += kSyllables[pick(kSyllables.size())];
  for (auto& l : lines)
    for (size_t k = 0, n = 5 + pick(8); k < n; ++k) l += words[pick(words.size())] + (k + 1 < n ? " " : "\n");
  std::vector<uint8_t> v;
  v.reserve(count * bs + 256);
  while (v.size() < count * bs) {
    const std::string& l = lines[pick(lines.size())];
    v.insert(v.end(), l.begin(), l.end());
  }
  v.resize(count * bs);
  return v;
}

// The blocks read back equal `data` from block `first` on.
void expect_blocks(ImageStore& st, uint64_t first, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> out(data.size());
  ASSERT_TRUE(st.read_blocks(first, data.size() / 4096, out).is_ok());
  EXPECT_TRUE(out == data);
}
uint64_t stored(ImageStore& st) { return st.stats().stored_bytes; }
// check() finds every structure and record sound.
void expect_clean(ImageStore& st) {
  auto report = st.check();
  ASSERT_TRUE(report.is_ok()) << report.status().to_string();
  EXPECT_TRUE(report->problems.empty());
}
// Writes `count` text blocks from block 0 and returns them.
std::vector<uint8_t> write_text(ImageStore& st, size_t count, uint64_t seed) {
  auto data = text_blocks(count, 4096, seed);
  EXPECT_TRUE(st.write_blocks(0, data).is_ok());
  return data;
}

class DeferredTest : public ::testing::Test {
 protected:
  void SetUp() override { path_ = dir_.path("img"); }
  void format(int level = 3) {
    FormatOptions f;
    f.capacity_bytes = 256ull << 20;
    f.compression_level = level;
    f.segment_size = 1 << 20;
    ASSERT_TRUE(ImageStore::create(path_, f).is_ok());
  }
  std::unique_ptr<ImageStore> open(bool background = false, bool defer = true) {
    OpenOptions o;
    o.background_maintenance = background;
    o.defer_compression = defer;
    o.clock = clock_.fn();
    auto s = ImageStore::open(path_, o);
    EXPECT_TRUE(s.is_ok()) << s.status().to_string();
    return s.is_ok() ? std::move(*s) : nullptr;
  }
  std::unique_ptr<ImageStore> open_read_only() {
    OpenOptions o;
    o.read_only = true;
    auto s = ImageStore::open(path_, o);
    EXPECT_TRUE(s.is_ok()) << s.status().to_string();
    return s.is_ok() ? std::move(*s) : nullptr;
  }
  test::ManualClock clock_;  // the idle rules see only the time the test gives
  TempDir dir_;
  std::string path_;
};

TEST_F(DeferredTest, NewImagesHaveTheFeature) {
  format();
  auto st = open();
  ASSERT_TRUE(st);
  EXPECT_TRUE(st->info().incompat_features & format::kFeatureDeferredCompression);
  const auto names = st->info().feature_names;
  EXPECT_NE(std::find(names.begin(), names.end(), "deferred_compression"), names.end());
}

TEST_F(DeferredTest, WritesAreProvisionalUntilRecompressed) {
  format();
  auto data = text_blocks(2048, 4096, 1);  // 8 MiB
  uint64_t at_write = 0;
  {
    auto st = open();
    ASSERT_TRUE(st);
    ASSERT_TRUE(st->write_blocks(0, data).is_ok());
    EXPECT_TRUE(st->locate(0)->provisional);
    EXPECT_TRUE(st->locate(2047)->provisional);
    EXPECT_GT(st->info().provisional_bytes, 0u);
    at_write = stored(*st);
    ASSERT_TRUE(st->recompress().is_ok());
    EXPECT_EQ(st->info().provisional_bytes, 0u);
    EXPECT_FALSE(st->locate(0)->provisional);
    EXPECT_FALSE(st->locate(2047)->provisional);
    EXPECT_TRUE(st->locate(0)->compressed);
    // Level 3 stores this text well below level 1.
    EXPECT_LT(stored(*st), at_write * 0.9) << "level 1: " << at_write;
    expect_blocks(*st, 0, data);
    expect_clean(*st);
  }
  auto st = open();
  ASSERT_TRUE(st);
  expect_blocks(*st, 0, data);
  EXPECT_FALSE(st->locate(100)->provisional);
}

TEST_F(DeferredTest, RecompressedImageIsAsSmallAsWritingAtTheLevel) {
  auto data = text_blocks(2048, 4096, 2);
  format();
  uint64_t deferred = 0, direct = 0;
  {
    auto st = open();
    ASSERT_TRUE(st->write_blocks(0, data).is_ok());
    ASSERT_TRUE(st->recompress().is_ok());
    deferred = stored(*st);
  }
  std::filesystem::remove(path_);
  format();
  {
    auto st = open(false, /*defer=*/false);
    ASSERT_TRUE(st->write_blocks(0, data).is_ok());
    direct = stored(*st);
  }
  EXPECT_LE(deferred, direct * 1.01) << "written at level 3: " << direct;
}

TEST_F(DeferredTest, CompressAtWriteAndLevelOneImagesDoNotDefer) {
  auto data = text_blocks(512, 4096, 3);
  format();
  {
    auto st = open(false, /*defer=*/false);
    ASSERT_TRUE(st->write_blocks(0, data).is_ok());
    EXPECT_FALSE(st->locate(0)->provisional);
    EXPECT_EQ(st->info().provisional_bytes, 0u);
  }
  std::filesystem::remove(path_);
  format(1);
  {
    auto st = open();
    ASSERT_TRUE(st->write_blocks(0, data).is_ok());
    EXPECT_FALSE(st->locate(0)->provisional);
    EXPECT_TRUE(st->locate(0)->compressed);
  }
}

TEST_F(DeferredTest, DataTheFastLevelsStoreAsWellIsNotProvisional) {
  // Half random, half one repeated byte: level -5 stores it as small as
  // level 1, and so would level 3; recompressing it would buy nothing.
  // (On a thread of its own: the level a thread picked for the last data
  // it compressed holds for its next payloads until the next trial.)
  format();
  auto st = open();
  auto data = test::half_compressible_blocks(1024, 4096, 4);
  std::thread([&] { ASSERT_TRUE(st->write_blocks(0, data).is_ok()); }).join();
  EXPECT_TRUE(st->locate(0)->compressed);
  EXPECT_FALSE(st->locate(0)->provisional);
  EXPECT_EQ(st->info().provisional_bytes, 0u);
}

TEST_F(DeferredTest, ImageWithoutTheFeatureCompressesAtItsLevel) {
  format();
  ASSERT_TRUE(test::edit_superblock(
      path_, [](format::Superblock& sb) { sb.incompat_features &= ~format::kFeatureDeferredCompression; }));
  auto st = open();
  ASSERT_TRUE(st);
  auto data = write_text(*st, 512, 5);
  EXPECT_FALSE(st->locate(0)->provisional);
  EXPECT_TRUE(st->info().provisional_scanned);
  ASSERT_TRUE(st->recompress().is_ok());  // nothing to do
  expect_blocks(*st, 0, data);
}

TEST_F(DeferredTest, AReopenedImageFindsItsProvisionalRecordsByScanning) {
  format();
  auto data = text_blocks(2048, 4096, 6);
  {
    auto st = open();
    ASSERT_TRUE(st->write_blocks(0, data).is_ok());
    ASSERT_TRUE(st->checkpoint().is_ok());
  }
  auto st = open();
  ASSERT_TRUE(st);
  // Nothing since the checkpoint: the counts come from the scan.
  EXPECT_FALSE(st->info().provisional_scanned);
  EXPECT_EQ(st->info().provisional_bytes, 0u);
  EXPECT_TRUE(st->locate(0)->provisional);
  ASSERT_TRUE(st->recompress().is_ok());
  EXPECT_TRUE(st->info().provisional_scanned);
  EXPECT_EQ(st->info().provisional_bytes, 0u);
  for (uint64_t b = 0; b < 2048; b += 97) EXPECT_FALSE(st->locate(b)->provisional) << b;
  expect_blocks(*st, 0, data);
}

// An open (read-only too) counts only the provisional records a block
// still reads from: the pass has nothing to do for records overwritten
// since, nor for the copies the recompression of the head leaves behind.
TEST_F(DeferredTest, TheScanCountsOnlyProvisionalRecordsStillRead) {
  format();
  auto data = text_blocks(1024, 4096, 16);  // 32 records of 128 KiB
  auto patch = test::random_bytes(512 * 4096, 17);  // incompressible: not provisional
  uint64_t whole = 0;
  {
    auto st = open();
    ASSERT_TRUE(st->write_blocks(0, data).is_ok());
    ASSERT_TRUE(st->close().is_ok());
  }
  {
    auto ro = open_read_only();
    auto bytes = ro->provisional_bytes();
    ASSERT_TRUE(bytes.is_ok()) << bytes.status().to_string();
    whole = *bytes;
    EXPECT_GT(whole, 0u);
    EXPECT_TRUE(ro->info().provisional_scanned);
  }
  {
    auto st = open();
    ASSERT_TRUE(st->write_blocks(0, patch).is_ok());  // the first half of the records, whole
    ASSERT_TRUE(st->close().is_ok());
  }
  {
    auto ro = open_read_only();
    auto bytes = ro->provisional_bytes();
    ASSERT_TRUE(bytes.is_ok());
    EXPECT_LT(*bytes, whole * 6 / 10) << "overwritten records counted";
    EXPECT_GT(*bytes, whole * 4 / 10);
  }
  {
    auto st = open();
    ASSERT_TRUE(st->recompress().is_ok());
    ASSERT_TRUE(st->close().is_ok());
  }
  auto ro = open_read_only();
  auto bytes = ro->provisional_bytes();
  ASSERT_TRUE(bytes.is_ok());
  EXPECT_EQ(*bytes, 0u) << "records the pass left behind counted";
}

TEST_F(DeferredTest, OverwritesBeforeTheCopyAreNotUndone) {
  // Blocks overwritten after they were written provisionally: the pass must
  // copy only what still lives in the old records.
  format();
  auto st = open();
  auto data = write_text(*st, 2048, 7);
  auto patch = test::pattern_blocks(64, 4096, 8);
  for (uint64_t at : {5u, 700u, 1500u}) {
    ASSERT_TRUE(st->write_blocks(at, patch).is_ok());
    std::copy(patch.begin(), patch.end(), data.begin() + static_cast<std::ptrdiff_t>(at * 4096));
  }
  ASSERT_TRUE(st->trim_blocks(1000, 10).is_ok());
  std::fill(data.begin() + 1000 * 4096, data.begin() + 1010 * 4096, 0);
  ASSERT_TRUE(st->recompress().is_ok());
  expect_blocks(*st, 0, data);
  EXPECT_EQ(st->state(1005).value(), BlockState::kTrimmed);
}

TEST_F(DeferredTest, TheBackgroundPassRunsWhenIdleAndLosesNoWrite) {
  format();
  auto st = open(/*background=*/true);
  ASSERT_TRUE(st);
  auto data = write_text(*st, 4096, 9);  // 16 MiB
  const uint64_t pending = st->info().provisional_bytes;
  ASSERT_GT(pending, 0u);
  // Idle: the pass starts; interrupt it with writes as soon as it has made
  // progress, while it may be mid-segment.
  clock_.advance(std::chrono::seconds(2));
  ASSERT_TRUE(test::wait_until([&] { return st->info().provisional_bytes < pending; })) << "the idle pass did not start";
  std::mt19937_64 rng(10);
  for (int i = 0; i < 50; ++i) {
    const uint64_t at = rng() % 4000;
    auto patch = test::pattern_blocks(8, 4096, 100 + i);
    ASSERT_TRUE(st->write_blocks(at, patch).is_ok());
    std::copy(patch.begin(), patch.end(), data.begin() + static_cast<std::ptrdiff_t>(at * 4096));
  }
  clock_.advance(std::chrono::seconds(2));
  test::wait_until([&] { return st->info().provisional_bytes == 0; });
  EXPECT_EQ(st->info().provisional_bytes, 0u) << "the idle pass did not finish";
  expect_blocks(*st, 0, data);
  st.reset();
  st = open();
  expect_blocks(*st, 0, data);
  expect_clean(*st);
}

TEST_F(DeferredTest, ReadsKeepThePassWaiting) {
  format();
  auto st = open(/*background=*/true);
  auto data = write_text(*st, 1024, 11);
  const uint64_t pending = st->info().provisional_bytes;
  std::vector<uint8_t> out(4096);
  // A read every 100 ms for 3 s: never a second without a request.
  for (int i = 0; i < 30; ++i) {
    ASSERT_TRUE(st->read_blocks(3, 1, out).is_ok());
    clock_.advance(std::chrono::milliseconds(100));
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // the thread's turns go on
  }
  EXPECT_EQ(st->info().provisional_bytes, pending);
  // The control: a second without requests and the pass runs.
  clock_.advance(std::chrono::seconds(2));
  EXPECT_TRUE(test::wait_until([&] { return st->info().provisional_bytes < pending; }));
}

TEST_F(DeferredTest, ADamagedRecordIsLeftInPlaceAndTheRestRecompressed) {
  format();
  auto st = open();
  auto data = write_text(*st, 2048, 12);
  ASSERT_TRUE(st->corrupt_block(0).is_ok());
  const auto damaged = st->locate(0).value();
  ASSERT_TRUE(st->recompress().is_ok());
  EXPECT_EQ(st->info().provisional_bytes, 0u);
  std::vector<uint8_t> out(4096);
  EXPECT_TRUE(st->read_blocks(0, 1, out).is_corruption());
  EXPECT_EQ(st->locate(0)->record_offset, damaged.record_offset);
  // Blocks in other segments were recompressed and read back.
  const auto last = st->locate(2047).value();
  EXPECT_FALSE(last.provisional);
  std::vector<uint8_t> tail(data.end() - 4096, data.end());
  expect_blocks(*st, 2047, tail);
}

TEST_F(DeferredTest, APowerCutAfterThePassLosesNothingFlushed) {
  // The pass ends with a checkpoint, so its copies are durable; the moved
  // blocks replay from them, and writes after it are cut as any others.
  format();
  auto st = open();
  auto data = write_text(*st, 2048, 13);
  ASSERT_TRUE(st->flush().is_ok());
  ASSERT_TRUE(st->recompress().is_ok());
  auto late = test::pattern_blocks(16, 4096, 14);
  ASSERT_TRUE(st->write_blocks(100, late).is_ok());  // not flushed
  auto cut = st->power_cut();
  ASSERT_TRUE(cut.is_ok());
  EXPECT_EQ(cut->dropped_writes, 1u);
  EXPECT_EQ(cut->dropped_blocks, 16u);
  ASSERT_TRUE(st->power_on().is_ok());
  expect_blocks(*st, 0, data);
  EXPECT_FALSE(st->locate(1000)->provisional);
  expect_clean(*st);
}

// Host read errors during the pass: the scan after an open and the copy of
// a segment each report the error, leave what they had not done pending,
// and a later pass finishes it.
TEST(DeferredHostFault, ReadErrorsStopThePassAndALaterOneFinishes) {
  FormatOptions f;
  f.capacity_bytes = 64ull << 20;
  f.compression_level = 3;
  f.segment_size = 1 << 20;
  auto sb = store::superblock_for("host.img", f);
  ASSERT_TRUE(sb.is_ok()) << sb.status().to_string();
  io::MemFile base("host.img");
  ASSERT_TRUE(store::write_empty_image(base, *sb).is_ok());
  io::CrashRecorder rec(base.contents());
  OpenOptions o;
  o.background_maintenance = false;
  auto opened = store::open_image_file(rec.open("host.img"), o);
  ASSERT_TRUE(opened.is_ok()) << opened.status().to_string();
  ImageStore& st = **opened;
  auto data = text_blocks(2048, 4096, 15);
  ASSERT_TRUE(st.write_blocks(0, data).is_ok());

  rec.inject(io::FaultHook::kRead, EIO, -1);
  Status s = st.recompress();
  EXPECT_EQ(s.code(), Status::Code::kIoError) << s.to_string();
  EXPECT_NE(s.message().find("looking for provisional records"), std::string::npos) << s.to_string();
  EXPECT_FALSE(st.info().provisional_scanned);
  rec.clear_faults();
  ASSERT_TRUE(st.recompress().is_ok());
  EXPECT_TRUE(st.info().provisional_scanned);

  auto more = text_blocks(1024, 4096, 16);
  ASSERT_TRUE(st.write_blocks(4096, more).is_ok());
  const uint64_t pending = st.info().provisional_bytes;
  ASSERT_GT(pending, 0u);
  rec.inject(io::FaultHook::kRead, EIO, -1);
  s = st.recompress();
  EXPECT_EQ(s.code(), Status::Code::kIoError) << s.to_string();
  EXPECT_NE(s.message().find("cleaning segment"), std::string::npos) << s.to_string();
  EXPECT_GT(st.info().provisional_bytes, 0u);
  rec.clear_faults();
  ASSERT_TRUE(st.recompress().is_ok());
  EXPECT_EQ(st.info().provisional_bytes, 0u);
  expect_blocks(st, 0, data);
  expect_blocks(st, 4096, more);
  expect_clean(st);
}

}  // namespace
}  // namespace vblk
