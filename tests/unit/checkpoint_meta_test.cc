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
      {"version 4", false, [](CheckpointMeta& m) { m.version = 4; }, "unknown metadata version"},
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

}  // namespace
}  // namespace vblk::format
