// ImageStore: persistence, states, compression, reclaim, locking, validation.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <atomic>
#include <thread>

#include "format/format.h"
#include "format/unit_table.h"
#include "io/file.h"
#include "io/mem_file.h"
#include "store/store_impl.h"
#include "superblock_edit.h"
#include "manual_clock.h"
#include "test_util.h"
#include "vblk/image_store.h"

namespace vblk {
namespace {

using test::TempDir;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override { path_ = dir_.path("img"); }
  std::unique_ptr<ImageStore> make(uint64_t capacity = 64 << 20, uint32_t bs = 4096, int level = 3) {
    FormatOptions f;
    f.capacity_bytes = capacity;
    f.block_size = bs;
    f.compression_level = level;
    EXPECT_TRUE(ImageStore::create(path_, f).is_ok());
    return reopen();
  }
  // An image made before independent units (feature bit clear): its
  // records' units are chained.
  std::unique_ptr<ImageStore> make_chained() {
    make().reset();
    EXPECT_TRUE(test::edit_superblock(path_, [](format::Superblock& sb) {
      EXPECT_TRUE(sb.incompat_features & format::kFeatureIndependentUnits);
      sb.incompat_features &= ~format::kFeatureIndependentUnits;
    }));
    return reopen();
  }
  void reads_check_and_decode_only_the_units_they_need(bool independent);
  void read_of_a_record_cut_by_the_end_of_the_file_fails(bool independent);
  std::unique_ptr<ImageStore> reopen(bool ro = false) {
    OpenOptions o;
    o.read_only = ro;
    auto s = ImageStore::open(path_, o);
    EXPECT_TRUE(s.is_ok()) << s.status().to_string();
    return s.is_ok() ? std::move(*s) : nullptr;
  }
  TempDir dir_;
  std::string path_;
};

TEST_F(StoreTest, WriteThenReadMatches) {
  auto st = make();
  auto data = test::pattern_blocks(8, 4096, 1);
  ASSERT_TRUE(st->write_blocks(10, data).is_ok());
  std::vector<uint8_t> out(data.size());
  ASSERT_TRUE(st->read_blocks(10, 8, out).is_ok());
  EXPECT_EQ(out, data);
  EXPECT_EQ(st->state(10).value(), BlockState::kUsed);
  EXPECT_EQ(st->state(9).value(), BlockState::kFree);
}

TEST_F(StoreTest, ReopenPersistence) {
  auto data = test::pattern_blocks(300, 4096, 2);
  {
    auto st = make();
    ASSERT_TRUE(st->write_blocks(1000, data).is_ok());
    ASSERT_TRUE(st->close().is_ok());
  }
  auto st = reopen(true);
  std::vector<uint8_t> out(data.size());
  ASSERT_TRUE(st->read_blocks(1000, 300, out).is_ok());
  EXPECT_EQ(out, data);
  EXPECT_EQ(st->stats().used_blocks, 300u);
}

TEST_F(StoreTest, UnflushedButWrittenDataReplaysWithoutClose) {
  auto data = test::pattern_blocks(5, 4096, 3);
  {
    auto st = make();
    ASSERT_TRUE(st->write_blocks(7, data).is_ok());
    ASSERT_TRUE(st->flush().is_ok());
    // Simulate a crash: leak the store so no close/checkpoint runs, but the
    // lock must be dropped: fork-free way is to reopen read-only below after
    // releasing via the test hook.
    test::abandon(std::move(st));
  }
  auto st = reopen();
  std::vector<uint8_t> out(data.size());
  ASSERT_TRUE(st->read_blocks(7, 5, out).is_ok());
  EXPECT_EQ(out, data);
}

TEST_F(StoreTest, TrimThenReadGivesZeros) {
  auto st = make();
  auto data = test::pattern_blocks(4, 4096, 4);
  ASSERT_TRUE(st->write_blocks(0, data).is_ok());
  ASSERT_TRUE(st->trim_blocks(1, 2).is_ok());
  std::vector<uint8_t> out(data.size());
  ASSERT_TRUE(st->read_blocks(0, 4, out).is_ok());
  EXPECT_TRUE(std::equal(out.begin(), out.begin() + 4096, data.begin()));
  EXPECT_TRUE(test::all_zero(std::span(out).subspan(4096, 8192)));
  EXPECT_EQ(st->state(1).value(), BlockState::kTrimmed);
  EXPECT_EQ(st->state(3).value(), BlockState::kUsed);
  ASSERT_TRUE(st->trim_blocks(100, 5).is_ok());
  EXPECT_EQ(st->state(100).value(), BlockState::kFree) << "trim keeps FREE blocks FREE";
}

TEST_F(StoreTest, WriteBeyondDeviceFails) {
  auto st = make(1 << 20);
  auto data = test::pattern_blocks(2, 4096, 5);
  EXPECT_TRUE(st->write_blocks(255, data).is_out_of_range());
  EXPECT_TRUE(st->write_blocks(256, std::span(data).first(4096)).is_out_of_range());
  std::vector<uint8_t> out(4096);
  EXPECT_TRUE(st->read_blocks(1ull << 62, 1, out).is_out_of_range());
}

TEST_F(StoreTest, BadBlockAccessFailsAndPersists) {
  {
    auto st = make();
    auto data = test::pattern_blocks(3, 4096, 6);
    ASSERT_TRUE(st->write_blocks(20, data).is_ok());
    ASSERT_TRUE(st->set_bad(21, 1, true).is_ok());
    std::vector<uint8_t> out(4096);
    EXPECT_TRUE(st->read_blocks(21, 1, out).is_bad_block());
    EXPECT_TRUE(st->write_blocks(21, std::span(data).first(4096)).is_bad_block());
    EXPECT_TRUE(st->read_blocks(20, 1, out).is_ok());
    EXPECT_TRUE(st->read_blocks(22, 1, out).is_ok());
  }
  auto st = reopen();
  EXPECT_EQ(st->state(21).value(), BlockState::kBad);
  EXPECT_EQ(st->stats().bad_blocks, 1u);
  ASSERT_TRUE(st->set_bad(21, 1, false).is_ok());
  std::vector<uint8_t> out(4096, 1);
  ASSERT_TRUE(st->read_blocks(21, 1, out).is_ok());
  EXPECT_TRUE(test::all_zero(out));
}

TEST_F(StoreTest, ZeroBlocksStoreNoPayload) {
  auto st = make();
  std::vector<uint8_t> zeros(64 * 4096, 0);
  ASSERT_TRUE(st->write_blocks(0, zeros).is_ok());
  auto s = st->stats();
  EXPECT_EQ(s.used_blocks, 64u);
  EXPECT_EQ(s.zero_blocks, 64u);
  EXPECT_EQ(s.stored_bytes, 0u);
  auto loc = st->locate(5).value();
  EXPECT_TRUE(loc.zero);
}

// stored_zero (block status for NBD) agrees with locate's `zero`: only
// USED blocks without payload are stored zeros.
TEST_F(StoreTest, StoredZeroOnlyForUsedBlocksWithoutPayload) {
  auto st = make();
  ASSERT_TRUE(st->write_blocks(0, std::vector<uint8_t>(2 * 4096, 0)).is_ok());
  ASSERT_TRUE(st->write_blocks(2, std::vector<uint8_t>(4096, 7)).is_ok());
  ASSERT_TRUE(st->write_blocks(3, std::vector<uint8_t>(4096, 0)).is_ok());
  ASSERT_TRUE(st->trim_blocks(3, 1).is_ok());
  ASSERT_TRUE(st->set_bad(4, 1, true).is_ok());
  EXPECT_TRUE(st->stored_zero(0).value());
  EXPECT_TRUE(st->stored_zero(1).value());
  for (uint64_t b : {2, 3, 4, 5}) {
    EXPECT_FALSE(st->stored_zero(b).value()) << b;
    EXPECT_EQ(st->stored_zero(b).value(), st->locate(b).value().zero) << b;
  }
  EXPECT_TRUE(st->stored_zero(st->block_count()).status().is_out_of_range());
}

TEST_F(StoreTest, CompressibleDataIsCompressedAndIncompressibleStoredRaw) {
  auto st = make();
  std::vector<uint8_t> text(16 * 4096);
  for (size_t i = 0; i < text.size(); ++i) text[i] = "the quick brown fox "[i % 20];
  ASSERT_TRUE(st->write_blocks(0, text).is_ok());
  auto loc = st->locate(0).value();
  EXPECT_TRUE(loc.compressed);
  EXPECT_LT(st->stats().stored_bytes, text.size() / 10);

  auto noise = test::random_bytes(16 * 4096, 7);
  ASSERT_TRUE(st->write_blocks(100, noise).is_ok());
  auto loc2 = st->locate(100).value();
  EXPECT_FALSE(loc2.compressed);
  std::vector<uint8_t> out(noise.size());
  ASSERT_TRUE(st->read_blocks(100, 16, out).is_ok());
  EXPECT_EQ(out, noise);
}

TEST_F(StoreTest, IncompressibilityIsJudgedBySamplesWithoutLosingCompression) {
  auto st = make();
  // Half of every block compresses: the samples see it and the record is
  // compressed in full.
  auto half = test::half_compressible_blocks(16, 4096, 3);
  ASSERT_TRUE(st->write_blocks(0, half).is_ok());
  EXPECT_TRUE(st->locate(0).value().compressed);
  EXPECT_LT(st->locate(0).value().stored_payload, half.size() * 6 / 10);
  // Noise with a compressible tail the samples miss is stored raw: the
  // samples decide, and the data reads back either way.
  auto mixed = test::random_bytes(16 * 4096, 9);
  std::fill(mixed.begin() + 12 * 4096, mixed.end(), 0x5a);
  ASSERT_TRUE(st->write_blocks(100, mixed).is_ok());
  EXPECT_FALSE(st->locate(100).value().compressed);
  std::vector<uint8_t> out(mixed.size());
  ASSERT_TRUE(st->read_blocks(100, 16, out).is_ok());
  EXPECT_EQ(out, mixed);
  // A 1 MiB write: noise is stored raw throughout; where half of it is
  // text, the text half is still compressed.
  auto noise = test::random_bytes(256 * 4096, 11);
  ASSERT_TRUE(st->write_blocks(1024, noise).is_ok());
  for (uint64_t b : {1024, 1200, 1279}) EXPECT_FALSE(st->locate(b).value().compressed) << b;
  for (size_t i = noise.size() / 2; i < noise.size(); ++i) noise[i] = "half text "[i % 10];
  ASSERT_TRUE(st->write_blocks(2048, noise).is_ok());
  EXPECT_FALSE(st->locate(2048).value().compressed);
  EXPECT_TRUE(st->locate(2048 + 200).value().compressed);
  out.resize(noise.size());
  ASSERT_TRUE(st->read_blocks(2048, 256, out).is_ok());
  EXPECT_EQ(out, noise);
}

TEST_F(StoreTest, RandomOverwritesStayCompressed) {
  auto st = make();
  std::vector<uint8_t> text(4096);
  for (size_t i = 0; i < text.size(); ++i) text[i] = "compressible "[i % 13];
  std::mt19937_64 rng(1);
  std::vector<uint64_t> written;
  for (int i = 0; i < 2000; ++i) {
    written.push_back(rng() % 16384);
    ASSERT_TRUE(st->write_blocks(written.back(), text).is_ok());
  }
  // Every block written holds a compressed record, however the overwrites
  // fell; a block never written holds none.
  for (uint64_t b : written) {
    const BlockLocation loc = st->locate(b).value();
    EXPECT_EQ(loc.state, BlockState::kUsed) << b;
    EXPECT_TRUE(loc.compressed) << b;
  }
  for (uint64_t b = 0; b < 16384; ++b) {
    if (std::find(written.begin(), written.end(), b) != written.end()) continue;
    const BlockLocation loc = st->locate(b).value();
    EXPECT_EQ(loc.state, BlockState::kFree) << b;
    EXPECT_FALSE(loc.compressed) << b;
    break;
  }
  // Every stored record of this data is compressed.
  auto s = st->stats();
  EXPECT_LT(s.stored_bytes, s.used_blocks * 4096 / 10);
}

void overwrite_and_measure(ImageStore& st, bool random_order, const char* what) {
  const uint64_t blocks = st.block_count();
  std::mt19937_64 rng(3);
  uint64_t written = 0;
  for (int round = 0; round < 3; ++round) {
    for (uint64_t b = 0; b < blocks; b += 16) {
      uint64_t at = random_order ? (rng() % (blocks / 16)) * 16 : b;
      auto data = test::half_compressible_blocks(16, 4096, rng());
      ASSERT_TRUE(st.write_blocks(at, data).is_ok());
      written += data.size();
    }
  }
  ASSERT_TRUE(st.flush().is_ok());
  auto s = st.stats();
  double ratio = static_cast<double>(s.host_file_bytes) / static_cast<double>(s.stored_bytes);
  auto info = st.info();
  std::printf("%s: %llu segments, %llu free\n", what, (unsigned long long)info.segments, (unsigned long long)info.free_segments);
  std::printf("%s: %llu MiB written, stored %llu bytes, host file %llu bytes allocated, ratio %.3f\n", what,
              (unsigned long long)(written >> 20), (unsigned long long)s.stored_bytes,
              (unsigned long long)s.host_file_bytes, ratio);
  // Metadata allowance: superblock/slots (12 KiB) + index pages + one open segment.
  // Freed segments kept for reuse come on top, at most a quarter of the live data.
  EXPECT_LT(s.host_file_bytes - s.reuse_pool_bytes, 1.5 * s.stored_bytes + (5u << 20));
  EXPECT_LE(s.reuse_pool_bytes, s.stored_bytes / 4);
  // Punched by an explicit checkpoint (or when idle, or at close).
  ASSERT_TRUE(st.checkpoint().is_ok());
  s = st.stats();
  std::printf("%s: after checkpoint, host file %llu bytes allocated\n", what, (unsigned long long)s.host_file_bytes);
  EXPECT_EQ(s.reuse_pool_bytes, 0u);
  EXPECT_LT(s.host_file_bytes, 1.5 * s.stored_bytes + (5u << 20));
}

TEST_F(StoreTest, OverwritesAreReclaimed) {
  // Whole device overwritten three times with compressible data.
  auto st = make(256 << 20);
  overwrite_and_measure(*st, false, "sequential overwrite x3");
}

TEST_F(StoreTest, RandomOverwritesAreReclaimed) {
  auto st = make(256 << 20);
  overwrite_and_measure(*st, true, "random overwrite x3");
}

TEST_F(StoreTest, TrimmedSpaceIsReclaimed) {
  auto st = make(64 << 20);
  auto data = test::half_compressible_blocks(16384, 4096, 11);
  ASSERT_TRUE(st->write_blocks(0, data).is_ok());
  auto before = st->stats().host_file_bytes;
  ASSERT_TRUE(st->trim_blocks(0, 16384).is_ok());
  // Reclaim runs when the log needs room: write a little more.
  ASSERT_TRUE(st->write_blocks(0, std::span(data).first(64 * 4096)).is_ok());
  for (int i = 0; i < 64; ++i) ASSERT_TRUE(st->write_blocks(64 + i * 64, std::span(data).first(64 * 4096)).is_ok());
  ASSERT_TRUE(st->checkpoint().is_ok());
  auto after = st->stats();
  std::printf("trim: host file %llu -> %llu bytes allocated, stored %llu\n", (unsigned long long)before,
              (unsigned long long)after.host_file_bytes, (unsigned long long)after.stored_bytes);
  EXPECT_LT(after.host_file_bytes, before / 2);
}

// Released segments are kept unpunched for reuse (the reuse pool); the
// head writes over their stale records, which must never be replayed, and
// the pool is punched when the store is idle or closed.
class ReusePoolTest : public StoreTest {
 protected:
  test::ManualClock clock_;  // the idle rule sees only the time the test gives
  // A 128 MiB image stored raw (sizes predictable).
  std::unique_ptr<ImageStore> create_and_open(bool background) {
    FormatOptions f;
    f.capacity_bytes = 128 << 20;
    f.compression_level = 0;
    EXPECT_TRUE(ImageStore::create(path_, f).is_ok());
    return open_with(background);
  }
  std::unique_ptr<ImageStore> open_with(bool background) {
    OpenOptions o;
    o.background_maintenance = background;
    o.clock = clock_.fn();
    auto s = ImageStore::open(path_, o);
    EXPECT_TRUE(s.is_ok()) << s.status().to_string();
    return s.is_ok() ? std::move(*s) : nullptr;
  }
  // 128 MiB device filled with incompressible data, then overwritten
  // (1 MiB writes); returns the largest reuse pool seen.
  uint64_t fill_and_overwrite(ImageStore& st, int rounds) {
    uint64_t max_pool = 0;
    const uint64_t blocks = st.block_count();
    for (int r = 0; r <= rounds; ++r) {
      for (uint64_t b = 0; b < blocks; b += 256) {
        EXPECT_TRUE(st.write_blocks(b, test::pattern_blocks(256, 4096, r * 100000 + b)).is_ok());
        max_pool = std::max(max_pool, st.stats().reuse_pool_bytes);
      }
    }
    return max_pool;
  }
  void expect_round(ImageStore& st, int r) {
    std::vector<uint8_t> out(256 * 4096);
    for (uint64_t b = 0; b < st.block_count(); b += 256) {
      ASSERT_TRUE(st.read_blocks(b, 256, out).is_ok());
      ASSERT_EQ(out, test::pattern_blocks(256, 4096, r * 100000 + b)) << "blocks from " << b;
    }
  }
};

TEST_F(ReusePoolTest, StaleRecordsInReusedSegmentsAreNotReplayed) {
  auto st = create_and_open(false);
  const uint64_t max_pool = fill_and_overwrite(*st, 2);
  // 128 MiB live: the pool holds up to 32 MiB (eight 4 MiB segments).
  EXPECT_GT(max_pool, 0u);
  EXPECT_LE(max_pool, (128u << 20) / 4);  // kReusePoolLiveDivisor
  ASSERT_TRUE(st->flush().is_ok());
  expect_round(*st, 2);
  // A crash now: a copy of the flushed file, opened as it is.
  const std::string copy = dir_.path("crash-copy");
  std::filesystem::copy_file(path_, copy);
  {
    auto c = ImageStore::open(copy, OpenOptions{});
    ASSERT_TRUE(c.is_ok()) << c.status().to_string();
    expect_round(**c, 2);
    auto report = (*c)->check();
    ASSERT_TRUE(report.is_ok());
    EXPECT_TRUE(report->clean());
  }
  // An explicit checkpoint punches the pool.
  ASSERT_TRUE(st->checkpoint().is_ok());
  EXPECT_EQ(st->stats().reuse_pool_bytes, 0u);
  ASSERT_TRUE(st->close().is_ok());
}

TEST_F(ReusePoolTest, PunchedWhenIdleAndAtClose) {
  auto st = create_and_open(true);
  EXPECT_GT(fill_and_overwrite(*st, 2), 0u);
  // A second without a change: the maintenance thread punches the pool.
  clock_.advance(std::chrono::seconds(2));
  test::wait_until([&] { return st->stats().reuse_pool_bytes == 0; });
  DeviceStats s = st->stats();
  EXPECT_EQ(s.reuse_pool_bytes, 0u);
  expect_round(*st, 2);
  ASSERT_TRUE(st->close().is_ok());
  st.reset();
  st = open_with(false);
  expect_round(*st, 2);
  // At close, whatever the pool holds is punched too.
  EXPECT_GT(fill_and_overwrite(*st, 1), 0u);
  ASSERT_TRUE(st->close().is_ok());
  st.reset();
  st = reopen();
  s = st->stats();
  expect_round(*st, 1);
  // Live data plus metadata and the open segment; no pool left behind.
  EXPECT_LT(s.host_file_bytes, s.stored_bytes * 1.34 + (5u << 20));
}

TEST_F(StoreTest, SecondWriterIsRefused) {
  auto st = make();
  OpenOptions o;
  auto second = ImageStore::open(path_, o);
  ASSERT_FALSE(second.is_ok());
  EXPECT_EQ(second.status().code(), Status::Code::kBusy);
  EXPECT_NE(second.status().message().find("in use"), std::string::npos);
  o.read_only = true;
  EXPECT_FALSE(ImageStore::open(path_, o).is_ok());
}

TEST_F(StoreTest, AnImageInUseIsNotReplaced) {
  auto st = make();
  std::vector<uint8_t> data(4096, 0x5a);
  ASSERT_TRUE(st->write_blocks(3, data).is_ok());
  FormatOptions f;
  f.capacity_bytes = 1 << 20;
  f.force = true;
  for (bool read_only : {false, true}) {
    if (read_only) {
      st.reset();
      st = reopen(true);
    }
    Status s = ImageStore::create(path_, f);
    EXPECT_EQ(s.code(), Status::Code::kBusy) << s.to_string();
    EXPECT_NE(s.message().find(path_ + ": image is in use by process"), std::string::npos) << s.message();
    EXPECT_FALSE(ImageStore::create_and_open(path_, f, OpenOptions{}).is_ok());
    std::vector<uint8_t> back(4096);
    ASSERT_TRUE(st->read_blocks(3, 1, back).is_ok()) << "the image in use was replaced";
    EXPECT_EQ(back, data);
  }
  st.reset();
  ASSERT_TRUE(ImageStore::create(path_, f).is_ok()) << "a closed image is replaced with --force";
  EXPECT_EQ(reopen()->block_count(), 256u);
}

TEST_F(StoreTest, CreateAndOpenHoldsTheNewImage) {
  FormatOptions f;
  f.capacity_bytes = 1 << 20;
  auto st = ImageStore::create_and_open(path_, f, OpenOptions{});
  ASSERT_TRUE(st.is_ok()) << st.status().to_string();
  EXPECT_EQ((*st)->info().path, path_) << "named after the image, not the temporary file";
  OpenOptions ro;
  ro.read_only = true;
  auto other = ImageStore::open(path_, ro);
  EXPECT_EQ(other.status().code(), Status::Code::kBusy) << "the new image was open to others before it was complete";
}

// Two formats give two different random UUIDs: RFC 4122 version 4, variant
// 1 (10xx), in the lower-case 8-4-4-4-12 text vblk-inspect prints.
TEST_F(StoreTest, EachFormatGetsItsOwnRandomUuid) {
  FormatOptions f;
  f.capacity_bytes = 1 << 20;
  std::vector<std::string> uuids;
  for (const std::string& path : {dir_.path("a"), dir_.path("b")}) {
    ASSERT_TRUE(ImageStore::create(path, f).is_ok());
    auto st = ImageStore::open(path, OpenOptions{});
    ASSERT_TRUE(st.is_ok()) << st.status().to_string();
    uuids.push_back((*st)->info().uuid);
  }
  const std::regex v4("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  for (const std::string& u : uuids) EXPECT_TRUE(std::regex_match(u, v4)) << u;
  EXPECT_NE(uuids[0], uuids[1]);
}

TEST_F(StoreTest, UnknownVersionIsRefused) {
  make().reset();
  std::fstream f(path_, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(8);
  char v[4] = {2, 0, 0, 0};
  f.write(v, 4);
  f.close();
  auto st = ImageStore::open(path_, {});
  ASSERT_FALSE(st.is_ok());
  EXPECT_EQ(st.status().code(), Status::Code::kNotSupported);
  EXPECT_NE(st.status().message().find("version 2"), std::string::npos);
}

TEST_F(StoreTest, CorruptedSuperblockIsRefused) {
  make().reset();
  std::fstream f(path_, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(60);
  f.put(0x7f);
  f.close();
  auto st = ImageStore::open(path_, {});
  ASSERT_FALSE(st.is_ok());
  EXPECT_TRUE(st.status().is_corruption()) << st.status().to_string();
}

TEST_F(StoreTest, CorruptedRecordIsCaughtOnReadAndByCheck) {
  auto st = make();
  auto data = test::pattern_blocks(4, 4096, 9);
  ASSERT_TRUE(st->write_blocks(40, data).is_ok());
  ASSERT_TRUE(st->corrupt_block(41).is_ok());
  ASSERT_TRUE(st->corrupt_block(41).is_ok());  // twice: still damaged, not flipped back
  std::vector<uint8_t> out(4096);
  auto s = st->read_blocks(41, 1, out);
  EXPECT_TRUE(s.is_corruption()) << s.to_string();
  EXPECT_NE(s.message().find("block 41"), std::string::npos);
  auto report = st->check().value();
  EXPECT_FALSE(report.clean());
  bool named = false;
  for (auto& p : report.problems) named |= p.has_block && p.block == 41;
  EXPECT_TRUE(named);
}

// check(opts) reports its progress after every record and page, its final
// counts equal the report's, and a false from the callback stops it with a
// partial report marked stopped.
TEST_F(StoreTest, CheckReportsProgressAndStopsWhenAsked) {
  auto st = make();
  for (uint64_t block : {0, 5000, 9000}) {  // one record each, on three index pages
    auto data = test::pattern_blocks(1, 4096, block);
    ASSERT_TRUE(st->write_blocks(block, data).is_ok());
  }
  ASSERT_TRUE(st->corrupt_block(5000).is_ok());
  std::vector<CheckProblem> found;
  std::vector<CheckProgress> seen;
  CheckOptions opts;
  opts.progress = [&](const CheckProgress& p) {
    seen.push_back(p);
    return true;
  };
  opts.on_problem = [&](const CheckProblem& p) { found.push_back(p); };
  auto full = st->check(opts).value();
  EXPECT_FALSE(full.stopped);
  EXPECT_EQ(full.records_checked, 3u);
  EXPECT_EQ(full.blocks_checked, 3u);
  ASSERT_EQ(full.problems.size(), 1u);
  EXPECT_EQ(full.problems[0].block, 5000u);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].what, full.problems[0].what);
  ASSERT_FALSE(seen.empty());
  const CheckProgress& last = seen.back();
  EXPECT_GE(last.index_pages_total, 2u);
  EXPECT_EQ(last.index_pages_checked, last.index_pages_total);
  EXPECT_EQ(last.records_checked, full.records_checked);
  EXPECT_EQ(last.blocks_checked, full.blocks_checked);
  EXPECT_EQ(last.problems, 1u);
  EXPECT_GT(last.bytes_read, 0u);
  EXPECT_GE(seen.size(), size_t{last.records_checked + last.index_pages_total});

  int calls = 0;
  opts.on_problem = nullptr;
  opts.progress = [&](const CheckProgress&) { return ++calls < 2; };
  auto part = st->check(opts).value();
  EXPECT_TRUE(part.stopped);
  EXPECT_EQ(calls, 2);
  EXPECT_LT(part.records_checked, full.records_checked);

  auto plain = st->check().value();  // unchanged for callers without options
  EXPECT_FALSE(plain.stopped);
  EXPECT_EQ(plain.blocks_checked, full.blocks_checked);
}

// A read checks and decodes a record with a unit table (one per
// kDecodeUnit of its blocks) only in the units it needs: chained units up
// to the one that holds the last block it needs, independent units only
// those that hold its blocks. Every block must come back right; damage must
// fail every read that needs the damaged unit, while reads of the other
// units still succeed (chained: only those before it); and check(), which
// reads records whole, must name the damaged block.
void StoreTest::reads_check_and_decode_only_the_units_they_need(bool independent) {
  auto st = independent ? make() : make_chained();
  constexpr uint64_t kUnit = store::kDecodeUnit / 4096;  // blocks per unit
  static_assert(32 % kUnit == 0 && 32 / kUnit >= 4, "the record must hold 4 units or more");
  auto data = test::half_compressible_blocks(32, 4096, 21);  // one 128 KiB record
  ASSERT_TRUE(st->write_blocks(64, data).is_ok());
  const auto loc = st->locate(64).value();
  ASSERT_TRUE(loc.compressed && loc.unit_table);
  ASSERT_EQ(loc.independent_units, independent);
  ASSERT_EQ(loc.record_offset, st->locate(95).value().record_offset);
  auto read_matches = [&](uint64_t first, uint64_t count) {
    std::vector<uint8_t> out(count * 4096);
    Status s = st->read_blocks(64 + first, count, out);
    if (!s) return s;
    if (!std::equal(out.begin(), out.end(), data.begin() + static_cast<std::ptrdiff_t>(first * 4096)))
      return Status::invalid_argument("read returned wrong data");  // not a corruption error
    return Status::ok();
  };
  for (uint64_t first = 0; first < 32; ++first)
    for (uint64_t count : {1, 3, 9}) {
      if (first + count > 32) continue;
      SCOPED_TRACE("blocks " + std::to_string(first) + "+" + std::to_string(count));
      EXPECT_TRUE(read_matches(first, count).is_ok());
    }
  // Damage in unit 2 (blocks 2 * kUnit to 3 * kUnit - 1).
  const uint64_t start = 2 * kUnit, damaged = start + kUnit / 2, after = 3 * kUnit;
  ASSERT_TRUE(st->corrupt_block(64 + damaged).is_ok());
  for (uint64_t first : {uint64_t{0}, kUnit - 1, kUnit, start - 1})
    EXPECT_TRUE(read_matches(first, 1).is_ok()) << "block " << first;
  EXPECT_TRUE(read_matches(1, start - 1).is_ok());
  std::vector<std::pair<uint64_t, uint64_t>> failing{{start, 1}, {damaged, 1}, {1, start}, {0, 32}, {after - 1, 2}};
  // The units after the damaged one: independent, they read on their own.
  const std::vector<std::pair<uint64_t, uint64_t>> later{{after, 1}, {31, 1}, {after, kUnit}};
  for (auto [first, count] : later) {
    if (independent)
      EXPECT_TRUE(read_matches(first, count).is_ok()) << "blocks " << first << "+" << count;
    else
      failing.emplace_back(first, count);
  }
  for (auto [first, count] : failing) {
    Status s = read_matches(first, count);
    EXPECT_TRUE(s.is_corruption()) << "blocks " << first << "+" << count << ": " << s.to_string();
    EXPECT_NE(s.message().find("unit 2 of the payload: checksum mismatch"), std::string::npos) << s.message();
  }
  auto report = st->check().value();
  EXPECT_FALSE(report.clean());
  bool named = false;
  for (auto& p : report.problems) named |= p.has_block && p.block == 64 + damaged;
  EXPECT_TRUE(named);
}
TEST_F(StoreTest, ReadsCheckAndDecodeOnlyTheChainedUnitsTheyNeed) {
  reads_check_and_decode_only_the_units_they_need(false);
}
TEST_F(StoreTest, ReadsCheckAndDecodeOnlyTheIndependentUnitsTheyNeed) {
  reads_check_and_decode_only_the_units_they_need(true);
}

// Units that compress unevenly: the units of blocks 0-23 hold mostly random
// bytes, those of blocks 24-31 compress to almost nothing, so the first
// read's guess for block 20 (the record's length shared evenly among its
// units) falls short of the end of block 20's unit and a second read
// fetches the rest.
TEST_F(StoreTest, ReadsPastTheGuessWhenUnitsCompressUnevenly) {
  auto st = make_chained();  // (a read of independent units reads the table first, then exactly what it needs)
  auto data = test::random_bytes(32 * 4096, 31);
  // Compressible where the incompressibility samples look (blocks 0 and
  // 16) and in the last quarter (blocks 24-31).
  for (uint64_t b : {0, 16, 24, 25, 26, 27, 28, 29, 30, 31})
    std::fill(data.begin() + static_cast<std::ptrdiff_t>(b * 4096),
              data.begin() + static_cast<std::ptrdiff_t>((b + 1) * 4096), static_cast<uint8_t>(b));
  ASSERT_TRUE(st->write_blocks(0, data).is_ok());
  const auto loc = st->locate(20).value();
  ASSERT_TRUE(loc.compressed);
  ASSERT_GT(loc.record_length, 80u * 1024);  // units 0-2 barely compress: unit 2 ends past 3/4 of the record
  for (uint64_t b : {20, 23, 5, 31}) {
    std::vector<uint8_t> out(4096);
    ASSERT_TRUE(st->read_blocks(b, 1, out).is_ok()) << "block " << b;
    EXPECT_TRUE(std::equal(out.begin(), out.end(), data.begin() + static_cast<std::ptrdiff_t>(b * 4096))) << b;
  }
}

// The image file cut inside a record while the store has it open: a read
// that needs the units past the cut fails as damage (the second read finds
// the end of the file), one that needs only the units before it succeeds;
// with either layout.
void StoreTest::read_of_a_record_cut_by_the_end_of_the_file_fails(bool independent) {
  auto st = independent ? make() : make_chained();
  auto data = test::half_compressible_blocks(32, 4096, 23);  // one 128 KiB record
  ASSERT_TRUE(st->write_blocks(0, data).is_ok());
  const auto loc = st->locate(0).value();
  ASSERT_TRUE(loc.compressed);
  ASSERT_EQ(loc.independent_units, independent);
  // Past the header, the table and a third of the frame: past the units of
  // blocks 0-7 (a quarter), before those of blocks 16-31.
  const size_t table = format::unit_table_size(static_cast<uint32_t>(32 * 4096 / store::kDecodeUnit));
  const uint64_t cut =
      loc.record_offset + format::kRecordHeaderSize + table + (loc.stored_payload - table) / 3;
  ASSERT_LE(cut + 1, std::filesystem::file_size(path_));
  std::filesystem::resize_file(path_, cut);
  std::vector<uint8_t> out(4096);
  ASSERT_TRUE(st->read_blocks(2, 1, out).is_ok());
  EXPECT_TRUE(std::equal(out.begin(), out.end(), data.begin() + 2 * 4096));
  for (uint64_t b : {20, 31}) {
    Status s = st->read_blocks(b, 1, out);
    EXPECT_TRUE(s.is_corruption()) << "block " << b << ": " << s.to_string();
    EXPECT_NE(s.message().find("truncated at end of file"), std::string::npos) << s.message();
  }
}
TEST_F(StoreTest, ReadOfAChainedRecordCutByTheEndOfTheFileFails) {
  read_of_a_record_cut_by_the_end_of_the_file_fails(false);
}
TEST_F(StoreTest, ReadOfAnIndependentRecordCutByTheEndOfTheFileFails) {
  read_of_a_record_cut_by_the_end_of_the_file_fails(true);
}

// A unit table whose head claims more units than the record holds: a read
// of one block (the table read first) and a whole read both refuse it.
TEST_F(StoreTest, ReadRefusesAUnitTableLongerThanItsRecord) {
  auto st = make();
  auto data = test::half_compressible_blocks(32, 4096, 24);
  ASSERT_TRUE(st->write_blocks(0, data).is_ok());
  const auto loc = st->locate(0).value();
  ASSERT_TRUE(loc.compressed);
  {
    auto file = io::open_posix_file(path_, true, false, io::LockMode::kNone);
    ASSERT_TRUE(file.is_ok());
    std::array<uint8_t, 4> count;
    format::put_u32(count.data(), 1u << 20);
    ASSERT_TRUE((*file)->write_at(loc.record_offset + format::kRecordHeaderSize + 4, count).is_ok());
  }
  std::vector<uint8_t> out(32 * 4096);
  Status one = st->read_blocks(1, 1, std::span<uint8_t>(out.data(), 4096));
  EXPECT_TRUE(one.is_corruption()) << one.to_string();
  EXPECT_NE(one.message().find("unit table longer than the payload"), std::string::npos) << one.message();
  Status all = st->read_blocks(0, 32, out);
  EXPECT_TRUE(all.is_corruption()) << all.to_string();
}

// Incompressible data is stored raw in records of 32 KiB (8 blocks), read
// straight into the read's buffer past the header: damage and a file cut
// inside a record are still found, and the blocks of other records read.
TEST_F(StoreTest, RawRecordReadsFindDamageAndTheEndOfTheFile) {
  auto st = make();
  auto data = test::random_bytes(64 * 4096, 25);
  ASSERT_TRUE(st->write_blocks(0, data).is_ok());
  const auto first = st->locate(0).value(), last = st->locate(56).value();
  ASSERT_FALSE(first.compressed);
  EXPECT_EQ(first.record_blocks, 8u);
  EXPECT_EQ(first.record_length, format::record_total_length(8 * 4096));
  EXPECT_EQ(last.record_first_block, 56u);
  ASSERT_GT(last.record_offset, first.record_offset);
  auto block_reads_back = [&](uint64_t block) {
    std::vector<uint8_t> out(4096);
    Status s = st->read_blocks(block, 1, out);
    if (s && !std::equal(out.begin(), out.end(), data.begin() + static_cast<std::ptrdiff_t>(block * 4096)))
      return Status::invalid_argument("read returned wrong data");  // not a corruption error
    return s;
  };
  for (uint64_t block : {0, 7, 8, 20, 31, 32, 63}) EXPECT_TRUE(block_reads_back(block).is_ok()) << block;
  ASSERT_TRUE(st->corrupt_block(5).is_ok());
  for (uint64_t block : {5, 7}) {
    Status s = block_reads_back(block);
    EXPECT_TRUE(s.is_corruption()) << block << ": " << s.to_string();
    EXPECT_NE(s.message().find("checksum mismatch"), std::string::npos) << s.message();
  }
  EXPECT_TRUE(block_reads_back(8).is_ok());
  // A damaged header (record of blocks 8-15) is refused before its payload is read.
  {
    auto file = io::open_posix_file(path_, true, false, io::LockMode::kNone);
    ASSERT_TRUE(file.is_ok());
    const uint64_t at = st->locate(8).value().record_offset + 24;  // in `first`
    std::array<uint8_t, 1> byte;
    ASSERT_TRUE((*file)->read_at(at, byte).is_ok());
    byte[0] ^= 1;
    ASSERT_TRUE((*file)->write_at(at, byte).is_ok());
  }
  Status damaged = block_reads_back(9);
  EXPECT_TRUE(damaged.is_corruption()) << damaged.to_string();
  EXPECT_TRUE(block_reads_back(16).is_ok());
  // Cut inside the last record's payload, then inside its header.
  for (uint64_t into : {uint64_t{format::kRecordHeaderSize + 2 * 4096}, uint64_t{10}}) {
    const uint64_t cut = last.record_offset + into;
    ASSERT_LT(cut, std::filesystem::file_size(path_));
    std::filesystem::resize_file(path_, cut);
    Status s = block_reads_back(60);
    EXPECT_TRUE(s.is_corruption()) << into << ": " << s.to_string();
    EXPECT_NE(s.message().find("truncated at end of file"), std::string::npos) << into << ": " << s.message();
  }
  EXPECT_TRUE(block_reads_back(40).is_ok());
}

// An image made before unit tables (feature bit clear) keeps being written
// without them, and reads back.
TEST_F(StoreTest, ImageWithoutUnitTablesIsWrittenWithout) {
  make().reset();
  ASSERT_TRUE(test::edit_superblock(path_, [](format::Superblock& sb) {
    EXPECT_TRUE(sb.incompat_features & format::kFeatureUnitTables);
    sb.incompat_features = 0;
  }));
  auto st = reopen();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->info().incompat_features, 0u);
  auto data = test::half_compressible_blocks(32, 4096, 22);
  ASSERT_TRUE(st->write_blocks(0, data).is_ok());
  auto loc = st->locate(0).value();
  ASSERT_TRUE(loc.compressed);
  st.reset();
  std::ifstream in(path_, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(loc.record_offset + 5));
  EXPECT_EQ(in.get(), format::kRecordFlagCompressed);
  st = reopen();
  ASSERT_TRUE(st);
  for (uint64_t b = 0; b < 32; b += 5) {
    std::vector<uint8_t> out(4096);
    ASSERT_TRUE(st->read_blocks(b, 1, out).is_ok());
    EXPECT_TRUE(std::equal(out.begin(), out.end(), data.begin() + static_cast<std::ptrdiff_t>(b * 4096)));
  }
}

TEST_F(StoreTest, StateRunsCoverDevice) {
  auto st = make(16 << 20);
  ASSERT_TRUE(st->write_blocks(5, test::pattern_blocks(3, 4096, 1)).is_ok());
  ASSERT_TRUE(st->trim_blocks(6, 1).is_ok());
  ASSERT_TRUE(st->set_bad(100, 2, true).is_ok());
  std::vector<std::tuple<uint64_t, uint64_t, BlockState>> runs;
  ASSERT_TRUE(st->state_runs(0, st->block_count(), [&](uint64_t f, uint64_t c, BlockState s) {
    runs.emplace_back(f, c, s);
  }).is_ok());
  std::vector<std::tuple<uint64_t, uint64_t, BlockState>> want = {
      {0, 5, BlockState::kFree},   {5, 1, BlockState::kUsed}, {6, 1, BlockState::kTrimmed},
      {7, 1, BlockState::kUsed},   {8, 92, BlockState::kFree}, {100, 2, BlockState::kBad},
      {102, 4096 - 102, BlockState::kFree}};
  EXPECT_EQ(runs, want);
}

TEST_F(StoreTest, EveryBlockSizeRoundTrips) {
  for (uint32_t bs = 512; bs <= 65536; bs *= 2) {
    std::filesystem::remove(path_);
    auto st = make(8 << 20, bs);
    auto data = test::half_compressible_blocks(3, bs, bs);
    ASSERT_TRUE(st->write_blocks(1, data).is_ok()) << bs;
    st.reset();
    st = reopen();
    std::vector<uint8_t> out(data.size());
    ASSERT_TRUE(st->read_blocks(1, 3, out).is_ok()) << bs;
    EXPECT_EQ(out, data) << bs;
  }
}

TEST_F(StoreTest, CreateRejectsBadGeometry) {
  FormatOptions f;
  f.capacity_bytes = 0;
  EXPECT_FALSE(ImageStore::create(path_, f).is_ok());
  f.capacity_bytes = 4097;
  EXPECT_FALSE(ImageStore::create(path_, f).is_ok());
  f.capacity_bytes = 1 << 20;
  f.block_size = 1000;
  EXPECT_FALSE(ImageStore::create(path_, f).is_ok());
  f.block_size = 131072;
  EXPECT_FALSE(ImageStore::create(path_, f).is_ok());
  f.block_size = 4096;
  f.capacity_bytes = 1ull << 51;
  EXPECT_FALSE(ImageStore::create(path_, f).is_ok());
  EXPECT_FALSE(std::filesystem::exists(path_));
}

TEST_F(StoreTest, CreateRefusesExistingFileWithoutForce) {
  make().reset();
  auto before = std::filesystem::file_size(path_);
  FormatOptions f;
  f.capacity_bytes = 1 << 20;
  EXPECT_FALSE(ImageStore::create(path_, f).is_ok());
  EXPECT_EQ(std::filesystem::file_size(path_), before);
  f.force = true;
  EXPECT_TRUE(ImageStore::create(path_, f).is_ok());
}

TEST_F(StoreTest, ConcurrentWritersReadersAndReclaim) {
  // Four writers own disjoint block ranges and overwrite them repeatedly
  // (forcing reclaim); each verifies its own blocks after every write while
  // a fifth thread reads everywhere. Small device: the cleaner runs often.
  auto st = make(32 << 20);
  const uint64_t per_thread = st->block_count() / 4;
  std::atomic<bool> failed{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(t);
      std::vector<uint8_t> out(8 * 4096);
      for (int i = 0; i < 600 && !failed; ++i) {
        uint64_t n = 1 + rng() % 8;
        uint64_t at = t * per_thread + rng() % (per_thread - n);
        auto data = test::half_compressible_blocks(n, 4096, rng());
        if (!st->write_blocks(at, data).is_ok()) failed = true;
        std::span<uint8_t> got(out.data(), n * 4096);
        if (!st->read_blocks(at, n, got).is_ok() || !std::equal(got.begin(), got.end(), data.begin()))
          failed = true;
      }
    });
  }
  threads.emplace_back([&] {
    std::mt19937_64 rng(99);
    std::vector<uint8_t> out(4096);
    for (int i = 0; i < 3000 && !failed; ++i)
      if (!st->read_blocks(rng() % st->block_count(), 1, out).is_ok()) failed = true;
  });
  for (auto& th : threads) th.join();
  EXPECT_FALSE(failed);
  auto report = st->check();
  ASSERT_TRUE(report.is_ok());
  EXPECT_TRUE(report->clean());
}

}  // namespace
}  // namespace vblk

namespace vblk {
namespace {

// write_parts: pwritev on a host file, concatenation elsewhere; both must
// write exactly the parts back to back (empty parts included).
TEST(FileWriteParts, WritesTheConcatenationOfTheParts) {
  test::TempDir dir;
  auto posix = io::open_posix_file(dir.path("parts"), true, true, io::LockMode::kNone);
  ASSERT_TRUE(posix.is_ok()) << posix.status().to_string();
  io::MemFile mem("parts");
  const auto a = test::random_bytes(100, 1), b = test::random_bytes(70000, 2), c = test::random_bytes(3, 3);
  const std::vector<uint8_t> none;
  // More parts than the POSIX file keeps on the stack.
  const std::array<std::span<const uint8_t>, 6> parts{std::span<const uint8_t>(a), std::span<const uint8_t>(none),
                                                      std::span<const uint8_t>(b), std::span<const uint8_t>(c),
                                                      std::span<const uint8_t>(a), std::span<const uint8_t>(c)};
  std::vector<uint8_t> want(a);
  want.insert(want.end(), b.begin(), b.end());
  want.insert(want.end(), c.begin(), c.end());
  want.insert(want.end(), a.begin(), a.end());
  want.insert(want.end(), c.begin(), c.end());
  for (io::File* f : {static_cast<io::File*>(posix->get()), static_cast<io::File*>(&mem)}) {
    ASSERT_TRUE(f->write_parts(5, parts).is_ok());
    std::vector<uint8_t> got(want.size());
    auto n = f->read_at(5, got);
    ASSERT_TRUE(n.is_ok());
    EXPECT_EQ(*n, want.size());
    EXPECT_EQ(got, want);
  }
}

// read_parts: preadv on a host file, part by part elsewhere; both fill the
// parts back to back (empty parts included) and stop at the end of the file,
// where the count says how far they got.
TEST(FileReadParts, FillsThePartsBackToBackAndStopsAtTheEnd) {
  test::TempDir dir;
  auto posix = io::open_posix_file(dir.path("parts"), true, true, io::LockMode::kNone);
  ASSERT_TRUE(posix.is_ok()) << posix.status().to_string();
  io::MemFile mem("parts");
  const auto data = test::random_bytes(70200, 4);
  for (io::File* f : {static_cast<io::File*>(posix->get()), static_cast<io::File*>(&mem)}) {
    ASSERT_TRUE(f->write_at(0, data).is_ok());
    // More parts than the POSIX file keeps on the stack.
    std::vector<uint8_t> a(64), none, b(70000), c(100), d(30), e(7);
    const std::array<std::span<uint8_t>, 6> parts{a, none, b, c, d, e};
    auto n = f->read_parts(3, parts);
    ASSERT_TRUE(n.is_ok()) << n.status().to_string();
    // 70197 bytes from offset 3: a to d whole (70194), then 3 of e's 7.
    EXPECT_EQ(*n, data.size() - 3);
    std::vector<uint8_t> got(a);
    for (const auto* p : {&b, &c, &d, &e}) got.insert(got.end(), p->begin(), p->end());
    EXPECT_EQ(std::vector<uint8_t>(got.begin(), got.begin() + static_cast<std::ptrdiff_t>(*n)),
              std::vector<uint8_t>(data.begin() + 3, data.end()));
    EXPECT_EQ(std::vector<uint8_t>(e.begin() + 3, e.end()), std::vector<uint8_t>(4, 0))
        << "bytes past the end of the file are left alone";
  }
}

}  // namespace
}  // namespace vblk
