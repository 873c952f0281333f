// FaultDevice: deterministic simulated faults over a MemDevice.

#include "vblk/fault_device.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "inject/command.h"
#include "log_capture.h"
#include "vblk/mem_device.h"

namespace vblk {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr uint32_t kBs = 512;
constexpr uint64_t kBlocks = 64;

using test::LogCapture;

class FaultDeviceTest : public ::testing::Test {
 protected:
  FaultDeviceTest() : dev_(std::make_unique<MemDevice>(kBs, kBlocks)) {}
  std::vector<uint8_t> block(uint8_t fill, uint64_t n = 1) { return std::vector<uint8_t>(n * kBs, fill); }
  std::vector<uint8_t> read(uint64_t first, uint64_t count = 1) {
    std::vector<uint8_t> out(count * kBs);
    Status st = dev_.read_blocks(first, count, out);
    EXPECT_TRUE(st.is_ok()) << st.to_string();
    return out;
  }
  FaultDevice dev_;
};

TEST_F(FaultDeviceTest, NoRulesForwardsEverything) {
  ASSERT_TRUE(dev_.write_block(3, block(7)).is_ok());
  EXPECT_EQ(read(3), block(7));
  ASSERT_TRUE(dev_.trim_block(3).is_ok());
  EXPECT_EQ(read(3), block(0));
  EXPECT_EQ(*dev_.state(3), BlockState::kTrimmed);
  EXPECT_TRUE(dev_.flush().is_ok());
  EXPECT_EQ(dev_.block_count(), kBlocks);
  EXPECT_TRUE(dev_.list().empty());
}

TEST_F(FaultDeviceTest, FlakyFailsNextKWritesThenSucceeds) {
  ASSERT_TRUE(dev_.add_flaky(5, 2).is_ok());
  for (int i = 0; i < 2; ++i) {
    Status st = dev_.write_block(5, block(9));
    ASSERT_TRUE(st.is_io_error()) << st.to_string();
    EXPECT_EQ(st.message(), "injected write failure on block 5");
    EXPECT_EQ(st.to_errno(), EIO);
    EXPECT_EQ(*dev_.state(5), BlockState::kFree) << "a failed write changes nothing";
  }
  EXPECT_TRUE(dev_.list().empty()) << "a spent rule is removed";
  ASSERT_TRUE(dev_.write_block(5, block(9)).is_ok());
  EXPECT_EQ(read(5), block(9));
}

TEST_F(FaultDeviceTest, FlakyRemainingCountsDownInList) {
  ASSERT_TRUE(dev_.add_flaky(6, 3).is_ok());
  ASSERT_EQ(dev_.list().size(), 1u);
  EXPECT_EQ(dev_.list()[0].kind, FaultKind::kFlakyWrite);
  EXPECT_EQ(dev_.list()[0].first, 6u);
  EXPECT_EQ(dev_.list()[0].count, 1u);
  EXPECT_EQ(dev_.list()[0].remaining, 3u);
  EXPECT_FALSE(dev_.write_block(6, block(1)).is_ok());
  EXPECT_EQ(dev_.list()[0].remaining, 2u);
  EXPECT_EQ(to_string(dev_.list()[0]), "flaky-write blocks 6-6 remaining 2");
}

TEST_F(FaultDeviceTest, FlakyTouchesOnlyWritesOfThatBlock) {
  ASSERT_TRUE(dev_.add_flaky(5, 1).is_ok());
  EXPECT_TRUE(dev_.write_block(4, block(1)).is_ok());
  EXPECT_TRUE(dev_.write_block(6, block(1)).is_ok());
  std::vector<uint8_t> out(kBs);
  EXPECT_TRUE(dev_.read_block(5, out).is_ok());
  EXPECT_TRUE(dev_.trim_block(5).is_ok());
  ASSERT_EQ(dev_.list().size(), 1u);
  EXPECT_EQ(dev_.list()[0].remaining, 1u) << "reads, trims and other blocks do not use it up";
}

TEST_F(FaultDeviceTest, FlakyFailsWholeMultiBlockWrite) {
  ASSERT_TRUE(dev_.add_flaky(10, 1).is_ok());
  Status st = dev_.write_blocks(8, block(3, 4));
  ASSERT_TRUE(st.is_io_error());
  EXPECT_EQ(st.message(), "injected write failure on block 10");
  for (uint64_t b = 8; b < 12; ++b) EXPECT_EQ(*dev_.state(b), BlockState::kFree) << b;
  ASSERT_TRUE(dev_.write_blocks(8, block(3, 4)).is_ok());
  EXPECT_EQ(read(8, 4), block(3, 4));
}

TEST_F(FaultDeviceTest, FlakyWriteOverSeveralRulesFiresEachAndNamesLowest) {
  ASSERT_TRUE(dev_.add_flaky(12, 1).is_ok());
  ASSERT_TRUE(dev_.add_flaky(10, 2).is_ok());
  Status st = dev_.write_blocks(9, block(3, 5));
  ASSERT_TRUE(st.is_io_error());
  EXPECT_EQ(st.message(), "injected write failure on block 10");
  auto rules = dev_.list();
  ASSERT_EQ(rules.size(), 1u);
  EXPECT_EQ(rules[0].first, 10u);
  EXPECT_EQ(rules[0].remaining, 1u);
}

TEST_F(FaultDeviceTest, AddFlakyReplacesAndZeroRemoves) {
  ASSERT_TRUE(dev_.add_flaky(2, 5).is_ok());
  ASSERT_TRUE(dev_.add_flaky(2, 1).is_ok());
  ASSERT_EQ(dev_.list().size(), 1u);
  EXPECT_EQ(dev_.list()[0].remaining, 1u);
  ASSERT_TRUE(dev_.add_flaky(2, 0).is_ok());
  EXPECT_TRUE(dev_.list().empty());
  EXPECT_TRUE(dev_.write_block(2, block(1)).is_ok());
}

TEST_F(FaultDeviceTest, RulesBeyondDeviceAreOutOfRange) {
  EXPECT_TRUE(dev_.add_flaky(kBlocks, 1).is_out_of_range());
  EXPECT_TRUE(dev_.add_latency(microseconds(10), kBlocks - 1, 2).is_out_of_range());
  EXPECT_TRUE(dev_.add_latency(microseconds(10), kBlocks, 0).is_out_of_range());
  EXPECT_EQ(dev_.add_latency(microseconds(-1), 0, 1).code(), Status::Code::kInvalidArgument);
  EXPECT_TRUE(dev_.list().empty());
}

TEST_F(FaultDeviceTest, LatencyDelaysRequestsInRange) {
  const auto delay = milliseconds(20);
  ASSERT_TRUE(dev_.add_latency(delay, 10, 4).is_ok());
  std::vector<uint8_t> out(kBs);

  auto t0 = Clock::now();
  ASSERT_TRUE(dev_.read_block(12, out).is_ok());
  EXPECT_GE(Clock::now() - t0, delay);

  t0 = Clock::now();
  ASSERT_TRUE(dev_.write_blocks(8, block(1, 3)).is_ok());  // 8-10 touches the rule
  EXPECT_GE(Clock::now() - t0, delay);

  t0 = Clock::now();
  ASSERT_TRUE(dev_.trim_blocks(13, 1).is_ok());
  EXPECT_GE(Clock::now() - t0, delay);
}

TEST_F(FaultDeviceTest, LatencyCountZeroCoversWholeDevice) {
  const auto delay = milliseconds(10);
  ASSERT_TRUE(dev_.add_latency(delay).is_ok());
  ASSERT_EQ(dev_.list().size(), 1u);
  EXPECT_EQ(dev_.list()[0].first, 0u);
  EXPECT_EQ(dev_.list()[0].count, kBlocks);
  EXPECT_EQ(dev_.list()[0].latency, delay);
  EXPECT_EQ(to_string(dev_.list()[0]), "latency blocks 0-63 delay 10000us");
  for (uint64_t b : {uint64_t{0}, kBlocks / 2, kBlocks - 1}) {
    auto t0 = Clock::now();
    ASSERT_TRUE(dev_.write_block(b, block(2)).is_ok());
    EXPECT_GE(Clock::now() - t0, delay) << b;
  }
}

TEST_F(FaultDeviceTest, OverlappingLatencyRulesAddUp) {
  ASSERT_TRUE(dev_.add_latency(milliseconds(10), 0, 8).is_ok());
  ASSERT_TRUE(dev_.add_latency(milliseconds(15), 4, 8).is_ok());
  std::vector<uint8_t> out(kBs);
  auto t0 = Clock::now();
  ASSERT_TRUE(dev_.read_block(5, out).is_ok());
  EXPECT_GE(Clock::now() - t0, milliseconds(25));
}

TEST_F(FaultDeviceTest, ClearRemovesOverlappingRulesOnly) {
  ASSERT_TRUE(dev_.add_flaky(1, 1).is_ok());
  ASSERT_TRUE(dev_.add_flaky(20, 1).is_ok());
  ASSERT_TRUE(dev_.add_latency(microseconds(5), 30, 10).is_ok());
  EXPECT_EQ(dev_.clear(15, 16), 2u);  // block 20 and the latency rule at 30-39
  auto rules = dev_.list();
  ASSERT_EQ(rules.size(), 1u);
  EXPECT_EQ(rules[0].first, 1u);
  EXPECT_EQ(dev_.clear(2, 0), 0u);  // 2 to the end: nothing there
  EXPECT_EQ(dev_.clear(0, 0), 1u);
  EXPECT_TRUE(dev_.list().empty());
  EXPECT_TRUE(dev_.write_block(1, block(1)).is_ok());
}

TEST_F(FaultDeviceTest, ClearAllRemovesEverything) {
  ASSERT_TRUE(dev_.add_flaky(1, 3).is_ok());
  ASSERT_TRUE(dev_.add_latency(microseconds(5)).is_ok());
  dev_.clear_all();
  EXPECT_TRUE(dev_.list().empty());
  EXPECT_TRUE(dev_.write_block(1, block(1)).is_ok());
}

TEST_F(FaultDeviceTest, BadBlocksGoThroughTarget) {
  ASSERT_TRUE(dev_.write_block(7, block(4)).is_ok());
  ASSERT_TRUE(dev_.target().set_bad(7, 1, true).is_ok());
  std::vector<uint8_t> out(kBs);
  EXPECT_TRUE(dev_.read_block(7, out).is_bad_block());
  EXPECT_TRUE(dev_.write_block(7, block(4)).is_bad_block());
  EXPECT_EQ(*dev_.state(7), BlockState::kBad);
  EXPECT_EQ(dev_.stats().bad_blocks, 1u);
  EXPECT_TRUE(dev_.list().empty()) << "BAD is persistent device state, not a rule";
  // set_bad through the wrapper is forwarded too.
  ASSERT_TRUE(dev_.set_bad(7, 1, false).is_ok());
  EXPECT_EQ(*dev_.state(7), BlockState::kTrimmed);
}

TEST_F(FaultDeviceTest, EveryInjectionIsLogged) {
  LogCapture logs;
  ASSERT_TRUE(dev_.add_flaky(3, 1).is_ok());
  ASSERT_TRUE(dev_.add_latency(microseconds(1), 9, 1).is_ok());
  EXPECT_FALSE(dev_.write_block(3, block(1)).is_ok());
  std::vector<uint8_t> out(kBs);
  EXPECT_TRUE(dev_.read_block(9, out).is_ok());
  const std::string text = logs.text();
  EXPECT_NE(text.find("injecting write failure into block 3"), std::string::npos) << text;
  EXPECT_NE(text.find("injecting 1us latency into block 9"), std::string::npos) << text;
  EXPECT_NE(text.find("[warning]"), std::string::npos) << text;
}

TEST_F(FaultDeviceTest, ConcurrentWritersUseUpFlakyRuleExactly) {
  constexpr uint64_t kFailures = 100;
  ASSERT_TRUE(dev_.add_flaky(0, kFailures).is_ok());
  std::atomic<uint64_t> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      auto data = block(5);
      for (int i = 0; i < 50; ++i) {
        if (!dev_.write_block(0, data).is_ok()) failed.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failed.load(), kFailures);
  EXPECT_TRUE(dev_.list().empty());
}

TEST_F(FaultDeviceTest, MalformedRequestsReachTarget) {
  std::vector<uint8_t> odd(kBs + 1);
  EXPECT_EQ(dev_.write_blocks(0, odd).code(), Status::Code::kInvalidArgument);
  EXPECT_TRUE(dev_.write_blocks(kBlocks, block(1)).is_out_of_range());
}

// ---- remap and cutting rules ----------------------------------------------

class RemapTest : public ::testing::Test {
 protected:
  RemapTest() : dev_(std::make_unique<MemDevice>(512, 64)) {}
  std::vector<uint8_t> block(uint8_t fill, uint64_t n = 1) { return std::vector<uint8_t>(n * 512, fill); }
  FaultDevice dev_;
};

TEST_F(RemapTest, WriteToRemapBadBlockClearsTheMark) {
  ASSERT_TRUE(dev_.set_bad(10, 2, true).is_ok());
  ASSERT_TRUE(dev_.add_remap(10, 1).is_ok());
  std::vector<uint8_t> out(512);
  EXPECT_TRUE(dev_.read_block(10, out).is_bad_block());
  ASSERT_TRUE(dev_.write_block(10, block(7)).is_ok());
  EXPECT_EQ(*dev_.state(10), BlockState::kUsed);
  ASSERT_TRUE(dev_.read_block(10, out).is_ok());
  EXPECT_EQ(out, block(7));
  EXPECT_TRUE(dev_.write_block(11, block(8)).is_bad_block()) << "block 11 has no remap rule";
  EXPECT_EQ(*dev_.state(11), BlockState::kBad);
}

TEST_F(RemapTest, WriteSpanningAnUnremappedBadBlockChangesNothing) {
  ASSERT_TRUE(dev_.set_bad(10, 2, true).is_ok());
  ASSERT_TRUE(dev_.add_remap(10, 1).is_ok());
  EXPECT_TRUE(dev_.write_blocks(9, block(1, 3)).is_bad_block());
  EXPECT_EQ(*dev_.state(10), BlockState::kBad) << "the remappable block was cleared by a failed write";
  EXPECT_EQ(*dev_.state(9), BlockState::kFree);
}

TEST_F(RemapTest, RemapRuleStaysAfterFiringAndCoveredRangesAddNothing) {
  ASSERT_TRUE(dev_.add_remap(0, 16).is_ok());
  ASSERT_TRUE(dev_.add_remap(4, 4).is_ok());
  EXPECT_EQ(dev_.list().size(), 1u);
  ASSERT_TRUE(dev_.set_bad(3, 1, true).is_ok());
  ASSERT_TRUE(dev_.write_block(3, block(1)).is_ok());
  ASSERT_TRUE(dev_.set_bad(3, 1, true).is_ok());
  ASSERT_TRUE(dev_.write_block(3, block(2)).is_ok());
  EXPECT_EQ(dev_.list().size(), 1u);
  EXPECT_TRUE(dev_.add_remap(60, 5).is_out_of_range());
  EXPECT_TRUE(dev_.add_remap(0, 0).is_out_of_range());
}

TEST_F(RemapTest, FlakyFiresBeforeRemap) {
  ASSERT_TRUE(dev_.set_bad(5, 1, true).is_ok());
  ASSERT_TRUE(dev_.add_remap(5, 1).is_ok());
  ASSERT_TRUE(dev_.add_flaky(5, 1).is_ok());
  EXPECT_TRUE(dev_.write_block(5, block(3)).is_io_error());
  EXPECT_EQ(*dev_.state(5), BlockState::kBad);
  EXPECT_TRUE(dev_.write_block(5, block(3)).is_ok());
}

TEST_F(RemapTest, CutKeepsThePartsOutsideTheRange) {
  ASSERT_TRUE(dev_.add_latency(microseconds(10), 0, 64).is_ok());
  ASSERT_TRUE(dev_.add_remap(8, 8).is_ok());
  ASSERT_TRUE(dev_.add_flaky(9, 2).is_ok());
  ASSERT_TRUE(dev_.add_flaky(30, 2).is_ok());
  EXPECT_EQ(dev_.cut(9, 3), 3u);
  std::vector<std::string> rules;
  for (const FaultRule& r : dev_.list()) rules.push_back(inject::rule_command(r));
  EXPECT_EQ(rules, (std::vector<std::string>{"latency 10us 0-8", "latency 10us 12-63", "remap 8", "remap 12-15",
                                             "flaky 30 2"}));
  dev_.remove_remap(0, 64);
  EXPECT_EQ(dev_.list().size(), 3u);
  EXPECT_EQ(dev_.cut(63, 1), 1u);
  EXPECT_EQ(inject::rule_command(dev_.list()[1]), "latency 10us 12-62");
}

}  // namespace
}  // namespace vblk
