// The fault-injection command language (inject/command.h): parsing every
// action, null_blk's range syntax, refusals, the canonical text, durations.

#include "inject/command.h"

#include <gtest/gtest.h>

#include <chrono>

#include "vblk/status.h"

namespace vblk {
namespace {

using inject::Action;
using inject::BlockRange;
using inject::parse_command;
using inject::WritePolicy;
using std::chrono::microseconds;

TEST(InjectCommand, ParsesEveryAction) {
  auto c = parse_command("bad 10-20 remap");
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  EXPECT_EQ(c->action, Action::kBad);
  EXPECT_EQ(c->range, (BlockRange{10, 11}));
  EXPECT_EQ(c->on_write, WritePolicy::kRemap);
  EXPECT_EQ(parse_command("bad 7")->on_write, WritePolicy::kFail);
  EXPECT_EQ(parse_command("flaky 5 3")->fail_writes, 3u);
  EXPECT_EQ(parse_command("corrupt 9")->range, (BlockRange{9, 1}));
  EXPECT_EQ(parse_command("latency 20ms")->latency, microseconds(20000));
  EXPECT_FALSE(parse_command("latency 20ms")->range.has_value());
  EXPECT_EQ(parse_command("latency 1.5 0-9")->latency, microseconds(1500));
  EXPECT_EQ(parse_command("clear all")->range, std::nullopt);
  EXPECT_EQ(parse_command("  clear\t3-4 \n")->range, (BlockRange{3, 2}));
  EXPECT_EQ(parse_command("list")->action, Action::kList);
  EXPECT_EQ(parse_command("remap 1-2")->action, Action::kRemap);
  EXPECT_EQ(parse_command("powercut")->action, Action::kPowercut);
  EXPECT_FALSE(parse_command("powercut")->power_on);
  EXPECT_TRUE(parse_command("powercut continue")->power_on);
}

TEST(InjectCommand, NullBlkRanges) {
  auto plus = parse_command("+100-199");
  ASSERT_TRUE(plus.is_ok());
  EXPECT_EQ(plus->action, Action::kBad);
  EXPECT_EQ(plus->range, (BlockRange{100, 100}));
  auto minus = parse_command("-5");
  ASSERT_TRUE(minus.is_ok());
  EXPECT_EQ(minus->action, Action::kClear);
  EXPECT_EQ(minus->range, (BlockRange{5, 1}));
}

TEST(InjectCommand, RejectsMalformedCommands) {
  for (const char* bad : {"",
                          "frob 1",
                          "bad",
                          "bad 5-3",
                          "bad x",
                          "bad 1 sometimes",
                          "flaky 1",
                          "flaky 1 0",
                          "flaky 1-2 3",
                          "corrupt",
                          "latency",
                          "latency -1ms",
                          "latency 0",
                          "latency 2h",
                          "clear",
                          "list 3",
                          "+1-2 extra",
                          "bad 18446744073709551616",
                          "bad 0-18446744073709551615",
                          "powercut now",
                          "powercut continue 1"}) {
    auto c = parse_command(bad);
    EXPECT_FALSE(c.is_ok()) << "accepted '" << bad << "'";
    if (!c.is_ok()) {
      EXPECT_EQ(c.status().code(), Status::Code::kInvalidArgument) << bad;
    }
  }
}

TEST(InjectCommand, TextRoundTrips) {
  for (const char* text :
       {"bad 10-20 remap", "bad 7 fail", "remap 3-4", "flaky 5 2", "corrupt 9", "latency 250us", "latency 20ms 0-1023",
        "latency 2s 5", "clear 1-2", "clear all", "list", "powercut", "powercut continue"}) {
    auto c = parse_command(text);
    ASSERT_TRUE(c.is_ok()) << text;
    EXPECT_EQ(inject::to_text(*c), text);
    EXPECT_EQ(*parse_command(inject::to_text(*c)), *c);
  }
}

TEST(InjectCommand, Durations) {
  EXPECT_EQ(*inject::parse_duration("500us"), microseconds(500));
  EXPECT_EQ(*inject::parse_duration("0.5"), microseconds(500));
  EXPECT_EQ(*inject::parse_duration("2s"), microseconds(2000000));
  EXPECT_EQ(*inject::parse_duration("0.25s"), microseconds(250000));
  EXPECT_FALSE(inject::parse_duration("ms").is_ok());
  EXPECT_FALSE(inject::parse_duration("1.ms").is_ok());
  EXPECT_FALSE(inject::parse_duration("3601s").is_ok());
  EXPECT_EQ(inject::duration_text(microseconds(1500)), "1500us");
  EXPECT_EQ(inject::duration_text(microseconds(3000)), "3ms");
}

}  // namespace
}  // namespace vblk
