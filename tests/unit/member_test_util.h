#pragma once
// What the member-set tests share: the small layout they use, opening a
// store with its member backend, member file names, and blocks of known
// data spread over a disk, written and read back.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "store/member_backend.h"
#include "vblk/image_store.h"

namespace vblk::test {

inline constexpr uint32_t kMemberTestBlock = 4096;

// D = 4 in groups of 2, one global parity: members 0-3 data, 4-5 the local
// parity of groups 0 and 1, 6 global parity (7.. spares, when a test adds
// them). Small chunks (many rows per segment) and raw payloads: every byte
// lands where it is written.
inline FormatOptions small_member_format(uint64_t capacity_bytes = 64ull << 20) {
  FormatOptions f;
  f.capacity_bytes = capacity_bytes;
  f.segment_size = 1u << 20;
  f.compression_level = 0;
  f.members.data_members = 4;
  f.members.group_size = 2;
  f.members.global_parity = 1;
  f.members.chunk_size = 4096;
  return f;
}

// A store over a member set, and its backend (owned by the store).
struct MemberStore {
  std::unique_ptr<ImageStore> store;
  store::MemberBackend* backend = nullptr;
};
inline Result<MemberStore> open_member_store(const std::string& path, const OpenOptions& opts = {}) {
  auto st = ImageStore::open(path, opts);
  if (!st) return st.status();
  MemberStore o;
  o.backend = (*st)->member_backend();
  if (!o.backend) return Status::invalid_argument(path + ": not a member set");
  o.store = std::move(*st);
  return o;
}

// Member m's file of the image at `image` (vblk-format's default names).
inline std::string member_file(const std::string& image, uint32_t m) {
  char name[32];
  std::snprintf(name, sizeof name, "m%03u", m);
  return image + ".members/" + name;
}

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
