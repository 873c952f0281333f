// ImageStore::resize (vblk(5), CAPACITY): growing keeps every block and
// adds FREE ones; shrinking refuses while blocks beyond the new end are
// USED, or drops them when told to; the capacity is carried by the
// checkpoint, so reopening, repair from the log and a crash at any write
// of a resize find the old capacity or the new one, never a broken image.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <random>
#include <thread>

#include "format/format.h"
#include "image_fixtures.h"
#include "io/crash_file.h"
#include "io/mem_file.h"
#include "store/open.h"
#include "store/store_impl.h"
#include "test_util.h"
#include "vblk/image_store.h"

namespace vblk {
namespace {

constexpr uint32_t kBs = 4096;
constexpr uint64_t kBlocks = 4096;  // 4 index pages of 1024 entries

using Bytes = std::vector<uint8_t>;

class Resize : public ::testing::Test {
 protected:
  void SetUp() override { path_ = dir_.path("img"); }
  void format(bool resizable = true, uint64_t blocks = kBlocks) {
    FormatOptions f;
    f.capacity_bytes = blocks * kBs;
    f.segment_size = 1u << 20;
    f.label = "grows";
    f.resizable = resizable;
    ASSERT_TRUE(ImageStore::create(path_, f).is_ok());
  }
  std::unique_ptr<ImageStore> open(bool read_only = false) { return test::open_image(path_, read_only); }
  static Bytes read(ImageStore& s, uint64_t first, uint64_t count) {
    Bytes out(count * kBs);
    Status st = s.read_blocks(first, count, out);
    EXPECT_TRUE(st.is_ok()) << st.to_string();
    return out;
  }
  static void expect_clean(ImageStore& s) {
    auto report = s.check();
    ASSERT_TRUE(report.is_ok()) << report.status().to_string();
    EXPECT_TRUE(report->clean()) << report->problems[0].what;
  }
  test::TempDir dir_;
  std::string path_;
};

TEST_F(Resize, GrowingKeepsEveryBlockAndAddsFreeOnes) {
  format();
  const Bytes a = test::pattern_blocks(100, kBs, 1);
  const Bytes tail = test::pattern_blocks(10, kBs, 2);
  std::string uuid;
  {
    auto st = open();
    ASSERT_TRUE(st->write_blocks(0, a).is_ok());
    ASSERT_TRUE(st->write_blocks(kBlocks - 10, tail).is_ok());
    ASSERT_TRUE(st->trim_blocks(50, 5).is_ok());
    ASSERT_TRUE(st->set_bad(70, 2, true).is_ok());
    uuid = st->info().uuid;
    auto r = st->resize(3 * kBlocks, false);
    ASSERT_TRUE(r.is_ok()) << r.status().to_string();
    EXPECT_EQ(r->old_block_count, kBlocks);
    EXPECT_EQ(r->new_block_count, 3 * kBlocks);
    EXPECT_EQ(st->block_count(), 3 * kBlocks);
    EXPECT_EQ(st->info().capacity_bytes, 3 * kBlocks * kBs);
    EXPECT_EQ(st->state(kBlocks).value(), BlockState::kFree);
    EXPECT_EQ(st->stats().free_blocks, 3 * kBlocks - 100 - 10);
    // The new blocks take writes at once.
    ASSERT_TRUE(st->write_blocks(3 * kBlocks - 3, test::pattern_blocks(3, kBs, 3)).is_ok());
    ASSERT_TRUE(st->close().is_ok());
  }
  auto st = open(true);
  EXPECT_EQ(st->block_count(), 3 * kBlocks);
  EXPECT_EQ(st->info().uuid, uuid);
  EXPECT_EQ(st->info().label, "grows");
  for (uint64_t b = 0; b < 100; ++b) {
    if (b >= 50 && b < 55) {
      EXPECT_EQ(st->state(b).value(), BlockState::kTrimmed);
    } else if (b == 70 || b == 71) {
      EXPECT_EQ(st->state(b).value(), BlockState::kBad);
    } else {
      const Bytes got = read(*st, b, 1);
      EXPECT_TRUE(std::equal(a.begin() + b * kBs, a.begin() + (b + 1) * kBs, got.begin())) << b;
    }
  }
  EXPECT_EQ(read(*st, kBlocks - 10, 10), tail);
  EXPECT_EQ(read(*st, 3 * kBlocks - 3, 3), test::pattern_blocks(3, kBs, 3));
  EXPECT_TRUE(test::all_zero(read(*st, kBlocks, 1000)));
  expect_clean(*st);
}

TEST_F(Resize, ShrinkingRefusesWhileBlocksBeyondTheEndAreUsed) {
  format();
  auto st = open();
  ASSERT_TRUE(st->write_blocks(0, test::pattern_blocks(8, kBs, 4)).is_ok());
  ASSERT_TRUE(st->write_blocks(3000, test::pattern_blocks(10, kBs, 5)).is_ok());
  ASSERT_TRUE(st->write_blocks(3500, Bytes(2 * kBs, 0)).is_ok());  // USED, stored as zeros
  ASSERT_TRUE(st->checkpoint().is_ok());
  const uint64_t generation = st->info().generation;
  auto r = st->resize(2048, false);
  ASSERT_EQ(r.status().code(), Status::Code::kInvalidArgument) << r.status().to_string();
  EXPECT_NE(r.status().message().find("12 blocks at or beyond the new end are USED, the first is block 3000"),
            std::string::npos)
      << r.status().message();
  EXPECT_EQ(st->block_count(), kBlocks);
  EXPECT_EQ(st->info().generation, generation) << "a refused shrink wrote a checkpoint";
  // TRIMMED, FREE and BAD blocks beyond the end do not stand in the way.
  ASSERT_TRUE(st->trim_blocks(3000, 10).is_ok());
  ASSERT_TRUE(st->trim_blocks(3500, 2).is_ok());
  ASSERT_TRUE(st->set_bad(3900, 4, true).is_ok());
  r = st->resize(2048, false);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->discarded_used, 0u);
  EXPECT_EQ(r->discarded_bad, 4u);
  EXPECT_EQ(st->block_count(), 2048u);
  EXPECT_TRUE(st->bad_ranges().empty());
  EXPECT_EQ(st->stats().trimmed_blocks, 0u);
  EXPECT_EQ(st->write_blocks(2048, Bytes(kBs, 1)).code(), Status::Code::kOutOfRange);
  EXPECT_EQ(read(*st, 0, 8), test::pattern_blocks(8, kBs, 4));
  expect_clean(*st);
}

TEST_F(Resize, ShrinkingWithDiscardDropsTheBlocksForGood) {
  format();
  const Bytes keep = test::pattern_blocks(20, kBs, 6);
  {
    auto st = open();
    // Page 1 (blocks 1024-2047) is cut in the middle; pages 2 and 3 go.
    ASSERT_TRUE(st->write_blocks(1400, keep).is_ok());
    ASSERT_TRUE(st->write_blocks(1600, test::pattern_blocks(30, kBs, 7)).is_ok());
    ASSERT_TRUE(st->write_blocks(2500, test::pattern_blocks(5, kBs, 8)).is_ok());
    ASSERT_TRUE(st->set_bad(1590, 20, true).is_ok());  // across the new end
    ASSERT_TRUE(st->checkpoint().is_ok());
    const uint64_t used = st->stats().used_blocks;
    auto r = st->resize(1500, true);
    ASSERT_TRUE(r.is_ok()) << r.status().to_string();
    EXPECT_EQ(r->discarded_used, 30u + 5u - 10u);  // blocks 1600-1609 are BAD: their data went with the mark
    EXPECT_EQ(r->first_discarded, 1610u);
    EXPECT_EQ(r->discarded_bad, 20u);
    EXPECT_EQ(st->stats().used_blocks, used - r->discarded_used);
    EXPECT_TRUE(st->bad_ranges().empty());
    ASSERT_TRUE(st->close().is_ok());
  }
  {
    auto st = open();
    EXPECT_EQ(st->block_count(), 1500u);
    EXPECT_EQ(read(*st, 1400, 20), keep);
    expect_clean(*st);
    // Growing back: what was dropped reads zeros and is FREE.
    ASSERT_TRUE(st->resize(kBlocks, false).is_ok());
    for (uint64_t b : {1500u, 1600u, 1629u, 2500u, 2504u}) EXPECT_EQ(st->state(b).value(), BlockState::kFree) << b;
    EXPECT_TRUE(test::all_zero(read(*st, 1500, kBlocks - 1500)));
    ASSERT_TRUE(st->close().is_ok());
  }
  auto st = open(true);
  EXPECT_EQ(st->block_count(), kBlocks);
  EXPECT_EQ(read(*st, 1400, 20), keep);
  EXPECT_TRUE(test::all_zero(read(*st, 1500, kBlocks - 1500)));
  EXPECT_EQ(st->stats().used_blocks, 20u);
  expect_clean(*st);
}

TEST_F(Resize, TheSameSizeChangesNothing) {
  format();
  auto st = open();
  ASSERT_TRUE(st->write_blocks(0, test::pattern_blocks(4, kBs, 9)).is_ok());
  ASSERT_TRUE(st->checkpoint().is_ok());
  const uint64_t generation = st->info().generation;
  auto r = st->resize(kBlocks, false);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->old_block_count, r->new_block_count);
  EXPECT_EQ(st->info().generation, generation);
}

TEST_F(Resize, CapacitiesTheFormatDoesNotAllowAreRefused) {
  format();
  auto st = open();
  EXPECT_EQ(st->resize(0, false).status().code(), Status::Code::kInvalidArgument);
  auto huge = st->resize(format::kMaxCapacityBytes / kBs + 1, false);
  EXPECT_EQ(huge.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(huge.status().message().find("1 PiB"), std::string::npos) << huge.status().message();
  EXPECT_EQ(st->block_count(), kBlocks);
  ASSERT_TRUE(st->resize(format::kMaxCapacityBytes / kBs, false).is_ok());  // 1 PiB: no memory by capacity
  EXPECT_EQ(st->state(format::kMaxCapacityBytes / kBs - 1).value(), BlockState::kFree);
}

TEST_F(Resize, AnImageWithoutTheFeatureIsNotResized) {
  format(/*resizable=*/false);
  {
    auto st = open();
    ASSERT_TRUE(st->write_blocks(5, test::pattern_blocks(2, kBs, 10)).is_ok());
    auto r = st->resize(2 * kBlocks, false);
    EXPECT_EQ(r.status().code(), Status::Code::kNotSupported);
    EXPECT_NE(r.status().message().find("without the resizable feature"), std::string::npos);
    EXPECT_EQ(st->block_count(), kBlocks);
    const auto names = st->info().feature_names;
    EXPECT_EQ(std::find(names.begin(), names.end(), "resizable"), names.end());
    ASSERT_TRUE(st->close().is_ok());
  }
  auto st = open(true);  // its metadata is version 2, as before the feature
  EXPECT_EQ(read(*st, 5, 2), test::pattern_blocks(2, kBs, 10));
}

// The capacity lives in the checkpoint's metadata: an index rebuilt from
// the log's META records (both slots destroyed) has it too.
TEST_F(Resize, RepairFromTheLogKeepsTheCapacity) {
  format();
  const Bytes late = test::pattern_blocks(4, kBs, 11);
  {
    auto st = open();
    ASSERT_TRUE(st->write_blocks(0, test::pattern_blocks(4, kBs, 12)).is_ok());
    ASSERT_TRUE(st->resize(2 * kBlocks, false).is_ok());
    ASSERT_TRUE(st->write_blocks(2 * kBlocks - 4, late).is_ok());
    ASSERT_TRUE(st->close().is_ok());
  }
  Bytes image = test::slurp(path_);
  for (uint64_t slot : format::kCheckpointOffset) std::fill_n(image.begin() + static_cast<ptrdiff_t>(slot), 512, 0xee);
  test::spit(path_, image);
  OpenOptions o;
  o.repair = true;
  auto st = ImageStore::open(path_, o);
  ASSERT_TRUE(st.is_ok()) << st.status().to_string();
  EXPECT_EQ((*st)->block_count(), 2 * kBlocks);
  EXPECT_EQ(read(**st, 2 * kBlocks - 4, 4), late);
}

// Writers near the end while the disk shrinks (dropping what is there) and
// grows again: no record may land past the end in force. A write that
// checked its range before a shrink and is appended after it would be
// replayed after a crash as a record outside the disk, which fails the
// open: so after each shrink, the file as a kill would leave it (every
// write issued so far, taken at one instant) must open.
TEST(ResizeRace, WritesRacingAShrinkNeverLandPastTheEnd) {
  FormatOptions f;
  f.capacity_bytes = kBlocks * kBs;
  f.segment_size = 1u << 20;
  auto image = test::recorded_image("race.img", f, OpenOptions{});
  ASSERT_TRUE(image.is_ok()) << image.status().to_string();
  io::CrashRecorder& rec = *image->recorder;
  ImageStore& st = *image->store;
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int t = 0; t < 3; ++t) {
    writers.emplace_back([&, t] {
      std::mt19937_64 rng(100 + t);
      const Bytes data = test::half_compressible_blocks(8, kBs, 13 + t);
      while (!stop) {
        const uint64_t first = kBlocks - 300 + rng() % 292;
        Status s = st.write_blocks(first, data);
        // Past a shrunk end: refused, never half done.
        if (!s) {
          EXPECT_EQ(s.code(), Status::Code::kOutOfRange) << s.to_string();
        }
      }
    });
  }
  OpenOptions ro;
  ro.read_only = true;
  for (int round = 0; round < 30 && !::testing::Test::HasFailure(); ++round) {
    ASSERT_TRUE(st.resize(kBlocks - 200 - round, true).is_ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    auto killed = store::open_image_file(std::make_unique<io::MemFile>("killed.img", rec.current()), ro);
    ASSERT_TRUE(killed.is_ok()) << "round " << round << ": " << killed.status().to_string();
    ASSERT_TRUE(st.resize(kBlocks, false).is_ok());
  }
  stop = true;
  for (auto& w : writers) w.join();
  ASSERT_TRUE(st.close().is_ok());
  auto closed = store::open_image_file(std::make_unique<io::MemFile>("closed.img", rec.current()), ro);
  ASSERT_TRUE(closed.is_ok()) << closed.status().to_string();
  auto report = (*closed)->check();
  ASSERT_TRUE(report.is_ok());
  EXPECT_TRUE(report->clean());
}

// A crash (power cut) after any host write of a resize, with the unsynced
// writes lost, kept or some of each, and the last one torn: the image opens
// without repair with the old capacity or the new one (the new one once
// resize() has returned), every block that was flushed before reads back,
// and blocks past the old end are FREE or hold what was written there.
struct CrashCase {
  const char* name;
  uint64_t from, to;  // capacity in blocks
  bool discard;
};

class ResizeCrash : public ::testing::TestWithParam<CrashCase> {};

TEST_P(ResizeCrash, EveryCutLeavesTheOldOrTheNewCapacity) {
  const CrashCase cc = GetParam();
  FormatOptions f;
  f.capacity_bytes = cc.from * kBs;
  f.segment_size = 1u << 20;
  f.data_start = 12288;
  OpenOptions o;
  o.background_maintenance = false;
  auto image = test::recorded_image("resize.img", f, o);
  ASSERT_TRUE(image.is_ok()) << image.status().to_string();
  io::CrashRecorder& rec = *image->recorder;
  ImageStore& st = *image->store;

  // Flushed before the resize: blocks in every index page, some past the new end.
  std::map<uint64_t, Bytes> flushed;
  for (uint64_t first : {uint64_t{0}, uint64_t{1100}, cc.from - 9})
    flushed[first] = test::pattern_blocks(8, kBs, first + 1);
  for (auto& [first, data] : flushed) ASSERT_TRUE(st.write_blocks(first, data).is_ok());
  ASSERT_TRUE(st.set_bad(cc.from - 1, 1, true).is_ok());
  ASSERT_TRUE(st.flush().is_ok());
  const uint64_t resize_from = rec.op_count();
  auto r = st.resize(cc.to, cc.discard);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  const uint64_t resize_done = rec.op_count();
  // Then writes to the new end, flushed.
  const Bytes late = test::pattern_blocks(4, kBs, 99);
  ASSERT_TRUE(st.write_blocks(cc.to - 4, late).is_ok());
  ASSERT_TRUE(st.flush().is_ok());
  const uint64_t end = rec.op_count();
  ASSERT_GT(resize_done, resize_from + 2) << "the resize wrote nothing";

  io::CrashReplayer replayer(rec);
  std::mt19937_64 rng(7);
  uint64_t cuts = 0, old_seen = 0, new_seen = 0;
  for (uint64_t ops = resize_from; ops <= end; ++ops) {
    std::vector<io::CutPoint> points;
    for (auto u : {io::Unsynced::kDropAll, io::Unsynced::kKeepAll, io::Unsynced::kDropRandom})
      points.push_back({ops, u, rng(), std::nullopt});
    if (ops > 0) {
      const io::CrashRecorder::Op last = rec.op(ops - 1);
      if (last.kind == io::CrashRecorder::OpKind::kWrite && last.length > 1)
        for (uint64_t torn : {uint64_t{1}, last.length / 2, last.length - 1})
          points.push_back({ops, io::Unsynced::kDropAll, rng(), torn});
    }
    for (const io::CutPoint& cut : points) {
      SCOPED_TRACE("cut after host operation " + std::to_string(ops) + " (resize ops " + std::to_string(resize_from) +
                   "-" + std::to_string(resize_done) + ", " + io::to_string(cut.unsynced) +
                   (cut.torn_bytes ? ", torn at " + std::to_string(*cut.torn_bytes) : "") + ")");
      OpenOptions ro;
      ro.read_only = true;
      auto img = store::open_image_file(std::make_unique<io::MemFile>("cut.img", replayer.materialize(cut)), ro);
      ASSERT_TRUE(img.is_ok()) << img.status().to_string();
      ImageStore& s = **img;
      const uint64_t cap = s.block_count();
      ASSERT_TRUE(cap == cc.from || cap == cc.to) << "capacity " << cap;
      // The resize's last sync has returned from this cut on.
      if (ops >= resize_done) {
        ASSERT_EQ(cap, cc.to);
      }
      ++(cap == cc.to ? new_seen : old_seen);
      for (auto& [first, data] : flushed) {
        if (first + 8 > cap) continue;
        Bytes got(data.size());
        ASSERT_TRUE(s.read_blocks(first, 8, got).is_ok());
        ASSERT_EQ(got, data) << "blocks from " << first;
      }
      if (cap == cc.from) {
        ASSERT_EQ(s.state(cc.from - 1).value(), BlockState::kBad);
      } else if (cc.to > cc.from) {
        ASSERT_EQ(s.state(cc.from - 1).value(), BlockState::kBad);
        for (uint64_t b = cc.from; b < cc.to - 4; b += 97) ASSERT_EQ(s.state(b).value(), BlockState::kFree) << b;
      } else {
        ASSERT_TRUE(s.bad_ranges().empty());
      }
      if (cap == cc.to) {
        // Written after the resize: the old data is gone either way (a
        // shrink dropped it, a grow never had any); each block whole.
        Bytes got(late.size());
        ASSERT_TRUE(s.read_blocks(cc.to - 4, 4, got).is_ok());
        for (uint64_t b = 0; b < 4; ++b) {
          const auto block = std::span<const uint8_t>(got).subspan(b * kBs, kBs);
          const bool is_late = std::equal(block.begin(), block.end(), late.begin() + b * kBs);
          ASSERT_TRUE(is_late || test::all_zero(block)) << "block " << cc.to - 4 + b;
        }
      }
      auto report = s.check();
      ASSERT_TRUE(report.is_ok()) << report.status().to_string();
      ASSERT_TRUE(report->clean()) << report->problems[0].what;
      ++cuts;
    }
  }
  EXPECT_GT(old_seen, 0u);
  EXPECT_GT(new_seen, 0u);
  std::printf("%s: %llu host operations in the resize, %llu cuts checked (%llu old capacity, %llu new)\n", cc.name,
              static_cast<unsigned long long>(resize_done - resize_from), static_cast<unsigned long long>(cuts),
              static_cast<unsigned long long>(old_seen), static_cast<unsigned long long>(new_seen));
}

INSTANTIATE_TEST_SUITE_P(GrowAndShrink, ResizeCrash,
                         ::testing::Values(CrashCase{"grow", 2048, 8192, false},
                                           CrashCase{"shrink", 4096, 1500, true}),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace vblk
