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

// compress_payload at image level `image_level` gives exactly zstd's output
// at `expected_level`, which decompresses to the input.
void expect_compressed_at(std::span<const uint8_t> in, int image_level, int expected_level) {
  std::vector<uint8_t> out;
  ASSERT_TRUE(compress_payload(in, image_level, &out)) << "image level " << image_level;
  EXPECT_EQ(out, zstd_at(in, expected_level)) << "image level " << image_level;
  EXPECT_EQ(roundtrip(out, in.size()), std::vector<uint8_t>(in.begin(), in.end()));
}

// Half-random, half-constant data: neither level 3 nor level 1 saves 1%
// over the fast level, whose literals are not entropy-coded.
void expect_fast_level_pays_alone(std::span<const uint8_t> in) {
  const double fast = static_cast<double>(zstd_at(in, -1).size());
  ASSERT_GT(zstd_at(in, 1).size(), 0.99 * fast) << "the test data must not favour level 1";
  ASSERT_GT(zstd_at(in, 3).size(), 0.99 * fast) << "the test data must not favour level 3";
}

TEST(Compression, HalfRandomDataGetsTheFastLevel) {
  auto in = test::half_compressible_blocks(32, 4096, 7);
  expect_fast_level_pays_alone(in);
  for (int level : {1, 3}) expect_compressed_at(in, level, -1);
}

TEST(Compression, TextAtLevelOneKeepsLevelOne) {
  auto in = text(128 * 1024, 4);
  ASSERT_LT(zstd_at(in, 1).size(), 0.97 * zstd_at(in, -1).size()) << "the test data must favour level 1";
  expect_compressed_at(in, 1, 1);
}

TEST(Compression, TextGetsTheLevel) {
  auto in = text(128 * 1024, 1);
  ASSERT_LT(zstd_at(in, 3).size(), 0.97 * zstd_at(in, 1).size()) << "the test data must favour level 3";
  expect_compressed_at(in, 3, 3);
}

TEST(Compression, HighLevelsAreNotAdaptive) {
  auto in = test::half_compressible_blocks(8, 4096, 9);
  expect_compressed_at(in, 12, 12);
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
    // Trial on half-random data: the fast level kept, and used for the next 15.
    expect_fast_level_pays_alone(test::half_compressible_blocks(1, 4096, 100));
    for (int i = 0; i < 16; ++i) {
      SCOPED_TRACE("payload " + std::to_string(i));
      expect_compressed_at(test::half_compressible_blocks(1, 4096, 100 + i), 3, -1);
    }
    // The 17th is a trial again: text makes the level pay, and it is kept.
    auto in = text(4096, 2);
    ASSERT_LT(zstd_at(in, 3).size(), 0.99 * zstd_at(in, 1).size()) << "the test data must favour level 3";
    expect_compressed_at(in, 3, 3);
    // And the next small payload uses the level without a trial.
    expect_compressed_at(text(4096, 3), 3, 3);
  }).join();
}

TEST(Compression, SmallPayloadVerdictsAreKeptPerLevel) {
  std::thread([] {
    // A trial for level 3 on text picks level 3 ...
    auto in = text(4096, 6);
    ASSERT_LT(zstd_at(in, 3).size(), 0.99 * zstd_at(in, 1).size()) << "the test data must favour level 3";
    expect_compressed_at(in, 3, 3);
    // ... which a level-1 payload on the same thread must not follow.
    auto page = text(4096, 7);
    ASSERT_LT(zstd_at(page, 1).size(), 0.99 * zstd_at(page, -1).size()) << "the test data must favour level 1";
    expect_compressed_at(page, 1, 1);
    // And level 3's verdict still holds without a new trial.
    expect_compressed_at(text(4096, 8), 3, 3);
  }).join();
}

}  // namespace
}  // namespace vblk::store
