// LogWriter: laying records out at the log head, writing them, and what it
// remembers of records not yet durable.
#include "store/log_writer.h"

#include <gtest/gtest.h>

#include "io/mem_file.h"
#include "store/file_backend.h"

namespace vblk::store {
namespace {

constexpr uint32_t kSegmentSize = 64 * 1024;

format::Superblock small_superblock() {
  format::Superblock sb;
  sb.segment_size = kSegmentSize;
  return sb;
}

struct Fixture {
  explicit Fixture(uint64_t max_file_bytes = uint64_t{1} << 30, bool flush_records = true)
      : file("img", {}, max_file_bytes), backend(file), sb(small_superblock()), log(backend, sb, flush_records) {
    backend.set_geometry(sb);
  }
  io::MemFile file;
  FileBackend backend;
  format::Superblock sb;
  SegmentTable segments;
  LogWriter log;
};

PendingRecord data_record(uint64_t first, uint32_t count, size_t payload_bytes) {
  PendingRecord rec;
  rec.header.type = format::RecordType::kData;
  rec.header.first = first;
  rec.header.count = count;
  rec.payload.assign(payload_bytes, 0x5a);
  return rec;
}

TEST(LogWriter, TheFirstRecordOpensSegmentZeroBehindItsHeader) {
  Fixture f;
  PendingRecord rec = data_record(0, 1, 4096);
  auto off = f.log.append(rec, 1, f.segments);
  ASSERT_TRUE(off.is_ok()) << off.status().to_string();
  EXPECT_EQ(*off, f.sb.data_start + format::kSegmentHeaderSize);
  EXPECT_EQ(f.log.head_segment(), 0u);
  EXPECT_EQ(f.log.alloc_seq(), 1u);
  EXPECT_EQ(f.log.next_seq(), 2u);
  EXPECT_EQ(rec.header.seq, 1u);
  EXPECT_EQ(f.segments.state(0), SegmentState::kInUse);
  EXPECT_EQ(f.segments.info(0).fill, f.log.head().fill);
  // What is in the file decodes back to the record.
  std::vector<uint8_t> h(format::kRecordHeaderSize);
  ASSERT_TRUE(f.file.read_at(*off, h).is_ok());
  auto decoded = format::decode_record_header(h);
  ASSERT_TRUE(decoded.is_ok());
  EXPECT_EQ(decoded->seq, 1u);
  EXPECT_EQ(decoded->stored_len, 4096u);
}

TEST(LogWriter, ARecordThatDoesNotFitOpensTheNextFreeSegment) {
  Fixture f;
  for (uint64_t i = 0; i < 3; ++i) {
    PendingRecord rec = data_record(i, 1, 30 * 1024);
    ASSERT_TRUE(f.log.append(rec, 1, f.segments).is_ok());
  }
  EXPECT_EQ(f.log.head_segment(), 1u) << "two 30 KiB records fill a 64 KiB segment";
  EXPECT_EQ(f.log.alloc_seq(), 2u);
  EXPECT_EQ(f.segments.size(), 2u);
}

TEST(LogWriter, ARecordLargerThanASegmentIsRefused) {
  Fixture f;
  PendingRecord rec = data_record(0, 1, kSegmentSize);
  auto off = f.log.append(rec, 1, f.segments);
  EXPECT_EQ(off.status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(f.log.next_seq(), 1u);
  EXPECT_TRUE(f.log.unsynced().empty());
}

TEST(LogWriter, AFailedWriteChangesNothing) {
  Fixture f(/*max_file_bytes=*/16 * 1024);
  PendingRecord rec = data_record(0, 1, 30 * 1024);
  auto off = f.log.append(rec, 1, f.segments);
  EXPECT_FALSE(off.is_ok());
  EXPECT_EQ(f.log.head_segment(), format::kNoSegment);
  EXPECT_EQ(f.log.next_seq(), 1u);
  EXPECT_EQ(f.segments.size(), 0u);
  EXPECT_TRUE(f.log.unsynced().empty());
}

TEST(LogWriter, RecordsStayUnsyncedUntilMarkedDurable) {
  Fixture f;
  for (uint64_t i = 0; i < 3; ++i) {
    PendingRecord rec = data_record(i, 1, 100);
    ASSERT_TRUE(f.log.append(rec, 1, f.segments).is_ok());
  }
  ASSERT_EQ(f.log.unsynced().size(), 3u);
  EXPECT_EQ(f.log.unsynced().front().blocks, 1u);
  f.log.mark_durable(2);
  ASSERT_EQ(f.log.unsynced().size(), 1u);
  EXPECT_EQ(f.log.unsynced().front().seq, 3u);
  EXPECT_GT(f.log.log_since_checkpoint(), 0u);
  EXPECT_TRUE(f.log.changed_since_checkpoint());
  f.log.checkpoint_written();
  EXPECT_EQ(f.log.log_since_checkpoint(), 0u);
  EXPECT_FALSE(f.log.changed_since_checkpoint());
}

TEST(LogWriter, FlushRecordsDescribeBlockRecordsOnce) {
  Fixture f;
  EXPECT_TRUE(f.log.flush_records(0).empty()) << "nothing to claim";
  for (uint64_t i = 0; i < 2; ++i) {
    PendingRecord rec = data_record(10 * i, 3, 100);
    ASSERT_TRUE(f.log.append(rec, 1, f.segments).is_ok());
  }
  const uint64_t upto = f.log.next_seq() - 1;
  auto flush = f.log.flush_records(upto);
  ASSERT_EQ(flush.size(), 1u);
  EXPECT_EQ(flush[0].header.type, format::RecordType::kFlush);
  EXPECT_EQ(flush[0].header.first, upto);
  EXPECT_EQ(flush[0].header.count, 2u) << "one descriptor per block record";
  ASSERT_TRUE(f.log.append(flush[0], 1, f.segments).is_ok());
  f.log.flush_claimed(upto);
  EXPECT_TRUE(f.log.flush_records(f.log.next_seq() - 1).empty()) << "only a FLUSH record came since";
}

TEST(LogWriter, WithoutTheFeatureNoFlushRecords) {
  Fixture f(uint64_t{1} << 30, /*flush_records=*/false);
  PendingRecord rec = data_record(0, 1, 100);
  ASSERT_TRUE(f.log.append(rec, 1, f.segments).is_ok());
  EXPECT_TRUE(f.log.flush_records(1).empty());
}

TEST(LogWriter, DiscardZeroesAFailedBatch) {
  Fixture f;
  PendingRecord a = data_record(0, 1, 100), b = data_record(1, 1, 100);
  auto pa = f.log.place(a, f.log.head(), 1, f.segments.next_to_open());
  ASSERT_TRUE(pa.is_ok());
  auto pb = f.log.place(b, {pa->seg, pa->end_fill, a.header.seq + 1}, 1, f.segments.next_to_open());
  ASSERT_TRUE(pb.is_ok());
  std::vector<std::span<const uint8_t>> parts;
  LogWriter::append_parts(a, *pa, &parts);
  LogWriter::append_parts(b, *pb, &parts);
  ASSERT_TRUE(f.log.write(*pa, parts));
  ASSERT_TRUE(f.log.discard(*pa, *pb));
  std::vector<uint8_t> bytes(pb->offset + pb->total - pa->write_at);
  ASSERT_TRUE(f.file.read_at(pa->write_at, bytes).is_ok());
  EXPECT_EQ(bytes, std::vector<uint8_t>(bytes.size(), 0));
}

TEST(LogWriter, ResetReturnsToAnEmptyLog) {
  Fixture f;
  PendingRecord rec = data_record(0, 1, 100);
  ASSERT_TRUE(f.log.append(rec, 1, f.segments).is_ok());
  f.log.reset();
  EXPECT_EQ(f.log.head_segment(), format::kNoSegment);
  EXPECT_EQ(f.log.next_seq(), 1u);
  EXPECT_TRUE(f.log.unsynced().empty());
}

}  // namespace
}  // namespace vblk::store
