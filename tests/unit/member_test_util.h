#pragma once
// What the member-set tests share: blocks of known data spread over a
// disk, written and read back.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <random>
#include <vector>

#include "vblk/image_store.h"

namespace vblk::test {

inline constexpr uint32_t kMemberTestBlock = 4096;

// Block `block`'s bytes at `version`.
inline std::vector<uint8_t> member_block_data(uint64_t block, uint64_t version) {
  std::vector<uint8_t> b(kMemberTestBlock);
  std::mt19937_64 rng(block * 1000003 + version);
  for (size_t i = 0; i < b.size(); i += 8) {
    uint64_t v = rng();
    std::memcpy(b.data() + i, &v, 8);
  }
  return b;
}

// Writes `count` blocks spread over the disk (several segments, partial
// rows) at `version`, flushing now and then and at the end, and records
// them in `expected` (block -> version).
inline void write_spread(ImageStore& st, uint64_t version, uint64_t count, std::map<uint64_t, uint64_t>& expected) {
  for (uint64_t i = 0; i < count; ++i) {
    const uint64_t block = (i * 37 + version * 11) % 4000;
    ASSERT_TRUE(st.write_blocks(block, member_block_data(block, version))) << block;
    expected[block] = version;
    if (i % 97 == 0) {
      ASSERT_TRUE(st.flush());
    }
  }
  ASSERT_TRUE(st.flush());
}

// Every block of `expected` reads back its version.
inline void expect_blocks(ImageStore& st, const std::map<uint64_t, uint64_t>& expected) {
  std::vector<uint8_t> got(kMemberTestBlock);
  for (auto [block, version] : expected) {
    Status s = st.read_blocks(block, 1, got);
    ASSERT_TRUE(s) << "block " << block << ": " << s.to_string();
    ASSERT_EQ(got, member_block_data(block, version)) << "block " << block;
  }
}

}  // namespace vblk::test
