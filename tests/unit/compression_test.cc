// The choice of zstd level per payload (src/store/compression.cc).
#include <gtest/gtest.h>
#include <zstd.h>

#include <string>
#include <thread>

#include "store/store_impl.h"
#include "test_util.h"

namespace vblk::store {
namespace {

std::vector<uint8_t> zstd_at(std::span<const uint8_t> in, int level) {
  std::vector<uint8_t> out(ZSTD_compressBound(in.size()));
  out.resize(ZSTD_compress(out.data(), out.size(), in.data(), in.size(), level));
  return out;
}

// Words drawn with a skewed distribution: text that level 3 compresses
// clearly better than level 1.
std::vector<uint8_t> text(size_t n, uint64_t seed) {
  static const char* words[] = {"block", "device", "the", "record", "segment", "checkpoint", "of", "a", "cleaner",
                                "writes", "index", "page", "log", "replay", "zstd", "level", "host", "file"};
  std::mt19937_64 rng(seed);
  std::string s;
  while (s.size() < n) {
    s += words[(rng() % 18) * (rng() % 18) / 18];
    s += rng() % 9 ? " " : ".\n";
  }
  return std::vector<uint8_t>(s.begin(), s.begin() + n);
}

std::vector<uint8_t> roundtrip(const std::vector<uint8_t>& stored, size_t raw_len) {
  std::vector<uint8_t> raw(raw_len);
  EXPECT_TRUE(decompress_payload(stored, raw).is_ok());
  return raw;
}

TEST(Compression, HalfRandomDataGetsLevelOne) {
  // Level 3 saves nothing over level 1 on half-random, half-constant data.
  auto in = test::half_compressible_blocks(32, 4096, 7);
  std::vector<uint8_t> out;
  ASSERT_TRUE(compress_payload(in, 3, &out));
  EXPECT_EQ(out, zstd_at(in, 1));
  EXPECT_EQ(roundtrip(out, in.size()), in);
}

TEST(Compression, TextGetsTheLevel) {
  auto in = text(128 * 1024, 1);
  ASSERT_LT(zstd_at(in, 3).size(), 0.97 * zstd_at(in, 1).size()) << "the test data must favour level 3";
  std::vector<uint8_t> out;
  ASSERT_TRUE(compress_payload(in, 3, &out));
  EXPECT_EQ(out, zstd_at(in, 3));
  EXPECT_EQ(roundtrip(out, in.size()), in);
}

TEST(Compression, HighLevelsAreNotAdaptive) {
  auto in = test::half_compressible_blocks(8, 4096, 9);
  std::vector<uint8_t> out;
  ASSERT_TRUE(compress_payload(in, 12, &out));
  EXPECT_EQ(out, zstd_at(in, 12));
}

TEST(Compression, IncompressibleIsStoredRaw) {
  auto in = test::random_bytes(64 * 1024, 3);
  std::vector<uint8_t> out;
  EXPECT_FALSE(compress_payload(in, 3, &out));
  EXPECT_FALSE(compress_payload(test::random_bytes(4096, 4), 3, &out));
  EXPECT_FALSE(compress_payload(text(4096, 5), 0, &out));
}

TEST(Compression, SmallPayloadsFollowTheLastTrial) {
  // Each thread keeps its own verdict: run on fresh threads.
  std::thread([] {
    // Trial on half-random data: level 1 kept, and used for the next 15.
    for (int i = 0; i < 16; ++i) {
      auto in = test::half_compressible_blocks(1, 4096, 100 + i);
      std::vector<uint8_t> out;
      ASSERT_TRUE(compress_payload(in, 3, &out));
      EXPECT_EQ(out, zstd_at(in, 1)) << "payload " << i;
    }
    // The 17th is a trial again: text makes the level pay, and it is kept.
    auto in = text(4096, 2);
    ASSERT_LT(zstd_at(in, 3).size(), 0.99 * zstd_at(in, 1).size()) << "the test data must favour level 3";
    std::vector<uint8_t> out;
    ASSERT_TRUE(compress_payload(in, 3, &out));
    EXPECT_EQ(out, zstd_at(in, 3));
    // And the next small payload uses the level without a trial.
    auto next = text(4096, 3);
    ASSERT_TRUE(compress_payload(next, 3, &out));
    EXPECT_EQ(out, zstd_at(next, 3));
  }).join();
}

}  // namespace
}  // namespace vblk::store
