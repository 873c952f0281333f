// Member sets heal what their parity can tell: a data chunk garbled in a
// member file (no read error, wrong bytes) is found by the records that
// fail their checksums, rebuilt from parity, written back on its member
// and counted in its `errors`, persisted; two garbled chunks of one stripe
// are healed together when the code can rebuild the two; past that the
// reads fail and never return wrong bytes. check_parity finds a garbled
// parity chunk and, asked to, writes it again from the data.
#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "format/member_set.h"
#include "store/member_backend.h"
#include "store/member_set_open.h"
#include "member_test_util.h"
#include "test_util.h"
#include "vblk/image_store.h"

namespace vblk {
namespace {

constexpr uint32_t kBlock = 4096;
constexpr uint32_t kChunk = 4096;
// A stripe well inside segment 0 (64 rows of 4 data chunks): records, not
// the segment header.
constexpr uint64_t kStripe = 9;

FormatOptions member_format() {
  FormatOptions f = test::small_member_format();
  f.members.chunk_size = kChunk;
  return f;
}

std::vector<uint8_t> block_data(uint64_t block) { return test::member_block_data(block, 7); }

// Maintenance on the caller's thread: nothing reads the members behind the
// test's back.
Result<test::MemberStore> open_with_backend(const std::string& path, bool read_only) {
  OpenOptions oo;
  oo.read_only = read_only;
  oo.background_maintenance = false;
  return test::open_member_store(path, oo);
}

class MemberHealTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.path("disk.img");
    ASSERT_TRUE(ImageStore::create(path_, member_format()));
    auto st = ImageStore::open(path_, {});
    ASSERT_TRUE(st) << st.status().to_string();
    // 400 blocks in order: segment 0 full of records.
    for (uint64_t b = 0; b < 400; ++b) ASSERT_TRUE((*st)->write_blocks(b, block_data(b)));
    ASSERT_TRUE((*st)->close());
  }

  std::string member_path(uint32_t m) { return test::member_file(path_, m); }
  uint64_t chunk_at() const { return format::member_data_start(kChunk) + kStripe * kChunk; }

  std::vector<uint8_t> read_chunk(uint32_t m) {
    std::vector<uint8_t> b(kChunk);
    std::ifstream f(member_path(m), std::ios::binary);
    f.seekg(static_cast<std::streamoff>(chunk_at()));
    f.read(reinterpret_cast<char*>(b.data()), kChunk);
    EXPECT_TRUE(f) << member_path(m);
    return b;
  }
  // Flips every byte of kStripe's chunk on member m: no read error, wrong bytes.
  void garble(uint32_t m) {
    std::vector<uint8_t> b = read_chunk(m);
    for (uint8_t& c : b) c ^= 0x5a;
    std::fstream f(member_path(m), std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(static_cast<std::streamoff>(chunk_at()));
    f.write(reinterpret_cast<const char*>(b.data()), kChunk);
    ASSERT_TRUE(f) << member_path(m);
  }

  // Reads every block; counts the failures, and fails the test on any
  // block read without error but wrong.
  uint64_t read_all(ImageStore& st) {
    uint64_t failed = 0;
    std::vector<uint8_t> got(kBlock);
    for (uint64_t b = 0; b < 400; ++b) {
      if (!st.read_blocks(b, 1, got)) {
        failed++;
        continue;
      }
      EXPECT_EQ(got, block_data(b)) << "block " << b << " read wrong bytes";
    }
    return failed;
  }

  std::vector<uint64_t> errors_on_disk() {
    auto b = store::open_member_set_path(path_, true);
    EXPECT_TRUE(b) << b.status().to_string();
    std::vector<uint64_t> out;
    for (const auto& info : (*b)->member_info()) out.push_back(info.entry.errors);
    return out;
  }

  test::TempDir dir_;
  std::string path_;
};

TEST_F(MemberHealTest, GarbledDataChunkIsHealedRewrittenAndCounted) {
  const std::vector<uint8_t> good = read_chunk(1);
  garble(1);
  {
    auto o = open_with_backend(path_, false);
    ASSERT_TRUE(o) << o.status().to_string();
    EXPECT_EQ(read_all(*o->store), 0u);
    ASSERT_TRUE(o->store->close());
  }
  EXPECT_EQ(read_chunk(1), good) << "the healed chunk was not written back";
  const std::vector<uint64_t> errors = errors_on_disk();
  EXPECT_EQ(errors, (std::vector<uint64_t>{0, 1, 0, 0, 0, 0, 0}));
}

TEST_F(MemberHealTest, ReadOnlyHealsTheReadButWritesNothing) {
  garble(2);
  const std::vector<uint8_t> garbled = read_chunk(2);
  {
    auto o = open_with_backend(path_, true);
    ASSERT_TRUE(o) << o.status().to_string();
    EXPECT_EQ(read_all(*o->store), 0u);
    ASSERT_TRUE(o->store->close());
  }
  EXPECT_EQ(read_chunk(2), garbled);
  EXPECT_EQ(errors_on_disk(), (std::vector<uint64_t>(7, 0)));
}

TEST_F(MemberHealTest, TwoChunksOfAGroupAreHealedTogetherWithGlobalParity) {
  garble(0);
  garble(1);
  {
    auto o = open_with_backend(path_, false);
    ASSERT_TRUE(o) << o.status().to_string();
    EXPECT_EQ(read_all(*o->store), 0u);
    ASSERT_TRUE(o->store->close());
  }
  const std::vector<uint64_t> errors = errors_on_disk();
  EXPECT_EQ(errors[0], 1u);
  EXPECT_EQ(errors[1], 1u);
}

TEST_F(MemberHealTest, BeyondWhatParityTellsReadsFailNeverWrong) {
  // Group 0's two data chunks and the global parity: no candidate passes.
  garble(0);
  garble(1);
  garble(6);
  {
    auto o = open_with_backend(path_, false);
    ASSERT_TRUE(o) << o.status().to_string();
    EXPECT_GT(read_all(*o->store), 0u);  // and none wrong (read_all)
    ASSERT_TRUE(o->store->close());
  }
  EXPECT_EQ(errors_on_disk(), (std::vector<uint64_t>(7, 0)));
}

TEST_F(MemberHealTest, CheckParityFindsAGarbledParityChunkAndRewritesIt) {
  garble(5);  // group 1's local parity
  {
    auto o = open_with_backend(path_, true);
    ASSERT_TRUE(o);
    auto r = o->backend->check_parity(false);
    ASSERT_TRUE(r) << r.status().to_string();
    EXPECT_GT(r->rows_checked, kStripe);
    ASSERT_EQ(r->mismatches.size(), 1u);
    EXPECT_EQ(r->mismatches[0].member, 5u);
    EXPECT_EQ(r->mismatches[0].stripe, kStripe);
    EXPECT_EQ(r->mismatches[0].offset, chunk_at());
    EXPECT_FALSE(r->mismatches[0].rewritten);
    ASSERT_TRUE(o->store->close());
  }
  {
    auto o = open_with_backend(path_, false);
    ASSERT_TRUE(o);
    auto r = o->backend->check_parity(true);
    ASSERT_TRUE(r) << r.status().to_string();
    ASSERT_EQ(r->mismatches.size(), 1u);
    EXPECT_TRUE(r->mismatches[0].rewritten);
    auto again = o->backend->check_parity(false);
    ASSERT_TRUE(again);
    EXPECT_TRUE(again->mismatches.empty());
    ASSERT_TRUE(o->store->close());
  }
}

}  // namespace
}  // namespace vblk
