#include "vblk/size_parse.h"

#include <gtest/gtest.h>

namespace vblk {
namespace {

uint64_t ok(std::string_view s) {
  auto r = parse_size(s);
  EXPECT_TRUE(r.is_ok()) << s << ": " << r.status().to_string();
  return r.is_ok() ? r.value() : 0;
}

void fails(std::string_view s, std::string_view why) {
  auto r = parse_size(s);
  ASSERT_FALSE(r.is_ok()) << s << " parsed as " << r.value();
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("'" + std::string(s) + "'"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find(why), std::string::npos) << r.status().message();
}

TEST(ParseSize, PlainBytes) {
  EXPECT_EQ(ok("0"), 0u);
  EXPECT_EQ(ok("512"), 512u);
  EXPECT_EQ(ok("512B"), 512u);
  EXPECT_EQ(ok("512b"), 512u);
  EXPECT_EQ(ok(" 4096 "), 4096u);
  EXPECT_EQ(ok("+7"), 7u);
  EXPECT_EQ(ok("18446744073709551615"), UINT64_MAX);
}

TEST(ParseSize, Suffixes) {
  EXPECT_EQ(ok("1K"), 1024u);
  EXPECT_EQ(ok("4k"), 4096u);
  EXPECT_EQ(ok("1M"), 1ull << 20);
  EXPECT_EQ(ok("8G"), 8ull << 30);
  EXPECT_EQ(ok("8g"), 8ull << 30);
  EXPECT_EQ(ok("2T"), 2ull << 40);
  EXPECT_EQ(ok("1P"), 1ull << 50);
  EXPECT_EQ(ok("15E"), 15ull << 60);
}

TEST(ParseSize, OptionalBAndIB) {
  EXPECT_EQ(ok("8GB"), 8ull << 30);
  EXPECT_EQ(ok("8GiB"), 8ull << 30);
  EXPECT_EQ(ok("8gib"), 8ull << 30);
  EXPECT_EQ(ok("64KiB"), 64ull << 10);
  EXPECT_EQ(ok("1mb"), 1ull << 20);
}

TEST(ParseSize, ExactFractions) {
  EXPECT_EQ(ok("1.5G"), 3ull << 29);
  EXPECT_EQ(ok("0.5K"), 512u);
  EXPECT_EQ(ok("1.0"), 1u);
  EXPECT_EQ(ok("2.25M"), 9ull << 18);
  EXPECT_EQ(ok(".5K"), 512u);
  EXPECT_EQ(ok("1.5000000000000000000000000G"), 3ull << 29);
}

TEST(ParseSize, InexactFractionRejected) {
  fails("1.5", "whole number of bytes");
  fails("0.1K", "whole number of bytes");
  fails("1.00000000000000000001G", "whole number of bytes");
}

TEST(ParseSize, EmptyRejected) {
  fails("", "empty");
  fails("   ", "empty");
}

TEST(ParseSize, NegativeRejected) {
  fails("-1", "negative");
  fails("-8G", "negative");
}

TEST(ParseSize, OverflowRejected) {
  fails("18446744073709551616", "too large");
  fails("16E", "too large");
  fails("99999999999999999999999999999G", "too large");
  fails("16383.99999999999999999P", "whole number");
}

TEST(ParseSize, GarbageRejected) {
  fails("abc", "not a number");
  fails("G", "not a number");
  fails(".", "not a number");
  fails("8X", "unknown suffix");
  fails("8GG", "unknown suffix");
  fails("8 G", "unknown suffix");
  fails("1e9", "unknown suffix");
  fails("0x10", "unknown suffix");
  fails("8Gi", "unknown suffix");
  fails("1.2.3", "unknown suffix");
}

TEST(FormatSize, Units) {
  EXPECT_EQ(format_size(0), "0 B");
  EXPECT_EQ(format_size(1023), "1023 B");
  EXPECT_EQ(format_size(1024), "1.0 KiB");
  EXPECT_EQ(format_size(1536), "1.5 KiB");
  EXPECT_EQ(format_size(1ull << 30), "1.0 GiB");
  EXPECT_EQ(format_size(8ull << 30), "8.0 GiB");
  EXPECT_EQ(format_size((1ull << 20) - 1), "1.0 MiB");
  EXPECT_EQ(format_size(1ull << 50), "1.0 PiB");
  EXPECT_EQ(format_size(UINT64_MAX), "16.0 EiB");
}

TEST(FormatSize, RoundTripsThroughParse) {
  for (uint64_t v : {1ull << 10, 3ull << 29, 16ull << 40}) {
    std::string s = format_size(v);
    s.erase(s.find(' '), 1);
    EXPECT_EQ(ok(s), v) << s;
  }
}

}  // namespace
}  // namespace vblk
