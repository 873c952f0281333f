// Encoding and validation of the on-disk structures (man/vblk.5).
#include <gtest/gtest.h>

#include "format/format.h"
#include "format/unit_table.h"
#include "io/mem_file.h"
#include "store/open.h"
#include "store/store_impl.h"

#include <cstring>
#include <memory>
#include <vector>

namespace vblk::format {
namespace {

Superblock sample_superblock() {
  Superblock sb;
  sb.block_count = 1 << 20;
  sb.label = "disk";
  for (int i = 0; i < 16; ++i) sb.uuid[i] = static_cast<uint8_t>(i * 17);
  return sb;
}

std::array<uint8_t, kSuperblockSize> encoded(const Superblock& sb) {
  std::array<uint8_t, kSuperblockSize> buf{};
  encode_superblock(sb, buf);
  return buf;
}

// Re-seals a modified superblock so validation beyond the checksum runs.
void reseal(std::array<uint8_t, kSuperblockSize>& buf) { put_u64(buf.data() + 504, hash64(buf.data(), 504)); }

TEST(FormatTest, LittleEndianCoding) {
  uint8_t b[8];
  put_u64(b, 0x0102030405060708ull);
  EXPECT_EQ(b[0], 0x08);
  EXPECT_EQ(b[7], 0x01);
  EXPECT_EQ(get_u64(b), 0x0102030405060708ull);
  put_u32(b, 0xa1b2c3d4);
  EXPECT_EQ(b[0], 0xd4);
  EXPECT_EQ(get_u32(b), 0xa1b2c3d4u);
  put_u16(b, 0xbeef);
  EXPECT_EQ(get_u16(b), 0xbeef);
}

TEST(FormatTest, SuperblockRoundTrip) {
  Superblock sb = sample_superblock();
  auto buf = encoded(sb);
  auto got = decode_superblock(buf, "img");
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  EXPECT_EQ(got->block_count, sb.block_count);
  EXPECT_EQ(got->label, "disk");
  EXPECT_EQ(got->uuid, sb.uuid);
  EXPECT_EQ(got->segment_size, kDefaultSegmentSize);
}

TEST(FormatTest, SuperblockBadMagic) {
  auto buf = encoded(sample_superblock());
  buf[0] = 'X';
  auto got = decode_superblock(buf, "img");
  EXPECT_TRUE(got.status().is_corruption());
  EXPECT_NE(got.status().message().find("not a vblk image"), std::string::npos);
}

TEST(FormatTest, SuperblockChecksumMismatch) {
  auto buf = encoded(sample_superblock());
  buf[70] ^= 1;
  EXPECT_NE(decode_superblock(buf, "img").status().message().find("checksum"), std::string::npos);
}

TEST(FormatTest, SuperblockFutureVersionRefused) {
  auto buf = encoded(sample_superblock());
  put_u32(buf.data() + 8, 7);
  auto got = decode_superblock(buf, "img");
  EXPECT_EQ(got.status().code(), Status::Code::kNotSupported);
  EXPECT_NE(got.status().message().find("version 7"), std::string::npos);
}

TEST(FormatTest, SuperblockUnknownIncompatibleFeatureRefused) {
  auto buf = encoded(sample_superblock());
  put_u64(buf.data() + 16, 1ull << 7);
  reseal(buf);
  auto got = decode_superblock(buf, "img");
  EXPECT_EQ(got.status().code(), Status::Code::kNotSupported);
  EXPECT_NE(got.status().message().find("incompatible features"), std::string::npos);
}

TEST(FormatTest, SuperblockUnknownCompatibleFeatureAccepted) {
  auto buf = encoded(sample_superblock());
  put_u64(buf.data() + 24, 1ull << 9);
  reseal(buf);
  EXPECT_TRUE(decode_superblock(buf, "img").is_ok());
}

TEST(FormatTest, SuperblockReservedBytesMustBeZero) {
  auto buf = encoded(sample_superblock());
  buf[300] = 1;
  reseal(buf);
  EXPECT_TRUE(decode_superblock(buf, "img").status().is_corruption());
}

TEST(FormatTest, SuperblockAbsurdGeometryRejected) {
  struct Case {
    size_t at;
    uint64_t value;
    int width;
  } cases[] = {
      {56, 1000, 4},            // block size not a power of two
      {56, 131072, 4},          // block size too large
      {64, 0, 8},               // zero capacity
      {64, 1ull << 60, 8},      // beyond 1 PiB
      {60, 4096, 4},            // segment too small
      {80, 3, 4},               // index page size
      {84, 100, 4},             // record size limit
      {88, 5, 8},               // data start
      {76, 99, 4},              // compression level
      {72, 9, 4},               // compression method
  };
  for (const Case& c : cases) {
    auto buf = encoded(sample_superblock());
    if (c.width == 4)
      put_u32(buf.data() + c.at, static_cast<uint32_t>(c.value));
    else
      put_u64(buf.data() + c.at, c.value);
    reseal(buf);
    EXPECT_TRUE(decode_superblock(buf, "img").status().is_corruption()) << "field at " << c.at;
  }
}

TEST(FormatTest, SuperblockTruncated) {
  auto buf = encoded(sample_superblock());
  EXPECT_TRUE(decode_superblock(std::span(buf).first(100), "img").status().is_corruption());
}

TEST(FormatTest, CheckpointRoundTripAndChecksum) {
  Checkpoint cp;
  cp.generation = 9;
  cp.next_record_seq = 1234;
  cp.head_segment = 3;
  cp.head_fill = 4096;
  cp.meta_last_chunk = 1 << 20;
  cp.meta_chunks = 2;
  std::array<uint8_t, kCheckpointSize> buf{};
  encode_checkpoint(cp, buf);
  auto got = decode_checkpoint(buf);
  ASSERT_TRUE(got.is_ok());
  EXPECT_EQ(got->generation, 9u);
  EXPECT_EQ(got->next_record_seq, 1234u);
  EXPECT_EQ(got->head_fill, 4096u);
  buf[20] ^= 0x10;
  EXPECT_TRUE(decode_checkpoint(buf).status().is_corruption());
}

TEST(FormatTest, RecordHeaderRoundTrip) {
  RecordHeader h;
  h.type = RecordType::kData;
  h.flags = kRecordFlagCompressed;
  h.seq = 77;
  h.generation = 3;
  h.first = 1000;
  h.count = 16;
  h.stored_len = 999;
  h.raw_len = 65536;
  h.payload_hash = 0xdeadbeef;
  std::array<uint8_t, kRecordHeaderSize> buf{};
  encode_record_header(h, buf);
  auto got = decode_record_header(buf);
  ASSERT_TRUE(got.is_ok());
  EXPECT_EQ(got->seq, 77u);
  EXPECT_EQ(got->first, 1000u);
  EXPECT_EQ(got->raw_len, 65536u);
  EXPECT_EQ(record_total_length(999), 64u + 1000u);
}

TEST(FormatTest, RecordHeaderRejectsTornOrAbsurd) {
  RecordHeader h;
  h.stored_len = 10;
  h.raw_len = 10;
  std::array<uint8_t, kRecordHeaderSize> buf{};
  encode_record_header(h, buf);
  auto torn = buf;
  torn[30] ^= 1;
  EXPECT_TRUE(decode_record_header(torn).status().is_corruption());
  // Absurd lengths with a valid checksum.
  h.stored_len = h.raw_len = kMaxRecordPayload + 1;
  encode_record_header(h, buf);
  EXPECT_TRUE(decode_record_header(buf).status().is_corruption());
  // Unknown type.
  h.stored_len = h.raw_len = 0;
  encode_record_header(h, buf);
  buf[4] = 42;
  put_u64(buf.data() + 56, hash64(buf.data(), 56));
  EXPECT_TRUE(decode_record_header(buf).status().is_corruption());
}

TEST(FormatTest, SegmentHeaderRoundTrip) {
  SegmentHeader h;
  h.alloc_seq = 5;
  h.segment_index = 2;
  std::array<uint8_t, kSegmentHeaderSize> buf{};
  encode_segment_header(h, buf);
  EXPECT_EQ(get_u64(buf.data()), kSegmentMagic);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(buf.data()), 7), "VBLKSEG");
  auto got = decode_segment_header(buf);
  ASSERT_TRUE(got.is_ok());
  EXPECT_EQ(got->alloc_seq, 5u);
  buf[9] ^= 1;
  EXPECT_FALSE(decode_segment_header(buf).is_ok());
}

TEST(FormatTest, IndexEntryRoundTrip) {
  IndexEntry e{0x123456789a, 4160, 7, 1, 15};
  uint8_t buf[16];
  encode_index_entry(e, buf);
  EXPECT_EQ(decode_index_entry(buf), e);
}

// A unit table over a made-up frame of four units (the table does not look
// inside the frame): encoded, decoded, each unit's checksum checked.
struct TablePayload {
  static constexpr uint32_t kUnit = 32768, kRaw = 4 * kUnit;
  std::vector<uint32_t> ends{100, 250, 251, 400};
  std::vector<uint8_t> bytes;  // table, then frame
  TablePayload() {
    const size_t table = unit_table_size(4);
    bytes.resize(table + ends.back());
    for (size_t i = table; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i * 7);
    encode_unit_table(kUnit, ends, {bytes.data() + table, ends.back()}, {bytes.data(), table});
    reseal();
  }
  uint32_t stored() const { return static_cast<uint32_t>(bytes.size()); }
  std::span<uint8_t> frame() { return {bytes.data() + unit_table_size(4), ends.back()}; }
  // The record's payload_hash, taken after the table was edited.
  uint64_t hash = 0;
  void reseal() { hash = payload_hash(kRecordFlagCompressed | kRecordFlagUnitTable, bytes); }
};

// The superblock of vblk(5)'s EXAMPLE, byte for byte where the page shows
// it, and its checksum.
TEST(FormatTest, ManPageExampleSuperblock) {
  Superblock sb;
  sb.block_count = 16384;
  sb.created_unix = 1735689600;
  sb.label = "example";
  sb.incompat_features = kFeatureUnitTables | kFeatureDeferredCompression | kFeatureFlushRecords | kFeatureResizable |
                         kFeatureIndependentUnits | kFeatureDeltaCheckpoints;
  const std::array<uint8_t, 16> uuid = {0x1b, 0x4e, 0x28, 0xba, 0x2f, 0xa1, 0x41, 0xd2,
                                        0x88, 0x3f, 0x00, 0x16, 0xd3, 0xcc, 0xa4, 0x27};
  sb.uuid = uuid;
  const auto b = encoded(sb);
  EXPECT_EQ(b[16], 0x3f);  // incompat_features: unit_tables, deferred_compression, flush_records, resizable,
                           // independent_units, delta_checkpoints
  EXPECT_EQ(get_u32(b.data() + 56), 4096u);
  EXPECT_EQ(get_u64(b.data() + 504), 0x3191A97C0DA479D9ull);
}

// The rest of vblk(5)'s EXAMPLE: the image it describes, opened, block 5
// written and flushed, then closed; the offsets and checksums the page
// gives.
TEST(FormatTest, ManPageExampleLog) {
  FormatOptions f;
  f.capacity_bytes = 64 << 20;
  f.label = "example";
  auto sb = store::superblock_for("example.vblk", f);
  ASSERT_TRUE(sb.is_ok());
  sb->uuid = {0x1b, 0x4e, 0x28, 0xba, 0x2f, 0xa1, 0x41, 0xd2, 0x88, 0x3f, 0x00, 0x16, 0xd3, 0xcc, 0xa4, 0x27};
  sb->created_unix = 1735689600;
  auto file = std::make_unique<io::MemFile>("example.vblk");
  io::MemFile* mem = file.get();
  ASSERT_TRUE(store::write_empty_image(*file, *sb).is_ok());
  std::vector<uint8_t> b = mem->contents();
  EXPECT_EQ(get_u64(b.data() + 504), 0x3191A97C0DA479D9ull);
  EXPECT_EQ(get_u64(b.data() + kCheckpointOffset[0] + 504), 0x0F6A9E1BF582E606ull);
  EXPECT_EQ(b.size(), 8704u);
  OpenOptions o;
  o.background_maintenance = false;
  auto st = store::open_image_file(std::move(file), o);
  ASSERT_TRUE(st.is_ok()) << st.status().to_string();
  std::vector<uint8_t> block(4096);
  for (size_t i = 0; i < block.size(); i += 16) std::memcpy(block.data() + i, "block 5 of vblk\n", 16);
  ASSERT_TRUE((*st)->write_blocks(5, block).is_ok());
  ASSERT_TRUE((*st)->flush().is_ok());
  b = mem->contents();
  const uint64_t seg0 = 0x100000;
  EXPECT_EQ(get_u64(b.data() + seg0), kSegmentMagic);
  EXPECT_EQ(get_u64(b.data() + seg0 + 56), 0x94A46D0241D3B4A8ull);
  auto meta = decode_record_header({b.data() + 0x100040, kRecordHeaderSize});
  ASSERT_TRUE(meta.is_ok());
  EXPECT_EQ(meta->stored_len, 72u);
  EXPECT_EQ(meta->payload_hash, 0x0749F1573576D600ull);
  EXPECT_EQ(get_u64(b.data() + kCheckpointOffset[1] + 504), 0xA30EDBAB2BF8699Cull);
  auto data = decode_record_header({b.data() + 0x1000C8, kRecordHeaderSize});
  ASSERT_TRUE(data.is_ok());
  EXPECT_EQ(data->type, RecordType::kData);
  EXPECT_EQ(data->stored_len, 34u);
  EXPECT_EQ(get_u64(b.data() + 0x1000C8 + 56), 0xBD87DD36D31E0495ull);
  auto flush = decode_record_header({b.data() + 0x100130, kRecordHeaderSize});
  ASSERT_TRUE(flush.is_ok());
  EXPECT_EQ(flush->type, RecordType::kFlush);
  ASSERT_TRUE((*st)->close().is_ok());
  b = mem->contents();
  auto page = decode_record_header({b.data() + 0x100198, kRecordHeaderSize});
  ASSERT_TRUE(page.is_ok());
  EXPECT_EQ(page->type, RecordType::kPage);
  EXPECT_EQ(record_total_length(page->stored_len), 96u);
  auto closing = decode_record_header({b.data() + 0x1001F8, kRecordHeaderSize});
  ASSERT_TRUE(closing.is_ok());
  EXPECT_EQ(closing->type, RecordType::kMeta);
  EXPECT_EQ(closing->stored_len, 104u);
  EXPECT_EQ(get_u64(b.data() + 0x1001F8 + kRecordHeaderSize + 104 - 8), 16384u);  // block_count, last
  auto slot0 = decode_checkpoint({b.data() + kCheckpointOffset[0], kCheckpointSize});
  ASSERT_TRUE(slot0.is_ok());
  EXPECT_EQ(slot0->generation, 2u);
  EXPECT_EQ(slot0->head_fill, 672u);
  EXPECT_EQ(slot0->meta_last_chunk, 0x1001F8u);
  EXPECT_EQ(b.size(), 1049248u);
}

TEST(FormatTest, UuidText) {
  EXPECT_EQ(uuid_to_string({0x1b, 0x4e, 0x28, 0xba, 0x2f, 0xa1, 0x41, 0xd2, 0x88, 0x3f, 0x00, 0x16, 0xd3, 0xcc, 0xa4, 0x27}),
            "1b4e28ba-2fa1-41d2-883f-0016d3cca427");
  EXPECT_EQ(uuid_to_string({}), "00000000-0000-0000-0000-000000000000");
}

TEST(FormatTest, UnitTableRoundTrip) {
  TablePayload p;
  EXPECT_EQ(p.hash, hash64(p.bytes.data(), unit_table_size(4)));  // of the table only
  auto t = decode_unit_table(p.bytes, p.stored(), TablePayload::kRaw, p.hash);
  ASSERT_TRUE(t.is_ok()) << t.status().to_string();
  EXPECT_EQ(t->unit_bytes(), TablePayload::kUnit);
  EXPECT_EQ(t->unit_count(), 4u);
  EXPECT_EQ(t->size(), unit_table_size(4));
  for (uint32_t i = 0; i < 4; ++i) EXPECT_EQ(t->end(i), p.ends[i]);
  EXPECT_EQ(t->unit_of(0), 0u);
  EXPECT_EQ(t->unit_of(TablePayload::kUnit), 1u);
  EXPECT_EQ(t->unit_of(TablePayload::kRaw - 1), 3u);
  for (uint32_t last = 0; last < 4; ++last) EXPECT_TRUE(t->check_units(p.frame(), last).is_ok());
  // Only the table need be there to decode it; a unit past the bytes given
  // is refused.
  auto head = decode_unit_table({p.bytes.data(), unit_table_size(4)}, p.stored(), TablePayload::kRaw, p.hash);
  ASSERT_TRUE(head.is_ok());
  EXPECT_TRUE(head->check_units(p.frame().first(250), 1).is_ok());
  EXPECT_TRUE(head->check_units(p.frame().first(250), 2).is_corruption());
}

// A range of units (the bytes given start at the first one's start), as a
// read of independent units checks them; damage in one unit fails only the
// ranges that hold it.
TEST(FormatTest, UnitTableChecksARangeOfUnits) {
  TablePayload p;
  auto t = decode_unit_table(p.bytes, p.stored(), TablePayload::kRaw, p.hash);
  ASSERT_TRUE(t.is_ok()) << t.status().to_string();
  EXPECT_EQ(t->start(0), 0u);
  for (uint32_t i = 1; i < 4; ++i) EXPECT_EQ(t->start(i), p.ends[i - 1]);
  EXPECT_EQ(t->unit_raw_bytes(3, TablePayload::kRaw), TablePayload::kUnit);
  EXPECT_EQ(t->unit_raw_bytes(3, TablePayload::kRaw - 100), TablePayload::kUnit - 100);
  auto range = [&](uint32_t first, uint32_t last) {
    return p.frame().subspan(t->start(first), t->end(last) - t->start(first));
  };
  for (uint32_t first = 0; first < 4; ++first)
    for (uint32_t last = first; last < 4; ++last)
      EXPECT_TRUE(t->check_units(range(first, last), first, last).is_ok()) << first << ".." << last;
  // Short of the last unit's end.
  auto cut = range(1, 3);
  EXPECT_TRUE(t->check_units(cut.first(cut.size() - 1), 1, 3).is_corruption());
  // Damage in unit 1 (frame bytes 100..249).
  p.frame()[120] ^= 1;
  for (uint32_t first = 0; first < 4; ++first)
    for (uint32_t last = first; last < 4; ++last) {
      Status s = t->check_units(range(first, last), first, last);
      EXPECT_EQ(s.is_ok(), first > 1 || last < 1) << first << ".." << last << ": " << s.to_string();
      if (!s) {
        EXPECT_NE(s.message().find("unit 1 of the payload"), std::string::npos) << s.message();
      }
    }
}

TEST(FormatTest, UnitTableRejectsDamage) {
  auto refused = [](TablePayload& p, const char* why, uint32_t raw = TablePayload::kRaw) {
    auto t = decode_unit_table(p.bytes, p.stored(), raw, p.hash);
    EXPECT_TRUE(t.status().is_corruption()) << why;
    EXPECT_NE(t.status().message().find(why), std::string::npos) << t.status().message();
  };
  {
    TablePayload p;
    p.bytes[9] ^= 1;  // unit 0's end, not resealed
    refused(p, "unit table checksum mismatch");
    p.reseal();
    refused(p, "unit ends do not rise");  // unit 0 now ends at 356, past unit 1
  }
  {
    TablePayload p;
    put_u32(p.bytes.data(), 1000), p.reseal();
    refused(p, "unit size 1000 invalid");
  }
  {
    TablePayload p;
    refused(p, "units do not cover", 5 * TablePayload::kUnit);
    put_u32(p.bytes.data() + 4, 1 << 20), p.reseal();
    refused(p, "units");  // a count that would run the checksum past any payload
  }
  {
    TablePayload p;
    put_u32(p.bytes.data() + 8 + 16 * 2, 250), p.reseal();  // unit 2 ends where unit 1 does
    refused(p, "unit ends do not rise");
  }
  {
    TablePayload p;
    put_u32(p.bytes.data() + 8 + 16 * 3, 399), p.reseal();
    refused(p, "the last unit does not end the payload");
  }
  {
    TablePayload p;
    put_u32(p.bytes.data() + 8 + 4, 1), p.reseal();
    refused(p, "reserved bytes are not zero");
  }
  {
    TablePayload p;
    auto t = decode_unit_table({p.bytes.data(), 20}, p.stored(), TablePayload::kRaw, p.hash);
    EXPECT_TRUE(t.status().is_corruption());
    auto longer = decode_unit_table(p.bytes, 40, TablePayload::kRaw, p.hash);
    EXPECT_NE(longer.status().message().find("longer than the payload"), std::string::npos);
  }
  {
    TablePayload p;
    auto t = decode_unit_table(p.bytes, p.stored(), TablePayload::kRaw, p.hash);
    ASSERT_TRUE(t.is_ok());
    p.frame()[260] ^= 1;  // in unit 3
    EXPECT_TRUE(t->check_units(p.frame(), 2).is_ok());
    Status s = t->check_units(p.frame(), 3);
    EXPECT_TRUE(s.is_corruption());
    EXPECT_NE(s.message().find("unit 3"), std::string::npos) << s.message();
  }
}

// Decodes `h` after encoding it.
Result<RecordHeader> round_trip(const RecordHeader& h) {
  std::array<uint8_t, kRecordHeaderSize> buf;
  encode_record_header(h, buf);
  return decode_record_header(buf);
}

// The header of a compressed DATA record of 32 blocks with `flags` too.
RecordHeader compressed_data(uint8_t flags) {
  RecordHeader h;
  h.type = RecordType::kData;
  h.count = 32;
  h.stored_len = 100;
  h.raw_len = 131072;
  h.flags = kRecordFlagCompressed | flags;
  return h;
}

// `flag` is accepted on a compressed DATA record (with `also` set too) and
// refused on an uncompressed one and on a PAGE record.
void expect_only_on_compressed_data(uint8_t flag, uint8_t also = 0) {
  const RecordHeader h = compressed_data(also | flag);
  auto ok = round_trip(h);
  ASSERT_TRUE(ok.is_ok()) << ok.status().to_string();
  EXPECT_EQ(ok->flags, h.flags);
  RecordHeader raw = h;
  raw.flags = flag, raw.stored_len = raw.raw_len;
  EXPECT_TRUE(round_trip(raw).status().is_corruption());
  RecordHeader page = h;
  page.flags = kRecordFlagCompressed | flag, page.type = RecordType::kPage;
  EXPECT_TRUE(round_trip(page).status().is_corruption());
}

TEST(FormatTest, UnitTableFlagOnlyOnCompressedData) { expect_only_on_compressed_data(kRecordFlagUnitTable); }

TEST(FormatTest, ProvisionalFlagOnlyOnCompressedData) {
  expect_only_on_compressed_data(kRecordFlagProvisional, kRecordFlagUnitTable);
  EXPECT_TRUE(round_trip(compressed_data(16)).status().is_corruption());  // bit 4: reserved
}

TEST(FormatTest, IndependentUnitsFlagOnlyWithAUnitTable) {
  expect_only_on_compressed_data(kRecordFlagIndependentUnits, kRecordFlagUnitTable);
  RecordHeader h = compressed_data(kRecordFlagIndependentUnits);
  auto refused = round_trip(h);
  ASSERT_TRUE(refused.status().is_corruption());
  EXPECT_NE(refused.status().message().find("independent units on a record without a unit table"), std::string::npos)
      << refused.status().message();
  h.flags |= kRecordFlagProvisional;
  EXPECT_TRUE(round_trip(h).status().is_corruption());
  h.flags |= kRecordFlagUnitTable;
  EXPECT_TRUE(round_trip(h).is_ok());
}

}  // namespace
}  // namespace vblk::format
