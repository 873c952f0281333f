// MemDevice and check_block_range: the reference BlockDevice.

#include "vblk/mem_device.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdint>
#include <limits>
#include <random>
#include <thread>
#include <tuple>
#include <vector>

namespace vblk {
namespace {

constexpr uint32_t kBs = 512;

std::vector<uint8_t> pattern(size_t n, uint32_t seed) {
  std::vector<uint8_t> v(n);
  std::mt19937 rng(seed);
  for (auto& b : v) b = static_cast<uint8_t>(rng() | 1);  // never all zero
  return v;
}

std::vector<uint8_t> read_all(MemDevice& dev, uint64_t first, uint64_t count) {
  std::vector<uint8_t> out(count * dev.block_size(), 0xEE);
  Status st = dev.read_blocks(first, count, out);
  EXPECT_TRUE(st.is_ok()) << st.to_string();
  return out;
}

BlockState state_of(MemDevice& dev, uint64_t block) {
  auto r = dev.state(block);
  EXPECT_TRUE(r.is_ok()) << r.status().to_string();
  return r.is_ok() ? r.value() : BlockState::kBad;
}

TEST(MemDevice, Geometry) {
  MemDevice dev(4096, 100);
  EXPECT_EQ(dev.block_size(), 4096u);
  EXPECT_EQ(dev.block_count(), 100u);
}

TEST(MemDevice, FreshDeviceReadsZerosAndIsFree) {
  MemDevice dev(kBs, 8);
  auto out = read_all(dev, 0, 8);
  EXPECT_EQ(out, std::vector<uint8_t>(8 * kBs, 0));
  EXPECT_EQ(state_of(dev, 7), BlockState::kFree);
  DeviceStats s = dev.stats();
  EXPECT_EQ(s.free_blocks, 8u);
  EXPECT_EQ(s.used_blocks, 0u);
  EXPECT_EQ(s.stored_bytes, 0u);
}

TEST(MemDevice, WriteThenReadMatches) {
  MemDevice dev(kBs, 16);
  auto data = pattern(3 * kBs, 1);
  ASSERT_TRUE(dev.write_blocks(5, data).is_ok());
  EXPECT_EQ(read_all(dev, 5, 3), data);
  // Neighbours untouched.
  EXPECT_EQ(read_all(dev, 4, 1), std::vector<uint8_t>(kBs, 0));
  EXPECT_EQ(read_all(dev, 8, 1), std::vector<uint8_t>(kBs, 0));
  EXPECT_EQ(state_of(dev, 5), BlockState::kUsed);
  EXPECT_EQ(state_of(dev, 7), BlockState::kUsed);
  EXPECT_EQ(state_of(dev, 8), BlockState::kFree);
}

TEST(MemDevice, OverwriteReplacesData) {
  MemDevice dev(kBs, 4);
  ASSERT_TRUE(dev.write_block(1, pattern(kBs, 1)).is_ok());
  auto second = pattern(kBs, 2);
  ASSERT_TRUE(dev.write_block(1, second).is_ok());
  EXPECT_EQ(read_all(dev, 1, 1), second);
  EXPECT_EQ(dev.stats().used_blocks, 1u);
  EXPECT_EQ(dev.stats().stored_bytes, kBs);
}

TEST(MemDevice, TrimThenReadGivesZeros) {
  MemDevice dev(kBs, 8);
  ASSERT_TRUE(dev.write_blocks(2, pattern(3 * kBs, 3)).is_ok());
  ASSERT_TRUE(dev.trim_blocks(3, 1).is_ok());
  auto out = read_all(dev, 2, 3);
  EXPECT_EQ(std::vector<uint8_t>(out.begin() + kBs, out.begin() + 2 * kBs), std::vector<uint8_t>(kBs, 0));
  EXPECT_NE(std::vector<uint8_t>(out.begin(), out.begin() + kBs), std::vector<uint8_t>(kBs, 0));
  EXPECT_EQ(state_of(dev, 3), BlockState::kTrimmed);
  EXPECT_EQ(state_of(dev, 2), BlockState::kUsed);
}

TEST(MemDevice, TrimKeepsFreeFreeAndBadBad) {
  MemDevice dev(kBs, 8);
  ASSERT_TRUE(dev.write_block(1, pattern(kBs, 4)).is_ok());
  ASSERT_TRUE(dev.set_bad(2, 1, true).is_ok());
  ASSERT_TRUE(dev.trim_blocks(0, 4).is_ok());
  EXPECT_EQ(state_of(dev, 0), BlockState::kFree);
  EXPECT_EQ(state_of(dev, 1), BlockState::kTrimmed);
  EXPECT_EQ(state_of(dev, 2), BlockState::kBad);
  EXPECT_EQ(state_of(dev, 3), BlockState::kFree);
}

TEST(MemDevice, ZeroBlockIsUsedWithoutPayload) {
  MemDevice dev(kBs, 4);
  ASSERT_TRUE(dev.write_block(0, std::vector<uint8_t>(kBs, 0)).is_ok());
  ASSERT_TRUE(dev.write_block(1, pattern(kBs, 5)).is_ok());
  EXPECT_EQ(state_of(dev, 0), BlockState::kUsed);
  DeviceStats s = dev.stats();
  EXPECT_EQ(s.used_blocks, 2u);
  EXPECT_EQ(s.zero_blocks, 1u);
  EXPECT_EQ(s.stored_bytes, kBs);
  // Overwriting the data block with zeros moves it to zero_blocks.
  ASSERT_TRUE(dev.write_block(1, std::vector<uint8_t>(kBs, 0)).is_ok());
  s = dev.stats();
  EXPECT_EQ(s.zero_blocks, 2u);
  EXPECT_EQ(s.stored_bytes, 0u);
}

TEST(MemDevice, StatsCountEveryState) {
  MemDevice dev(kBs, 10);
  ASSERT_TRUE(dev.write_blocks(0, pattern(3 * kBs, 6)).is_ok());
  ASSERT_TRUE(dev.trim_block(1).is_ok());
  ASSERT_TRUE(dev.set_bad(5, 2, true).is_ok());
  DeviceStats s = dev.stats();
  EXPECT_EQ(s.used_blocks, 2u);
  EXPECT_EQ(s.trimmed_blocks, 1u);
  EXPECT_EQ(s.bad_blocks, 2u);
  EXPECT_EQ(s.free_blocks, 5u);
  EXPECT_EQ(s.zero_blocks, 0u);
  EXPECT_EQ(s.stored_bytes, 2u * kBs);
  EXPECT_EQ(s.free_blocks + s.used_blocks + s.trimmed_blocks + s.bad_blocks, 10u);
}

TEST(MemDevice, WriteBeyondDeviceIsOutOfRange) {
  MemDevice dev(kBs, 4);
  Status st = dev.write_blocks(3, pattern(2 * kBs, 7));
  EXPECT_TRUE(st.is_out_of_range()) << st.to_string();
  EXPECT_EQ(st.to_errno(), EFBIG);
  EXPECT_EQ(state_of(dev, 3), BlockState::kFree);  // nothing written
  st = dev.write_block(4, pattern(kBs, 7));
  EXPECT_TRUE(st.is_out_of_range());
}

TEST(MemDevice, ReadBeyondDeviceIsOutOfRange) {
  MemDevice dev(kBs, 4);
  std::vector<uint8_t> out(kBs);
  EXPECT_TRUE(dev.read_blocks(4, 1, out).is_out_of_range());
  EXPECT_TRUE(dev.trim_blocks(2, 3).is_out_of_range());
  EXPECT_TRUE(dev.set_bad(4, 1, true).is_out_of_range());
  EXPECT_FALSE(dev.state(4).is_ok());
}

TEST(MemDevice, RangeOverflowIsOutOfRange) {
  MemDevice dev(kBs, 4);
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  EXPECT_TRUE(dev.trim_blocks(kMax, 2).is_out_of_range());
  EXPECT_TRUE(dev.trim_blocks(2, kMax).is_out_of_range());
  std::vector<uint8_t> out(kBs);
  EXPECT_TRUE(dev.read_blocks(kMax, 1, out).is_out_of_range());
}

TEST(MemDevice, CheckBlockRangeNamesRangeAndBlockCount) {
  MemDevice dev(kBs, 4);
  EXPECT_TRUE(check_block_range(dev, 0, 4).is_ok());
  EXPECT_TRUE(check_block_range(dev, 4, 0).is_ok());
  EXPECT_TRUE(check_block_range(dev, 3, 1).is_ok());
  Status st = check_block_range(dev, 3, 2);
  ASSERT_TRUE(st.is_out_of_range());
  EXPECT_NE(st.message().find("[3, +2)"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("4 blocks"), std::string::npos) << st.message();
  EXPECT_TRUE(check_block_range(dev, 5, 0).is_out_of_range());
  EXPECT_TRUE(check_block_range(dev, 1, std::numeric_limits<uint64_t>::max()).is_out_of_range());
  EXPECT_TRUE(check_block_range(dev, std::numeric_limits<uint64_t>::max(), 1).is_out_of_range());
}

TEST(MemDevice, WrongBufferSizeIsInvalidArgument) {
  MemDevice dev(kBs, 4);
  std::vector<uint8_t> small(kBs - 1);
  EXPECT_EQ(dev.read_blocks(0, 1, small).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(dev.write_blocks(0, small).code(), Status::Code::kInvalidArgument);
  std::vector<uint8_t> two(2 * kBs);
  EXPECT_EQ(dev.read_blocks(0, 1, two).code(), Status::Code::kInvalidArgument);
}

TEST(MemDevice, BadBlockFailsReadAndWriteNeighboursFine) {
  MemDevice dev(kBs, 8);
  auto data = pattern(kBs, 8);
  ASSERT_TRUE(dev.write_block(3, data).is_ok());
  ASSERT_TRUE(dev.set_bad(4, 1, true).is_ok());
  EXPECT_EQ(state_of(dev, 4), BlockState::kBad);

  std::vector<uint8_t> out(kBs);
  Status st = dev.read_block(4, out);
  EXPECT_TRUE(st.is_bad_block()) << st.to_string();
  EXPECT_EQ(st.to_errno(), EIO);
  EXPECT_NE(st.message().find("block 4"), std::string::npos) << st.message();
  EXPECT_TRUE(dev.write_block(4, data).is_bad_block());

  ASSERT_TRUE(dev.read_block(3, out).is_ok());
  EXPECT_EQ(out, data);
  EXPECT_TRUE(dev.write_block(5, data).is_ok());
  EXPECT_TRUE(dev.read_block(5, out).is_ok());
}

TEST(MemDevice, RequestSpanningBadBlockFailsWholeAndChangesNothing) {
  MemDevice dev(kBs, 8);
  ASSERT_TRUE(dev.set_bad(5, 1, true).is_ok());
  Status st = dev.write_blocks(3, pattern(4 * kBs, 9));
  EXPECT_TRUE(st.is_bad_block());
  EXPECT_NE(st.message().find("block 5"), std::string::npos) << st.message();
  for (uint64_t b : {3, 4, 6}) EXPECT_EQ(state_of(dev, b), BlockState::kFree) << b;
  std::vector<uint8_t> out(4 * kBs);
  EXPECT_TRUE(dev.read_blocks(3, 4, out).is_bad_block());
}

TEST(MemDevice, SetBadDropsDataAndClearingLeavesTrimmed) {
  MemDevice dev(kBs, 4);
  ASSERT_TRUE(dev.write_block(1, pattern(kBs, 10)).is_ok());
  ASSERT_TRUE(dev.set_bad(1, 1, true).is_ok());
  EXPECT_EQ(dev.stats().used_blocks, 0u);
  EXPECT_EQ(dev.stats().bad_blocks, 1u);
  ASSERT_TRUE(dev.set_bad(0, 4, false).is_ok());
  EXPECT_EQ(state_of(dev, 1), BlockState::kTrimmed);
  EXPECT_EQ(state_of(dev, 0), BlockState::kFree);  // was never BAD: unchanged
  EXPECT_EQ(read_all(dev, 1, 1), std::vector<uint8_t>(kBs, 0));
  EXPECT_EQ(dev.stats().bad_blocks, 0u);
}

TEST(MemDevice, StateRunsCoalesceInOrder) {
  MemDevice dev(kBs, 20);
  ASSERT_TRUE(dev.write_blocks(2, pattern(3 * kBs, 11)).is_ok());  // 2-4 USED
  ASSERT_TRUE(dev.trim_blocks(4, 1).is_ok());                       // 4 TRIMMED
  ASSERT_TRUE(dev.set_bad(10, 2, true).is_ok());                    // 10-11 BAD
  using Run = std::tuple<uint64_t, uint64_t, BlockState>;
  std::vector<Run> runs;
  ASSERT_TRUE(dev.state_runs(0, 20, [&](uint64_t f, uint64_t n, BlockState s) {
                   runs.emplace_back(f, n, s);
                 }).is_ok());
  std::vector<Run> want = {
      {0, 2, BlockState::kFree},  {2, 2, BlockState::kUsed}, {4, 1, BlockState::kTrimmed},
      {5, 5, BlockState::kFree},  {10, 2, BlockState::kBad}, {12, 8, BlockState::kFree},
  };
  EXPECT_EQ(runs, want);

  runs.clear();
  ASSERT_TRUE(dev.state_runs(3, 8, [&](uint64_t f, uint64_t n, BlockState s) {
                   runs.emplace_back(f, n, s);
                 }).is_ok());
  want = {{3, 1, BlockState::kUsed}, {4, 1, BlockState::kTrimmed}, {5, 5, BlockState::kFree},
          {10, 1, BlockState::kBad}};
  EXPECT_EQ(runs, want);
  EXPECT_TRUE(dev.state_runs(15, 6, [](uint64_t, uint64_t, BlockState) {}).is_out_of_range());
}

TEST(MemDevice, ManySequentialWritesAndReads) {
  constexpr uint64_t kBlocks = 2048;
  MemDevice dev(kBs, kBlocks);
  for (uint64_t b = 0; b < kBlocks; ++b) {
    ASSERT_TRUE(dev.write_block(b, pattern(kBs, static_cast<uint32_t>(b))).is_ok());
  }
  for (uint64_t b = 0; b < kBlocks; ++b) {
    ASSERT_EQ(read_all(dev, b, 1), pattern(kBs, static_cast<uint32_t>(b))) << b;
  }
  EXPECT_EQ(dev.stats().used_blocks, kBlocks);
}

TEST(MemDevice, ConcurrentWritersOnDisjointBlocks) {
  constexpr int kThreads = 8;
  constexpr uint64_t kPerThread = 64;
  MemDevice dev(kBs, kThreads * kPerThread);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&dev, t] {
      for (int round = 0; round < 4; ++round) {
        for (uint64_t i = 0; i < kPerThread; ++i) {
          const uint64_t b = static_cast<uint64_t>(t) * kPerThread + i;
          EXPECT_TRUE(dev.write_block(b, pattern(kBs, static_cast<uint32_t>(b * 4 + round))).is_ok());
          std::vector<uint8_t> out(kBs);
          EXPECT_TRUE(dev.read_block(b, out).is_ok());
          EXPECT_EQ(out, pattern(kBs, static_cast<uint32_t>(b * 4 + round)));
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (uint64_t b = 0; b < kThreads * kPerThread; ++b) {
    ASSERT_EQ(read_all(dev, b, 1), pattern(kBs, static_cast<uint32_t>(b * 4 + 3))) << b;
  }
}

TEST(MemDevice, LargeSparseDeviceIsCheap) {
  // 2^40 blocks of 4 KiB (4 PiB): only touched blocks cost memory.
  MemDevice dev(4096, uint64_t{1} << 40);
  const uint64_t last = dev.block_count() - 1;
  ASSERT_TRUE(dev.write_block(last, pattern(4096, 12)).is_ok());
  EXPECT_EQ(state_of(dev, last), BlockState::kUsed);
  EXPECT_EQ(dev.stats().free_blocks, dev.block_count() - 1);
  int runs = 0;
  ASSERT_TRUE(dev.state_runs(0, dev.block_count(), [&](uint64_t, uint64_t, BlockState) { ++runs; }).is_ok());
  EXPECT_EQ(runs, 2);
  ASSERT_TRUE(dev.trim_blocks(0, dev.block_count()).is_ok());
  EXPECT_EQ(state_of(dev, last), BlockState::kTrimmed);
}

}  // namespace
}  // namespace vblk
