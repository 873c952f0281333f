// FileBackend: a single-file image's segments at the file offsets the
// format gives them.
#include "store/file_backend.h"

#include <gtest/gtest.h>

#include <vector>

#include "io/mem_file.h"

namespace vblk::store {
namespace {

constexpr uint64_t kDataStart = 8192;
constexpr uint32_t kSegmentSize = 4096;

struct Fixture {
  io::MemFile file{"img"};
  FileBackend backend{file};
  Fixture() {
    format::Superblock sb;
    sb.data_start = kDataStart;
    sb.segment_size = kSegmentSize;
    backend.set_geometry(sb);
  }
  std::vector<uint8_t> file_bytes(uint64_t offset, size_t n) {
    std::vector<uint8_t> out(n);
    auto got = file.read_at(offset, out);
    out.resize(got.is_ok() ? *got : 0);
    return out;
  }
};

Status append(SegmentBackend& b, uint64_t seg, uint32_t pos, const std::vector<uint8_t>& bytes) {
  const std::span<const uint8_t> parts[] = {bytes};
  return b.append(seg, pos, parts);
}

Result<size_t> read(SegmentBackend& b, uint64_t seg, uint32_t pos, std::vector<uint8_t>& out) {
  const std::span<uint8_t> parts[] = {out};
  return b.read(seg, pos, parts);
}

TEST(FileBackend, SegmentsLieAtTheirFileOffsets) {
  Fixture f;
  ASSERT_TRUE(append(f.backend, 2, 0, {1, 2, 3}));
  ASSERT_TRUE(append(f.backend, 2, 3, {4, 5}));
  EXPECT_EQ(f.file_bytes(kDataStart + 2 * kSegmentSize, 5), (std::vector<uint8_t>{1, 2, 3, 4, 5}));
  std::vector<uint8_t> out(4);
  auto n = read(f.backend, 2, 1, out);
  ASSERT_TRUE(n.is_ok());
  EXPECT_EQ(*n, 4u);
  EXPECT_EQ(out, (std::vector<uint8_t>{2, 3, 4, 5}));
}

TEST(FileBackend, AReadNeverCrossesIntoTheNextSegment) {
  Fixture f;
  ASSERT_TRUE(append(f.backend, 1, 0, std::vector<uint8_t>(kSegmentSize, 0xaa)));
  std::vector<uint8_t> out(100, 0);
  auto n = read(f.backend, 0, kSegmentSize - 10, out);
  ASSERT_TRUE(n.is_ok());
  EXPECT_EQ(*n, 10u) << "segment 1's bytes are not segment 0's";
  auto past = read(f.backend, 0, kSegmentSize + 5, out);
  ASSERT_TRUE(past.is_ok());
  EXPECT_EQ(*past, 0u);
}

TEST(FileBackend, ReadsIntoSeveralPartsBackToBack) {
  Fixture f;
  ASSERT_TRUE(append(f.backend, 0, 0, {9, 8, 7, 6}));
  std::vector<uint8_t> a(1), b(3);
  const std::span<uint8_t> parts[] = {a, b};
  auto n = f.backend.read(0, 0, parts);
  ASSERT_TRUE(n.is_ok());
  EXPECT_EQ(*n, 4u);
  EXPECT_EQ(a[0], 9);
  EXPECT_EQ(b, (std::vector<uint8_t>{8, 7, 6}));
}

TEST(FileBackend, DiscardAndReleaseReadAsZeros) {
  Fixture f;
  ASSERT_TRUE(append(f.backend, 0, 0, std::vector<uint8_t>(64, 0x11)));
  ASSERT_TRUE(append(f.backend, 1, 0, std::vector<uint8_t>(64, 0x22)));
  ASSERT_TRUE(f.backend.discard(0, 16, 16));
  ASSERT_TRUE(f.backend.release(1));
  std::vector<uint8_t> out(64);
  ASSERT_TRUE(read(f.backend, 0, 0, out).is_ok());
  EXPECT_EQ(out[15], 0x11);
  EXPECT_EQ(out[16], 0);
  EXPECT_EQ(out[31], 0);
  EXPECT_EQ(out[32], 0x11);
  ASSERT_TRUE(read(f.backend, 1, 0, out).is_ok());
  EXPECT_EQ(out, std::vector<uint8_t>(64, 0));
}

TEST(FileBackend, HeaderAreaAndOverwrite) {
  Fixture f;
  ASSERT_TRUE(f.backend.write_header(4096, std::vector<uint8_t>{5, 5}));
  EXPECT_EQ(f.file_bytes(4096, 2), (std::vector<uint8_t>{5, 5}));
  std::vector<uint8_t> h(2);
  ASSERT_TRUE(f.backend.read_header(4096, h).is_ok());
  EXPECT_EQ(h, (std::vector<uint8_t>{5, 5}));
  ASSERT_TRUE(append(f.backend, 0, 0, {1, 2, 3}));
  ASSERT_TRUE(f.backend.overwrite(0, 1, std::vector<uint8_t>{0}));
  EXPECT_EQ(f.file_bytes(kDataStart, 3), (std::vector<uint8_t>{1, 0, 3}));
  auto end = f.backend.end_of_data();
  ASSERT_TRUE(end.is_ok());
  EXPECT_EQ(*end, kDataStart + 3);
}

TEST(FileBackend, AFailingHostWriteIsReported) {
  io::MemFile small("img", {}, kDataStart + 10);
  FileBackend backend(small);
  format::Superblock sb;
  sb.data_start = kDataStart;
  sb.segment_size = kSegmentSize;
  backend.set_geometry(sb);
  EXPECT_FALSE(append(backend, 0, 0, std::vector<uint8_t>(64, 1)));
}

}  // namespace
}  // namespace vblk::store
