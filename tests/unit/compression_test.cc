// The choice of zstd level per payload (src/store/compression.cc).
#include <gtest/gtest.h>
#define ZSTD_STATIC_LINKING_ONLY  // ZSTD_decompressBegin/Continue: to see the frame's blocks
#include <zstd.h>

#include <string>
#include <thread>

#include "format/unit_table.h"
#include "store/compression.h"
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

// The frame a writer makes at `level` (a block per decode unit).
std::vector<uint8_t> frame_at(std::span<const uint8_t> in, int level) {
  std::vector<uint8_t> out(ZSTD_compressBound(in.size()));
  const size_t n = compress_frame(in, level, out);
  EXPECT_FALSE(ZSTD_isError(n)) << ZSTD_getErrorName(n);
  out.resize(ZSTD_isError(n) ? 0 : n);
  return out;
}

std::vector<uint8_t> roundtrip(const std::vector<uint8_t>& stored, size_t raw_len) {
  std::vector<uint8_t> raw(raw_len);
  EXPECT_TRUE(decompress_payload(stored, raw).is_ok());
  return raw;
}

// compress_payload at image level `image_level` gives exactly the frame at
// `expected_level`, which decompresses to the input.
void expect_compressed_at(std::span<const uint8_t> in, int image_level, int expected_level) {
  std::vector<uint8_t> out;
  ASSERT_TRUE(compress_payload(in, image_level, UnitLayout::kNone, &out)) << "image level " << image_level;
  EXPECT_EQ(out, frame_at(in, expected_level)) << "image level " << image_level;
  EXPECT_EQ(roundtrip(out, in.size()), std::vector<uint8_t>(in.begin(), in.end()));
}

constexpr int kFastest = kCandidateLevels.front();

// Half-random, half-constant data: no slower level saves 1% over the
// fastest, whose literals are not entropy-coded.
void expect_fast_level_pays_alone(std::span<const uint8_t> in) {
  const double fast = static_cast<double>(zstd_at(in, kFastest).size());
  for (int level : {-1, 1, 2, 3})
    ASSERT_GT(zstd_at(in, level).size(), 0.99 * fast) << "the test data must not favour level " << level;
}

TEST(Compression, HalfRandomDataGetsTheFastLevel) {
  // Each thread keeps its own verdicts: run on a fresh one.
  std::thread([] {
    auto in = test::half_compressible_blocks(32, 4096, 7);
    expect_fast_level_pays_alone(in);
    for (int level : {1, 3}) expect_compressed_at(in, level, kFastest);
  }).join();
}

// Random words of `length` bytes from a vocabulary of 64, back to back.
// 16-byte words: -5 skips matches that -1 finds, while entropy coding finds
// nothing in the literals. 5-byte words: level 2 looks for shorter matches
// than level 1 (in 4 KiB: from 4 bytes, against 5), and level 3 finds no
// more.
std::vector<uint8_t> random_words(size_t n, uint64_t seed, size_t length) {
  std::mt19937_64 rng(seed);
  std::vector<std::vector<uint8_t>> words(64, std::vector<uint8_t>(length));
  for (auto& w : words)
    for (auto& b : w) b = static_cast<uint8_t>(rng());
  std::vector<uint8_t> out;
  while (out.size() < n) {
    const auto& w = words[rng() % words.size()];
    out.insert(out.end(), w.begin(), w.end());
  }
  out.resize(n);
  return out;
}

TEST(Compression, DataThatPaysForLevelMinusOneGetsIt) {
  for (int image_level : {1, 3}) {
    // Each thread keeps its own verdicts: run on a fresh one.
    std::thread([image_level] {
      auto in = random_words(4096, 12, 16);
      ASSERT_LT(zstd_at(in, -1).size(), 0.99 * zstd_at(in, kFastest).size()) << "the test data must favour -1";
      for (int level : {1, 2, 3})
        ASSERT_GT(zstd_at(in, level).size(), 0.99 * zstd_at(in, -1).size()) << "must not favour level " << level;
      expect_compressed_at(in, image_level, -1);
    }).join();
  }
}

TEST(Compression, DataThatPaysForLevelTwoGetsIt) {
  // Each thread keeps its own verdicts: run on a fresh one.
  std::thread([] {
    auto in = random_words(4096, 13, 5);
    ASSERT_LT(zstd_at(in, 2).size(), 0.99 * zstd_at(in, 1).size()) << "the test data must favour level 2";
    ASSERT_GT(zstd_at(in, 3).size(), 0.99 * zstd_at(in, 2).size()) << "the test data must not favour level 3";
    expect_compressed_at(in, 3, 2);
    // A level-1 image does not try level 2.
    expect_compressed_at(in, 1, 1);
  }).join();
}

TEST(Compression, TextAtLevelOneKeepsLevelOne) {
  // Each thread keeps its own verdicts: run on a fresh one.
  std::thread([] {
    auto in = text(128 * 1024, 4);
    ASSERT_LT(zstd_at(in, 1).size(), 0.97 * zstd_at(in, -1).size()) << "the test data must favour level 1";
    expect_compressed_at(in, 1, 1);
  }).join();
}

TEST(Compression, TextGetsTheLevel) {
  // Each thread keeps its own verdicts: run on a fresh one.
  std::thread([] {
    auto in = text(128 * 1024, 1);
    for (int level : {1, 2})
      ASSERT_LT(zstd_at(in, 3).size(), 0.97 * zstd_at(in, level).size()) << "the test data must favour 3 over " << level;
    expect_compressed_at(in, 3, 3);
  }).join();
}

TEST(Compression, HighLevelsAreNotAdaptive) {
  auto in = test::half_compressible_blocks(8, 4096, 9);
  expect_compressed_at(in, 12, 12);
}

TEST(Compression, IncompressibleIsStoredRaw) {
  auto in = test::random_bytes(64 * 1024, 3);
  std::vector<uint8_t> out;
  EXPECT_FALSE(compress_payload(in, 3, UnitLayout::kNone, &out));
  EXPECT_FALSE(compress_payload(test::random_bytes(4096, 4), 3, UnitLayout::kNone, &out));
  EXPECT_FALSE(compress_payload(text(4096, 5), 0, UnitLayout::kNone, &out));
}

TEST(Compression, LargePayloadsFollowTheLastTrial) {
  std::thread([] {
    // A trial on half-random data keeps the fast level ...
    auto random_half = test::half_compressible_blocks(32, 4096, 31);
    expect_fast_level_pays_alone(random_half);
    expect_compressed_at(random_half, 3, kFastest);
    // ... for the next three, though text would pay for level 3 ...
    for (uint64_t i = 0; i < 3; ++i) {
      SCOPED_TRACE("payload " + std::to_string(i));
      auto in = text(128 * 1024, 40 + i);
      ASSERT_LT(zstd_at(in, 3).size(), 0.97 * zstd_at(in, -1).size()) << "the test data must favour level 3";
      expect_compressed_at(in, 3, kFastest);
    }
    // ... while incompressible data is still found on every payload.
    std::vector<uint8_t> out;
    EXPECT_FALSE(compress_payload(test::random_bytes(128 * 1024, 44), 3, UnitLayout::kNone, &out));
    // The fifth is a trial again: text gets level 3, and the next follow it.
    expect_compressed_at(text(128 * 1024, 45), 3, 3);
    expect_compressed_at(text(128 * 1024, 46), 3, 3);
  }).join();
}

TEST(Compression, SmallPayloadsFollowTheLastTrial) {
  // Each thread keeps its own verdict: run on fresh threads.
  std::thread([] {
    // Trial on half-random data: the fast level kept, and used for the next 15.
    expect_fast_level_pays_alone(test::half_compressible_blocks(1, 4096, 100));
    for (int i = 0; i < 16; ++i) {
      SCOPED_TRACE("payload " + std::to_string(i));
      expect_compressed_at(test::half_compressible_blocks(1, 4096, 100 + i), 3, kFastest);
    }
    // The 17th is a trial again: text makes the level pay, and it is kept.
    auto in = text(4096, 2);
    ASSERT_LT(zstd_at(in, 3).size(), 0.99 * zstd_at(in, 1).size()) << "the test data must favour level 3";
    expect_compressed_at(in, 3, 3);
    // And the next small payload uses the level without a trial.
    expect_compressed_at(text(4096, 3), 3, 3);
  }).join();
}

// Compresses `n` small half-random payloads, each of which must get the
// fastest level (a trial or not).
void half_random_payloads(int n, uint64_t seed) {
  for (int i = 0; i < n; ++i) {
    SCOPED_TRACE("half-random payload " + std::to_string(i));
    expect_compressed_at(test::half_compressible_blocks(1, 4096, seed + static_cast<uint64_t>(i)), 3, kFastest);
  }
}

TEST(Compression, TrialsThatChangeNothingComeLessOften) {
  std::thread([] {
    auto in = text(4096, 2);
    ASSERT_LT(zstd_at(in, 3).size(), 0.99 * zstd_at(in, 1).size()) << "the test data must favour level 3";
    // Payload 1 is the first trial; as each trial picks the fastest level
    // again the interval doubles: trials at payloads 17, 49, 113, then
    // every 128th (the cap, 8 x 16): 241, 369.
    half_random_payloads(32, 200);  // 1-32: trials at 1 and 17
    // Payload 33 would be a trial at a fixed interval of 16: text follows
    // the fastest level instead.
    expect_compressed_at(in, 3, kFastest);
    half_random_payloads(368 - 33, 300);  // 34-368: trials at 49, 113, 241
    // 369 is a trial: text gets level 3, and the interval is 16 again.
    expect_compressed_at(in, 3, 3);
    for (int i = 370; i < 385; ++i) expect_compressed_at(test::half_compressible_blocks(1, 4096, 900 + i), 3, 3);
    // 385 is the trial after 16.
    half_random_payloads(1, 999);
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

// The raw length of each block of a frame, in order.
std::vector<size_t> block_lengths(std::span<const uint8_t> frame, size_t raw_len) {
  ZSTD_DCtx* d = ZSTD_createDCtx();
  ZSTD_decompressBegin(d);
  std::vector<uint8_t> out(raw_len);
  std::vector<size_t> lengths;
  size_t in_at = 0, out_at = 0;
  while (size_t step = ZSTD_nextSrcSizeToDecompress(d)) {
    const size_t n = ZSTD_decompressContinue(d, out.data() + out_at, out.size() - out_at, frame.data() + in_at, step);
    if (ZSTD_isError(n)) {
      ADD_FAILURE() << ZSTD_getErrorName(n);
      break;
    }
    if (n) lengths.push_back(n);
    in_at += step;
    out_at += n;
  }
  ZSTD_freeDCtx(d);
  return lengths;
}

TEST(Compression, LargePayloadsHaveABlockPerDecodeUnit) {
  // Each thread keeps its own verdicts: run on a fresh one.
  std::thread([] {
    auto in = text(4 * kDecodeUnit + 4096, 11);
    std::vector<uint8_t> out;
    ASSERT_TRUE(compress_payload(in, 3, UnitLayout::kNone, &out));
    EXPECT_EQ(block_lengths(out, in.size()),
              (std::vector<size_t>{kDecodeUnit, kDecodeUnit, kDecodeUnit, kDecodeUnit, 4096}));
    // A plain zstd frame, with its content size: any zstd decodes it.
    EXPECT_EQ(ZSTD_getFrameContentSize(out.data(), out.size()), in.size());
    std::vector<uint8_t> plain(in.size());
    EXPECT_EQ(ZSTD_decompress(plain.data(), plain.size(), out.data(), out.size()), in.size());
    EXPECT_EQ(plain, in);
    // And the blocks cost no more than one block would (each has its own tables).
    EXPECT_LE(out.size(), zstd_at(in, 3).size() * 101 / 100);
  }).join();
}

TEST(Compression, PrefixDecodeFillsTheNeededBytes) {
  auto in = text(4 * kDecodeUnit, 12);
  const auto units = frame_at(in, 3);
  const auto one_shot = zstd_at(in, 3);  // as older writers stored it
  for (const auto* frame : {&units, &one_shot})
    for (size_t needed : {size_t{1}, size_t{4096}, kDecodeUnit, kDecodeUnit + 1, 3 * kDecodeUnit - 1000, in.size()}) {
      SCOPED_TRACE("needed " + std::to_string(needed) + (frame == &units ? ", units" : ", one shot"));
      std::vector<uint8_t> out(in.size(), 0xee);
      ASSERT_TRUE(decompress_payload_prefix(*frame, out, needed).is_ok());
      EXPECT_TRUE(std::equal(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(needed), out.begin()));
    }
  // Only the blocks up to the needed byte are decoded: past them zstd may
  // write a few bytes (its copies overrun by up to 32, where the buffer has
  // room), no more.
  std::vector<uint8_t> out(in.size(), 0xee);
  ASSERT_TRUE(decompress_payload_prefix(units, out, kDecodeUnit + 1).is_ok());
  EXPECT_TRUE(std::all_of(out.begin() + 2 * kDecodeUnit + 32, out.end(), [](uint8_t b) { return b == 0xee; }));
}

TEST(Compression, PrefixDecodeRejectsDamagedFrames) {
  auto in = text(128 * 1024, 13);
  const auto frame = frame_at(in, 3);
  std::vector<uint8_t> out(in.size());
  // Each case is refused as corruption, by the check it names.
  auto expect_refused = [&](std::span<const uint8_t> f, std::span<uint8_t> o, size_t needed, const char* why) {
    Status s = decompress_payload_prefix(f, o, needed);
    EXPECT_TRUE(s.is_corruption()) << why << ": " << s.message();
    EXPECT_NE(s.message().find(why), std::string::npos) << s.message();
  };
  // Cut short: the frame ends inside the needed blocks.
  expect_refused({frame.data(), frame.size() / 2}, out, in.size() - 1, "payload ends inside its frame");
  // A frame of less data than the record claims.
  const auto short_frame = frame_at(std::span<const uint8_t>(in.data(), 64 * 1024), 3);
  expect_refused(short_frame, out, 100000, "wrong length");
  // Garbage where the frame should be.
  std::vector<uint8_t> junk(frame.size(), 0x5a);
  expect_refused(junk, out, 4096, "not a zstd frame");
  // A block the decoder refuses (its header says the reserved block type).
  std::vector<uint8_t> bad_block = frame;
  const size_t header = ZSTD_frameHeaderSize(frame.data(), frame.size());
  ASSERT_FALSE(ZSTD_isError(header));
  bad_block[header] |= 0x6;  // block type bits: 3, reserved
  expect_refused(bad_block, out, 4096, "zstd: Data corruption detected");
  // A frame of more data than the record holds, though the needed blocks
  // would fit.
  std::vector<uint8_t> small(in.size() / 2);
  expect_refused(frame, small, small.size() - 1, "wrong length");
  // A frame that does not say its size is decoded whole, so the same lie is
  // found there too.
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 0);
  std::vector<uint8_t> unsized(ZSTD_compressBound(in.size()));
  unsized.resize(ZSTD_compress2(c, unsized.data(), unsized.size(), in.data(), in.size()));
  ZSTD_freeCCtx(c);
  ASSERT_EQ(ZSTD_getFrameContentSize(unsized.data(), unsized.size()), ZSTD_CONTENTSIZE_UNKNOWN);
  expect_refused(unsized, small, 4096, "zstd: Destination buffer is too small");
  std::vector<uint8_t> whole(in.size());
  ASSERT_TRUE(decompress_payload_prefix(unsized, whole, 4096).is_ok());
  EXPECT_EQ(whole, in);
}

// With a unit table, a payload is the table and then the same frame
// compress_frame makes; decode_payload skips the table and fills what is
// needed. A payload of one unit or less gets no table.
TEST(Compression, UnitTableHeadsLongPayloads) {
  auto in = text(4 * kDecodeUnit, 14);
  std::vector<uint8_t> out;
  const uint8_t flags =
      compress_payload(in, 10, UnitLayout::kChained, &out);  // above the adaptive levels: level 10 as given
  ASSERT_EQ(flags, format::kRecordFlagCompressed | format::kRecordFlagUnitTable);
  format::RecordHeader h;
  h.type = format::RecordType::kData;
  h.flags = flags;
  h.stored_len = static_cast<uint32_t>(out.size());
  h.raw_len = static_cast<uint32_t>(in.size());
  h.payload_hash = format::payload_hash(flags, out);
  auto table = format::decode_unit_table(out, h.stored_len, h.raw_len, h.payload_hash);
  ASSERT_TRUE(table.is_ok()) << table.status().to_string();
  EXPECT_EQ(table->unit_bytes(), kDecodeUnit);
  EXPECT_EQ(table->unit_count(), 4u);
  const std::span<const uint8_t> frame(out.data() + table->size(), out.size() - table->size());
  const auto plain_frame = frame_at(in, 10);
  EXPECT_TRUE(std::equal(frame.begin(), frame.end(), plain_frame.begin(), plain_frame.end()));
  EXPECT_TRUE(table->check_units(frame, 3).is_ok());
  // Each unit's compressed bytes decode on their own to that unit (given
  // the units before): the ends are the block boundaries.
  for (uint32_t u = 0; u < 4; ++u) {
    std::vector<uint8_t> raw(in.size(), 0xee);
    ASSERT_TRUE(decompress_payload_prefix(frame.first(table->end(u)), raw, (u + 1) * kDecodeUnit - 1).is_ok());
    EXPECT_TRUE(std::equal(in.begin(), in.begin() + static_cast<std::ptrdiff_t>((u + 1) * kDecodeUnit), raw.begin()));
  }
  for (size_t needed : {size_t{1}, kDecodeUnit + 1, in.size()}) {
    std::vector<uint8_t> raw(in.size());
    ASSERT_TRUE(decode_payload(h, out, raw, needed).is_ok());
    EXPECT_TRUE(std::equal(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(needed), raw.begin()));
  }
  // A damaged table is refused, not decoded past.
  out[4] ^= 1;
  std::vector<uint8_t> raw(in.size());
  EXPECT_TRUE(decode_payload(h, out, raw).is_corruption());
  // One unit or less: no table.
  EXPECT_EQ(compress_payload(std::span<const uint8_t>(in.data(), kDecodeUnit), 10, UnitLayout::kChained, &out),
            format::kRecordFlagCompressed);
}

// A frame that ends before its table's last unit (three units' blocks, then
// bytes the table counts as unit 3): the units before decode, the last one
// is refused rather than left undecoded.
TEST(Compression, UnitsPastTheEndOfTheFrameAreRefused) {
  auto in = text(4 * kDecodeUnit, 15);
  std::vector<uint8_t> frame(ZSTD_compressBound(in.size()));
  std::vector<uint32_t> ends;
  const size_t n = compress_frame(std::span<const uint8_t>(in.data(), 3 * kDecodeUnit), 3, frame, &ends);
  ASSERT_FALSE(ZSTD_isError(n));
  ASSERT_EQ(ends.size(), 3u);
  frame.resize(n);
  frame.insert(frame.end(), 16, 0);  // unit 3: bytes after the frame's end
  ends.push_back(static_cast<uint32_t>(frame.size()));
  std::vector<uint8_t> payload(format::unit_table_size(4));
  format::encode_unit_table(static_cast<uint32_t>(kDecodeUnit), ends, frame, payload);
  const uint64_t hash = format::payload_hash(format::kRecordFlagCompressed | format::kRecordFlagUnitTable, payload);
  payload.insert(payload.end(), frame.begin(), frame.end());
  auto table = format::decode_unit_table(payload, static_cast<uint32_t>(payload.size()),
                                         static_cast<uint32_t>(in.size()), hash);
  ASSERT_TRUE(table.is_ok()) << table.status().to_string();
  ASSERT_TRUE(table->check_units(frame, 3).is_ok());
  std::vector<uint8_t> raw(in.size());
  ASSERT_TRUE(decompress_units(*table, false, frame, 0, 2, raw).is_ok());
  EXPECT_TRUE(std::equal(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(3 * kDecodeUnit), raw.begin()));
  Status s = decompress_units(*table, false, frame, 0, 3, raw);
  EXPECT_TRUE(s.is_corruption()) << s.to_string();
  EXPECT_NE(s.message().find("wrong length"), std::string::npos) << s.message();
}

// A payload as compress_payload made it with `flags`, and its header.
struct Payload {
  std::vector<uint8_t> bytes;
  format::RecordHeader h;
  Payload(std::vector<uint8_t> b, uint8_t flags, size_t raw_len) : bytes(std::move(b)) {
    h.type = format::RecordType::kData;
    h.flags = flags;
    h.stored_len = static_cast<uint32_t>(bytes.size());
    h.raw_len = static_cast<uint32_t>(raw_len);
    h.payload_hash = format::payload_hash(flags, bytes);
  }
  format::UnitTable table() const {
    auto t = format::decode_unit_table(bytes, h.stored_len, h.raw_len, h.payload_hash);
    EXPECT_TRUE(t.is_ok()) << t.status().to_string();
    return *t;
  }
  // The bytes past the table.
  std::span<const uint8_t> frames() const {
    const size_t table = format::unit_table_size(format::get_u32(bytes.data() + 4));
    return std::span<const uint8_t>(bytes).subspan(table);
  }
  std::span<const uint8_t> unit(uint32_t i) const {
    const auto t = table();
    return frames().subspan(t.start(i), t.end(i) - t.start(i));
  }
};

constexpr uint8_t kTableFlags = format::kRecordFlagCompressed | format::kRecordFlagUnitTable;
constexpr uint8_t kIndependentFlags = kTableFlags | format::kRecordFlagIndependentUnits;

// Independent units: a table, then a frame per unit. Each unit's bytes are
// a plain zstd frame (with its content size) that any zstd decodes alone;
// decompress_units fills only the units asked for, in their places.
TEST(Compression, IndependentUnitsDecodeEachAlone) {
  auto in = text(3 * kDecodeUnit + 8192, 16);  // the last unit is short
  std::vector<uint8_t> out;
  const uint8_t flags = compress_payload(in, 10, UnitLayout::kIndependent, &out);
  ASSERT_EQ(flags, kIndependentFlags);
  const Payload p(out, flags, in.size());
  const auto table = p.table();
  ASSERT_EQ(table.unit_count(), 4u);
  EXPECT_TRUE(table.check_units(p.frames(), 0, 3).is_ok());
  for (uint32_t u = 0; u < 4; ++u) {
    SCOPED_TRACE("unit " + std::to_string(u));
    const size_t begin = u * kDecodeUnit, len = table.unit_raw_bytes(u, p.h.raw_len);
    EXPECT_EQ(len, u < 3 ? kDecodeUnit : 8192);
    const auto bytes = p.unit(u);
    EXPECT_EQ(ZSTD_getFrameContentSize(bytes.data(), bytes.size()), len);
    std::vector<uint8_t> plain(len);
    EXPECT_EQ(ZSTD_decompress(plain.data(), plain.size(), bytes.data(), bytes.size()), len);
    EXPECT_TRUE(std::equal(plain.begin(), plain.end(), in.begin() + static_cast<std::ptrdiff_t>(begin)));
    EXPECT_TRUE(table.check_units(bytes, u, u).is_ok());
    std::vector<uint8_t> raw(in.size(), 0xee);
    ASSERT_TRUE(decompress_units(table, true, bytes, u, u, raw).is_ok());
    for (size_t i = 0; i < raw.size(); ++i) {
      const bool inside = i >= begin && i < begin + len;
      if (raw[i] != (inside ? in[i] : 0xee)) {
        ADD_FAILURE() << "byte " << i << " " << (inside ? "wrong" : "written outside the unit");
        break;
      }
    }
  }
  // Units 1 and 2 together, from the start of unit 1.
  const auto both = p.frames().subspan(table.start(1), table.end(2) - table.start(1));
  std::vector<uint8_t> raw(in.size(), 0xee);
  ASSERT_TRUE(decompress_units(table, true, both, 1, 2, raw).is_ok());
  EXPECT_TRUE(std::equal(in.begin() + kDecodeUnit, in.begin() + 3 * kDecodeUnit, raw.begin() + kDecodeUnit));
  // A whole decode, and a prefix one, go through every unit needed.
  for (size_t needed : {size_t{1}, kDecodeUnit + 1, in.size()}) {
    std::vector<uint8_t> whole(in.size());
    ASSERT_TRUE(decode_payload(p.h, p.bytes, whole, needed).is_ok());
    EXPECT_TRUE(std::equal(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(needed), whole.begin()));
  }
}

// Damage to one unit: independent, every other unit still checks and
// decodes on its own; chained, a read of any later unit checks the damaged
// one on its way.
TEST(Compression, DamagedUnitLeavesTheOtherIndependentUnitsReadable) {
  auto in = test::half_compressible_blocks(32, 4096, 18);
  for (const UnitLayout layout : {UnitLayout::kChained, UnitLayout::kIndependent}) {
    const bool independent = layout == UnitLayout::kIndependent;
    SCOPED_TRACE(independent ? "independent" : "chained");
    std::vector<uint8_t> out;
    const uint8_t flags = compress_payload(in, 3, layout, &out, nullptr, true);
    ASSERT_EQ(flags, independent ? kIndependentFlags : kTableFlags);
    Payload p(out, flags, in.size());
    const auto table = p.table();
    ASSERT_EQ(table.unit_count(), 4u);
    const size_t at = table.size() + (table.start(1) + table.end(1)) / 2;
    p.bytes[at] ^= 0x40;  // unit 1; the table (and so payload_hash) unchanged
    for (uint32_t u = 0; u < 4; ++u) {
      SCOPED_TRACE("unit " + std::to_string(u));
      const uint32_t first = independent ? u : 0;
      const auto bytes = p.frames().subspan(table.start(first), table.end(u) - table.start(first));
      Status checked = table.check_units(bytes, first, u);
      if (u == 1 || (!independent && u > 1)) {
        EXPECT_TRUE(checked.is_corruption()) << checked.to_string();
        EXPECT_NE(checked.message().find("unit 1 of the payload: checksum mismatch"), std::string::npos);
        continue;
      }
      ASSERT_TRUE(checked.is_ok()) << checked.to_string();
      std::vector<uint8_t> raw(in.size());
      ASSERT_TRUE(decompress_units(table, independent, bytes, first, u, raw).is_ok());
      EXPECT_TRUE(
          std::equal(in.begin() + u * kDecodeUnit, in.begin() + (u + 1) * kDecodeUnit, raw.begin() + u * kDecodeUnit));
    }
  }
}

// Independent units that break the rules, checksums matching: a unit that
// decodes to fewer or more bytes than its share, a unit that is two frames,
// and ends that cut a frame so that it spans two units. Each is refused by
// the check it names, on a whole decode as on a read of the unit alone.
TEST(Compression, IndependentUnitsThatBreakTheRulesAreRefused) {
  auto in = text(4 * kDecodeUnit, 19);
  auto frame_of = [](std::span<const uint8_t> raw) { return zstd_at(raw, 3); };
  auto unit_raw = [&](size_t u) { return std::span<const uint8_t>(in).subspan(u * kDecodeUnit, kDecodeUnit); };
  // A payload of these frames, ends shifted by `shift` after unit 0.
  auto payload_of = [](const std::vector<std::vector<uint8_t>>& frames, int shift) {
    std::vector<uint8_t> packed;
    std::vector<uint32_t> ends;
    for (const auto& f : frames) {
      packed.insert(packed.end(), f.begin(), f.end());
      ends.push_back(static_cast<uint32_t>(packed.size()));
    }
    ends[0] = static_cast<uint32_t>(static_cast<int>(ends[0]) + shift);
    std::vector<uint8_t> bytes(format::unit_table_size(static_cast<uint32_t>(ends.size())));
    format::encode_unit_table(static_cast<uint32_t>(kDecodeUnit), ends, packed, bytes);
    bytes.insert(bytes.end(), packed.begin(), packed.end());
    return bytes;
  };
  std::vector<std::vector<uint8_t>> frames;
  for (size_t u = 0; u < 4; ++u) frames.push_back(frame_of(unit_raw(u)));
  auto expect_refused = [&](const std::vector<uint8_t>& bytes, uint32_t unit, const std::string& why) {
    const Payload p(bytes, kIndependentFlags, in.size());
    const auto table = p.table();
    ASSERT_TRUE(table.check_units(p.frames(), 0, 3).is_ok());
    std::vector<uint8_t> raw(in.size());
    Status alone = decompress_units(table, true, p.unit(unit), unit, unit, raw);
    Status whole = decode_payload(p.h, p.bytes, raw);
    for (const Status& s : {alone, whole}) {
      EXPECT_TRUE(s.is_corruption()) << why << ": " << s.to_string();
      EXPECT_NE(s.message().find("unit " + std::to_string(unit) + why), std::string::npos) << s.message();
    }
  };
  {
    const Payload good(payload_of(frames, 0), kIndependentFlags, in.size());
    std::vector<uint8_t> raw(in.size());
    ASSERT_TRUE(decode_payload(good.h, good.bytes, raw).is_ok());
    EXPECT_EQ(raw, in);
  }
  auto with = [&](size_t u, std::vector<uint8_t> f) {
    auto edited = frames;
    edited[u] = std::move(f);
    return edited;
  };
  expect_refused(payload_of(with(1, frame_of(unit_raw(1).first(kDecodeUnit / 2))), 0), 1,
                 " does not decode to its bytes");
  expect_refused(payload_of(with(2, frame_of(std::span<const uint8_t>(in).subspan(kDecodeUnit, 2 * kDecodeUnit))), 0),
                 2, " does not decode to its bytes");
  // The same, in frames that do not say their size.
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 0);
  auto unsized = [&](std::span<const uint8_t> raw) {
    std::vector<uint8_t> f(ZSTD_compressBound(raw.size()));
    f.resize(ZSTD_compress2(c, f.data(), f.size(), raw.data(), raw.size()));
    return f;
  };
  expect_refused(payload_of(with(3, unsized(std::span<const uint8_t>(in).subspan(0, 2 * kDecodeUnit))), 0), 3,
                 " does not decode to its bytes");
  expect_refused(payload_of(with(3, unsized(unit_raw(3).first(100))), 0), 3, " does not decode to its bytes");
  {
    // Exactly its bytes without saying so: valid.
    const Payload p(payload_of(with(3, unsized(unit_raw(3))), 0), kIndependentFlags, in.size());
    std::vector<uint8_t> raw(in.size());
    ASSERT_TRUE(decode_payload(p.h, p.bytes, raw).is_ok());
    EXPECT_EQ(raw, in);
  }
  ZSTD_freeCCtx(c);
  // Two frames that make the unit's bytes between them.
  auto two = frame_of(unit_raw(1).first(kDecodeUnit / 2));
  const auto second = frame_of(unit_raw(1).subspan(kDecodeUnit / 2));
  two.insert(two.end(), second.begin(), second.end());
  expect_refused(payload_of(with(1, two), 0), 1, " is not one zstd frame");
  // Unit 0's frame spanning into unit 1's bytes, and the other way.
  expect_refused(payload_of(frames, 1), 0, " is not one zstd frame");
  expect_refused(payload_of(frames, -1), 0, " is not one zstd frame");
  // One chained frame flagged as independent units.
  std::vector<uint8_t> chained;
  ASSERT_EQ(compress_payload(in, 10, UnitLayout::kChained, &chained), kTableFlags);
  expect_refused(chained, 0, " is not one zstd frame");
}

// The choice (UnitLayout::kSmaller): independent units where they cost at
// most kMaxIndependentUnitsCost over the chained frame, the whole stored
// payloads compared; the chained frame where units repeat each other.
TEST(Compression, FinalPayloadsTakeIndependentUnitsWhereTheyCostLittle) {
  auto sizes = [](std::span<const uint8_t> in, UnitLayout layout, uint8_t* flags) {
    std::vector<uint8_t> out;
    *flags = compress_payload(in, 3, layout, &out, nullptr, true);
    return out;
  };
  uint8_t flags = 0, chained_flags = 0, independent_flags = 0;
  // Half-random blocks (as fio's buffers): the units share little.
  const auto blocks = test::half_compressible_blocks(32, 4096, 20);
  const auto chosen = sizes(blocks, UnitLayout::kSmaller, &flags);
  const auto chained = sizes(blocks, UnitLayout::kChained, &chained_flags);
  const auto independent = sizes(blocks, UnitLayout::kIndependent, &independent_flags);
  ASSERT_EQ(chained_flags, kTableFlags);
  ASSERT_EQ(independent_flags, kIndependentFlags);
  EXPECT_LE(independent.size(), chained.size() * 101 / 100);
  EXPECT_EQ(flags, kIndependentFlags);
  EXPECT_EQ(chosen, independent);
  // 32 KiB of text four times over: the chained frame stores the repeats
  // in a few bytes; independent frames would store each in full.
  const auto unit = text(kDecodeUnit, 21);
  std::vector<uint8_t> repeated;
  for (int i = 0; i < 4; ++i) repeated.insert(repeated.end(), unit.begin(), unit.end());
  const auto chosen_text = sizes(repeated, UnitLayout::kSmaller, &flags);
  const auto chained_text = sizes(repeated, UnitLayout::kChained, &chained_flags);
  const auto independent_text = sizes(repeated, UnitLayout::kIndependent, &independent_flags);
  EXPECT_GT(independent_text.size(), 2 * chained_text.size());
  EXPECT_EQ(flags, kTableFlags);
  EXPECT_EQ(chosen_text, chained_text);
  // kIndependent (provisional records) keeps them whatever they cost.
  EXPECT_EQ(independent_flags, kIndependentFlags);
  // The threshold itself.
  EXPECT_FALSE(independent_units_cost_too_much(1010, 1000));
  EXPECT_TRUE(independent_units_cost_too_much(1011, 1000));
  // Data that does not compress either way is stored raw.
  std::vector<uint8_t> out;
  EXPECT_EQ(compress_payload(test::random_bytes(128 * 1024, 22), 3, UnitLayout::kSmaller, &out, nullptr, true), 0);
}

}  // namespace
}  // namespace vblk::store
