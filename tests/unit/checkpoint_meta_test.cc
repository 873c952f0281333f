// The checkpoint metadata codec (format/checkpoint_meta.h): what it writes
// reads back the same, and every rule of the decoder rejects what breaks it.
#include "format/checkpoint_meta.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "format/format.h"

namespace vblk::format {
namespace {

constexpr uint64_t kBlocks = 4096;
constexpr uint64_t kFileSize = 64ull << 20;

MetaBounds bounds(bool resizable) {
  MetaBounds b;
  b.resizable = resizable;
  b.superblock_block_count = kBlocks;
  b.block_size = 4096;
  b.segment_size = 4u << 20;
  b.entries_per_page = 512;
  b.data_start = 1u << 20;
  b.file_size = kFileSize;
  b.segment_count = 16;
  return b;
}

CheckpointMeta sample(bool resizable) {
  CheckpointMeta m;
  m.version = resizable ? kMetaVersionCapacity : kMetaVersion;
  m.used_blocks = 100, m.zero_blocks = 3, m.trimmed_blocks = 7, m.stored_bytes = 123456;
  m.pages = {{0, 2u << 20, 4096 + 64, 0}, {5, 3u << 20, 800, 0}};
  m.segments = {{1000, 5000}, {0, 0}, MetaSegmentEntry::released(), {4u << 20, 4u << 20}};
  m.bad_ranges = {{10, 2}, {20, 1}};
  if (resizable) m.block_count = 2 * kBlocks;  // grown
  return m;
}

void expect_same(const CheckpointMeta& a, const CheckpointMeta& b) {
  EXPECT_EQ(a.version, b.version);
  EXPECT_EQ(a.used_blocks, b.used_blocks);
  EXPECT_EQ(a.zero_blocks, b.zero_blocks);
  EXPECT_EQ(a.trimmed_blocks, b.trimmed_blocks);
  EXPECT_EQ(a.stored_bytes, b.stored_bytes);
  ASSERT_EQ(a.pages.size(), b.pages.size());
  for (size_t i = 0; i < a.pages.size(); ++i) {
    EXPECT_EQ(a.pages[i].page_no, b.pages[i].page_no);
    EXPECT_EQ(a.pages[i].record_offset, b.pages[i].record_offset);
    EXPECT_EQ(a.pages[i].record_length, b.pages[i].record_length);
  }
  ASSERT_EQ(a.segments.size(), b.segments.size());
  for (size_t i = 0; i < a.segments.size(); ++i) {
    EXPECT_EQ(a.segments[i].live_bytes, b.segments[i].live_bytes);
    EXPECT_EQ(a.segments[i].fill, b.segments[i].fill);
  }
  EXPECT_EQ(a.bad_ranges, b.bad_ranges);
  EXPECT_EQ(a.block_count, b.block_count);
}

TEST(CheckpointMetaTest, RoundTripsBothVersions) {
  for (bool resizable : {false, true}) {
    const CheckpointMeta m = sample(resizable);
    const std::vector<uint8_t> bytes = encode_checkpoint_meta(m);
    EXPECT_EQ(bytes.size(), 48 + 2 * kMetaPageEntrySize + 8 + 4 * kMetaSegmentEntrySize + 8 + 2 * kMetaBadEntrySize +
                                (resizable ? 8 : 0));
    auto back = decode_checkpoint_meta(bytes, bounds(resizable));
    ASSERT_TRUE(back) << back.status().to_string();
    expect_same(m, *back);
  }
}

TEST(CheckpointMetaTest, EmptyMetadataDecodes) {
  CheckpointMeta m;
  auto back = decode_checkpoint_meta(encode_checkpoint_meta(m), bounds(false));
  ASSERT_TRUE(back) << back.status().to_string();
  EXPECT_TRUE(back->pages.empty() && back->segments.empty() && back->bad_ranges.empty());
}

TEST(CheckpointMetaTest, EveryTruncationIsRejected) {
  for (bool resizable : {false, true}) {
    const std::vector<uint8_t> bytes = encode_checkpoint_meta(sample(resizable));
    for (size_t n = 0; n < bytes.size(); ++n) {
      auto r = decode_checkpoint_meta(std::span<const uint8_t>(bytes.data(), n), bounds(resizable));
      EXPECT_FALSE(r) << "cut at " << n << " of " << bytes.size();
      if (!r) {
        EXPECT_TRUE(r.status().is_corruption());
      }
    }
    std::vector<uint8_t> longer = bytes;
    longer.push_back(0);
    EXPECT_FALSE(decode_checkpoint_meta(longer, bounds(resizable)));
  }
}

// One broken field each: the decoder names it.
struct Breakage {
  const char* what;
  bool resizable;
  std::function<void(CheckpointMeta&)> apply;
  const char* message;  // part of the error
};

TEST(CheckpointMetaTest, EachRuleRejects) {
  const std::vector<Breakage> cases = {
      {"version 0", false, [](CheckpointMeta& m) { m.version = 0; }, "unknown metadata version"},
      {"version 5", false, [](CheckpointMeta& m) { m.version = 5; }, "unknown metadata version"},
      {"version 4 without the feature", false, [](CheckpointMeta& m) { m.version = 4; }, "delta checkpoints"},
      {"version 3 not resizable", false, [](CheckpointMeta& m) { m.version = 3, m.block_count = kBlocks; },
       "is for resizable images"},
      {"version 2 resizable", true, [](CheckpointMeta& m) { m.version = 2, m.block_count.reset(); }, "has no capacity"},
      {"capacity 0", true, [](CheckpointMeta& m) { m.block_count = 0; }, "metadata capacity invalid"},
      {"used > capacity", false, [](CheckpointMeta& m) { m.used_blocks = kBlocks + 1; }, "block counters invalid"},
      {"zero > used", false, [](CheckpointMeta& m) { m.zero_blocks = m.used_blocks + 1; }, "block counters invalid"},
      {"trimmed + used > capacity", false, [](CheckpointMeta& m) { m.trimmed_blocks = kBlocks; },
       "block counters invalid"},
      {"page reserved", false, [](CheckpointMeta& m) { m.pages[0].reserved = 1; }, "reserved field is not zero"},
      {"page beyond capacity", false, [](CheckpointMeta& m) { m.pages[1].page_no = kBlocks / 512; },
       "index directory entry 1 invalid"},
      {"page before data", false, [](CheckpointMeta& m) { m.pages[0].record_offset = 4096; },
       "index directory entry 0 invalid"},
      {"page beyond file", false, [](CheckpointMeta& m) { m.pages[0].record_offset = kFileSize; },
       "index directory entry 0 invalid"},
      {"page too short", false, [](CheckpointMeta& m) { m.pages[0].record_length = 10; },
       "index directory entry 0 invalid"},
      {"page twice", false, [](CheckpointMeta& m) { m.pages[1].page_no = m.pages[0].page_no; }, "twice"},
      {"more segments than the slot", false, [](CheckpointMeta& m) { m.segments.resize(17); }, "segment table invalid"},
      {"live > fill", false,
       [](CheckpointMeta& m) {
         m.segments[0] = {10, 5};
       },
       "segment 0 accounting invalid"},
      {"fill > segment", false,
       [](CheckpointMeta& m) {
         m.segments[0] = {0, (4u << 20) + 1};
       },
       "segment 0 accounting invalid"},
      {"released in version 1", false, [](CheckpointMeta& m) { m.version = 1; }, "segment 2 accounting invalid"},
      {"released with a fill", false, [](CheckpointMeta& m) { m.segments[2].fill = 64; },
       "segment 2 accounting invalid"},
      {"bad range empty", false, [](CheckpointMeta& m) { m.bad_ranges[0].second = 0; }, "bad-block range 0 invalid"},
      {"bad ranges overlap", false, [](CheckpointMeta& m) { m.bad_ranges[1].first = 11; }, "bad-block range 1 invalid"},
      {"bad ranges unsorted", false,
       [](CheckpointMeta& m) {
         m.bad_ranges = {{20, 1}, {10, 1}};
       },
       "bad-block range 1 invalid"},
      {"bad range past the end", false,
       [](CheckpointMeta& m) {
         m.bad_ranges = {{kBlocks - 1, 2}};
       },
       "bad-block range 0 invalid"},
      {"bad range wraps", false,
       [](CheckpointMeta& m) {
         m.bad_ranges = {{1, ~0ull}};
       },
       "bad-block range 0 invalid"},
  };
  for (const Breakage& c : cases) {
    CheckpointMeta m = sample(c.resizable);
    c.apply(m);
    auto r = decode_checkpoint_meta(encode_checkpoint_meta(m), bounds(c.resizable));
    ASSERT_FALSE(r) << c.what;
    EXPECT_TRUE(r.status().is_corruption()) << c.what;
    EXPECT_NE(r.status().message().find(c.message), std::string::npos) << c.what << ": " << r.status().message();
  }
}

TEST(CheckpointMetaTest, HugeCountsFailBeforeAllocating) {
  // A page count of 2^60 in 56 bytes must fail on the count, not on memory.
  std::vector<uint8_t> bytes = encode_checkpoint_meta(CheckpointMeta{});
  put_u64(bytes.data() + 40, 1ull << 60);
  auto r = decode_checkpoint_meta(bytes, bounds(false));
  ASSERT_FALSE(r);
  EXPECT_NE(r.status().message().find("page count invalid"), std::string::npos);
}

// ---- DELTA metadata (version 4) and folding a chain ----------------------

MetaBounds delta_bounds(bool resizable) {
  MetaBounds b = bounds(resizable);
  b.delta = true;
  return b;
}

CheckpointMeta delta_sample(bool resizable) {
  CheckpointMeta m;
  m.version = kMetaVersionDelta;
  m.used_blocks = 120, m.zero_blocks = 4, m.trimmed_blocks = 2, m.stored_bytes = 234567;
  m.block_count = resizable ? 2 * kBlocks : kBlocks;
  m.depth = 3;
  m.prev = {5u << 20, 2, 2u << 20, 0x1234};
  m.pages = {{0, 6u << 20, 900, 0}, {5, 0, 0, 0}, {7, 7u << 20, 1000, 0}};  // page 5 left the table
  m.segment_changes = {{1, {64, 4096}}, {2, {0, 0}}, {9, MetaSegmentEntry::released()}};
  m.bad_ranges = {{30, 4}};
  return m;
}

TEST(CheckpointMetaTest, DeltaRoundTrips) {
  for (bool resizable : {false, true}) {
    const CheckpointMeta m = delta_sample(resizable);
    const std::vector<uint8_t> bytes = encode_checkpoint_meta(m);
    EXPECT_EQ(bytes.size(), kMetaDeltaHeaderSize + 3 * kMetaPageEntrySize + 8 + 3 * kMetaSegmentChangeSize + 8 +
                                1 * kMetaBadEntrySize);
    auto back = decode_checkpoint_meta(bytes, delta_bounds(resizable));
    ASSERT_TRUE(back) << back.status().to_string();
    EXPECT_TRUE(back->is_delta());
    EXPECT_EQ(back->depth, 3u);
    EXPECT_EQ(back->prev, m.prev);
    EXPECT_EQ(back->block_count, m.block_count);
    EXPECT_EQ(back->used_blocks, 120u);
    ASSERT_EQ(back->pages.size(), 3u);
    EXPECT_TRUE(back->pages[1].is_removal());
    EXPECT_EQ(back->pages[2].record_offset, 7u << 20);
    ASSERT_EQ(back->segment_changes.size(), 3u);
    EXPECT_EQ(back->segment_changes[0].segment, 1u);
    EXPECT_EQ(back->segment_changes[0].entry.fill, 4096u);
    EXPECT_TRUE(back->segment_changes[2].entry.is_released());
    EXPECT_EQ(back->bad_ranges, m.bad_ranges);
  }
}

TEST(CheckpointMetaTest, DeltaEveryTruncationIsRejected) {
  const std::vector<uint8_t> bytes = encode_checkpoint_meta(delta_sample(true));
  for (size_t n = 0; n < bytes.size(); ++n) {
    auto r = decode_checkpoint_meta(std::span<const uint8_t>(bytes.data(), n), delta_bounds(true));
    EXPECT_FALSE(r) << "cut at " << n << " of " << bytes.size();
  }
  std::vector<uint8_t> longer = bytes;
  longer.push_back(0);
  EXPECT_FALSE(decode_checkpoint_meta(longer, delta_bounds(true)));
}

TEST(CheckpointMetaTest, DeltaNeedsTheFeature) {
  auto r = decode_checkpoint_meta(encode_checkpoint_meta(delta_sample(true)), bounds(true));
  ASSERT_FALSE(r);
  EXPECT_NE(r.status().message().find("delta checkpoints"), std::string::npos) << r.status().message();
}

TEST(CheckpointMetaTest, EachDeltaRuleRejects) {
  const std::vector<Breakage> cases = {
      {"depth 0", true, [](CheckpointMeta& m) { m.depth = 0; }, "depth 0 invalid"},
      {"depth beyond the limit", true, [](CheckpointMeta& m) { m.depth = kMaxDeltaDepth + 1; }, "depth"},
      {"capacity 0", true, [](CheckpointMeta& m) { m.block_count = 0; }, "metadata capacity invalid"},
      {"capacity other than the superblock's", false, [](CheckpointMeta& m) { m.block_count = kBlocks + 8; },
       "differs from the superblock's"},
      {"used > capacity", true, [](CheckpointMeta& m) { m.used_blocks = 3 * kBlocks; }, "block counters invalid"},
      {"previous outside the file", true, [](CheckpointMeta& m) { m.prev.last_chunk = kFileSize; },
       "previous checkpoint's metadata location"},
      {"previous before the data", true, [](CheckpointMeta& m) { m.prev.last_chunk = 4096; },
       "previous checkpoint's metadata location"},
      {"previous of no chunk", true, [](CheckpointMeta& m) { m.prev.chunks = 0; }, "metadata size invalid"},
      {"previous of more chunks than bytes", true, [](CheckpointMeta& m) { m.prev.chunks = m.prev.bytes + 1; },
       "metadata size invalid"},
      {"previous longer than the limit", true, [](CheckpointMeta& m) { m.prev.bytes = kMaxMetaBytes + 1; },
       "metadata size invalid"},
      {"pages out of order", true, [](CheckpointMeta& m) { std::swap(m.pages[0], m.pages[2]); }, "out of order"},
      {"page twice", true, [](CheckpointMeta& m) { m.pages[1].page_no = m.pages[0].page_no; }, "out of order"},
      {"removal with a length", true, [](CheckpointMeta& m) { m.pages[1].record_length = 100; },
       "index directory entry 1 invalid"},
      {"page beyond the capacity", false, [](CheckpointMeta& m) { m.pages[2].page_no = kBlocks / 512; },
       "index directory entry 2 invalid"},
      {"segment beyond the slot's count", true, [](CheckpointMeta& m) { m.segment_changes[2].segment = 16; },
       "beyond the segment count"},
      {"segments out of order", true, [](CheckpointMeta& m) { m.segment_changes[1].segment = 1; }, "out of order"},
      {"segment live > fill", true, [](CheckpointMeta& m) { m.segment_changes[0].entry.live_bytes = 5000; },
       "segment 1 accounting invalid"},
      {"released with a fill", true, [](CheckpointMeta& m) { m.segment_changes[2].entry.fill = 64; },
       "segment 9 accounting invalid"},
      {"bad ranges overlap", true, [](CheckpointMeta& m) { m.bad_ranges = {{10, 5}, {12, 1}}; },
       "bad-block range 1 invalid"},
  };
  for (const Breakage& c : cases) {
    CheckpointMeta m = delta_sample(c.resizable);
    c.apply(m);
    auto r = decode_checkpoint_meta(encode_checkpoint_meta(m), delta_bounds(c.resizable));
    ASSERT_FALSE(r) << c.what;
    EXPECT_TRUE(r.status().is_corruption()) << c.what;
    EXPECT_NE(r.status().message().find(c.message), std::string::npos) << c.what << ": " << r.status().message();
  }
}

TEST(CheckpointMetaTest, DeltaHugeCountsFailBeforeAllocating) {
  const std::vector<uint8_t> bytes = encode_checkpoint_meta(delta_sample(true));
  // The page count, then the segment change count (after 3 pages), then
  // the bad-range count.
  const size_t changes_at = kMetaDeltaHeaderSize + 3 * kMetaPageEntrySize;
  const size_t bad_at = changes_at + 8 + 3 * kMetaSegmentChangeSize;
  for (size_t at : {size_t{88}, changes_at, bad_at})
    for (uint64_t huge : {1ull << 60, ~0ull}) {
      std::vector<uint8_t> b = bytes;
      put_u64(b.data() + at, huge);
      EXPECT_FALSE(decode_checkpoint_meta(b, delta_bounds(true))) << "count at " << at;
    }
}

CheckpointMeta full_base() {
  CheckpointMeta m;
  m.version = kMetaVersionCapacity;
  m.used_blocks = 100;
  m.pages = {{7, 3u << 20, 800, 0}, {0, 2u << 20, 700, 0}, {5, 4u << 20, 600, 0}};  // unique, not sorted
  m.segments = {{100, 200}, {300, 400}};
  m.bad_ranges = {{1, 1}};
  m.block_count = kBlocks;
  return m;
}

TEST(CheckpointMetaTest, FoldAppliesDeltasOldestFirst) {
  CheckpointMeta d1;
  d1.version = kMetaVersionDelta;
  d1.depth = 1;
  d1.used_blocks = 110;
  d1.block_count = kBlocks;
  d1.pages = {{0, 6u << 20, 900, 0}, {3, 7u << 20, 500, 0}, {7, 0, 0, 0}};  // page 7 removed, page 3 new
  d1.segment_changes = {{1, MetaSegmentEntry::released()}, {4, {64, 64}}};  // the table grows
  d1.bad_ranges = {{2, 2}};
  CheckpointMeta d2 = d1;
  d2.depth = 2;
  d2.used_blocks = 120;
  d2.block_count = 2 * kBlocks;
  d2.pages = {{3, 8u << 20, 400, 0}, {9, 0, 0, 0}};  // page 3 again; page 9 was never listed
  d2.segment_changes = {{1, {0, 0}}};
  d2.bad_ranges = {};
  const std::vector<CheckpointMeta> deltas = {d1, d2};
  auto folded = fold_checkpoint_chain(full_base(), deltas, delta_bounds(true));
  ASSERT_TRUE(folded) << folded.status().to_string();
  EXPECT_FALSE(folded->is_delta());
  EXPECT_EQ(folded->version, kMetaVersionCapacity);
  EXPECT_EQ(folded->used_blocks, 120u);
  EXPECT_EQ(folded->block_count, 2 * kBlocks);
  EXPECT_TRUE(folded->bad_ranges.empty());
  ASSERT_EQ(folded->pages.size(), 3u);
  EXPECT_EQ(folded->pages[0].page_no, 0u);
  EXPECT_EQ(folded->pages[0].record_offset, 6u << 20);
  EXPECT_EQ(folded->pages[1].page_no, 3u);
  EXPECT_EQ(folded->pages[1].record_offset, 8u << 20);  // the newer delta's
  EXPECT_EQ(folded->pages[2].page_no, 5u);
  EXPECT_EQ(folded->pages[2].record_offset, 4u << 20);  // the base's
  ASSERT_EQ(folded->segments.size(), 5u);
  EXPECT_EQ(folded->segments[0].fill, 200u);
  EXPECT_EQ(folded->segments[1].fill, 0u);  // released, then free
  EXPECT_FALSE(folded->segments[1].is_released());
  EXPECT_EQ(folded->segments[2].fill, 0u);  // never listed: free
  EXPECT_EQ(folded->segments[4].fill, 64u);
  // The folded metadata is FULL metadata the decoder accepts.
  auto again = decode_checkpoint_meta(encode_checkpoint_meta(*folded), delta_bounds(true));
  ASSERT_TRUE(again) << again.status().to_string();
  EXPECT_EQ(again->pages.size(), 3u);
}

TEST(CheckpointMetaTest, FoldWithoutDeltasIsTheBase) {
  auto folded = fold_checkpoint_chain(full_base(), {}, delta_bounds(true));
  ASSERT_TRUE(folded);
  EXPECT_EQ(folded->pages.size(), 3u);
  EXPECT_EQ(folded->segments.size(), 2u);
}

TEST(CheckpointMetaTest, FoldRefusesAPageTheShrinkDidNotRemove) {
  // The capacity shrinks to one page (512 blocks) but page 5 stays listed.
  CheckpointMeta d;
  d.version = kMetaVersionDelta;
  d.depth = 1;
  d.block_count = 512;
  d.pages = {{7, 0, 0, 0}};
  const std::vector<CheckpointMeta> deltas = {d};
  auto folded = fold_checkpoint_chain(full_base(), deltas, delta_bounds(true));
  ASSERT_FALSE(folded);
  EXPECT_NE(folded.status().message().find("keeps index page 5"), std::string::npos) << folded.status().message();
}

}  // namespace
}  // namespace vblk::format
