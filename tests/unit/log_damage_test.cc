// Damage in the log (vblk(5) RECOVERY): one record of a log that spans
// several flushes, segments and a checkpoint is damaged, in its payload or
// in its header, and the image is then opened as a crash after each later
// call would have left it. Whatever the record and the cut:
//   - no write acknowledged by a flush, other than the damaged record's own
//     blocks, is lost or read back as older data;
//   - every other block reads as after a crash without damage, or (if no
//     flush covered it) as its acknowledged contents or a later write;
//   - a read of a block whose record is damaged fails with a corruption
//     error (or, for a block in an intact unit of the record, returns its
//     data: a unit before the damaged one, or any other when the units are
//     independent), and check() names exactly the damaged record's live
//     blocks;
//   - ZERO, TRIM and BAD records whose header is damaged are replayed from
//     the FLUSH record's descriptors: nothing is lost at all.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <set>

#include "format/format.h"
#include "test_util.h"
#include "vblk/image_store.h"

namespace vblk {
namespace {

constexpr uint32_t kBs = 4096;
constexpr uint64_t kBlocks = 512;
constexpr uint32_t kSegment = 1u << 20;

using Bytes = std::vector<uint8_t>;

using test::slurp;
using test::spit;

// What one block reads as: a hash of its bytes, or one of the failures.
constexpr uint64_t kReadsBad = 1;      // fails: a BAD block
constexpr uint64_t kReadsDamaged = 2;  // fails: corruption
uint64_t content_of(std::span<const uint8_t> block) { return format::hash64(block.data(), block.size()) | 4; }
const uint64_t kZeros = content_of(Bytes(kBs));

std::vector<uint64_t> read_all(ImageStore& s) {
  std::vector<uint64_t> out(kBlocks);
  Bytes buf(kBs);
  for (uint64_t b = 0; b < kBlocks; ++b) {
    Status r = s.read_blocks(b, 1, buf);
    out[b] = r ? content_of(buf) : r.is_bad_block() ? kReadsBad : r.is_corruption() ? kReadsDamaged : 0;
    EXPECT_NE(out[b], 0u) << "block " << b << ": " << r.to_string();
  }
  return out;
}

struct Record {
  uint64_t off;
  format::RecordHeader h;
};

// Every record the segments hold, in file order.
std::vector<Record> records_in(const Bytes& image, uint64_t data_start) {
  std::vector<Record> out;
  for (uint64_t start = data_start; start + format::kSegmentHeaderSize <= image.size(); start += kSegment) {
    if (!format::decode_segment_header({image.data() + start, format::kSegmentHeaderSize})) continue;
    for (uint64_t pos = format::kSegmentHeaderSize; pos + format::kRecordHeaderSize <= kSegment;) {
      if (start + pos + format::kRecordHeaderSize > image.size()) break;
      auto h = format::decode_record_header({image.data() + start + pos, format::kRecordHeaderSize});
      if (!h) break;
      out.push_back({start + pos, *h});
      pos += format::record_total_length(h->stored_len);
    }
  }
  return out;
}

class LogDamage : public ::testing::Test {
 protected:
  void SetUp() override {
    previous_level_ = spdlog::default_logger()->level();
    path_ = dir_.path("img");
    FormatOptions f;
    f.capacity_bytes = kBlocks * kBs;
    f.segment_size = kSegment;
    f.data_start = 3 * 4096;
    ASSERT_TRUE(ImageStore::create(path_, f).is_ok());
    OpenOptions o;
    o.background_maintenance = false;
    o.checkpoint_log_bytes = 1ull << 40;  // the one checkpoint is the workload's
    // At the image's level, so that each record takes the smaller of its
    // unit layouts: the log holds both.
    o.defer_compression = false;
    auto st = ImageStore::open(path_, o);
    ASSERT_TRUE(st.is_ok());
    ImageStore& s = **st;
    std::mt19937_64 rng(7);
    // The acknowledged contents of each block (kReadsBad for BAD blocks).
    std::vector<uint64_t> acked(kBlocks, kZeros), current(kBlocks, kZeros);
    std::set<uint64_t> bad;
    auto call_done = [&](bool durable) {
      if (durable) acked = current;
      Snapshot snap;
      snap.image = slurp(path_);
      snap.acked = acked;
      snap.durable_call = durable;
      snaps_.push_back(std::move(snap));
      // What a block may read as, beyond the acknowledged contents: any
      // write since the last flush.
      if (durable) unflushed_.clear();
      for (uint64_t b = 0; b < kBlocks; ++b)
        if (current[b] != acked[b]) unflushed_[b].insert(current[b]);
      snaps_.back().unflushed = unflushed_;
    };
    auto op = [&] {
      const int kind = static_cast<int>(rng() % 10);
      if (kind < 6) {
        const uint64_t n = 1 + rng() % 40;
        const uint64_t first = rng() % (kBlocks - n);
        if (bad.count(first) || std::any_of(bad.begin(), bad.end(), [&](uint64_t b) { return b >= first && b < first + n; }))
          return;
        // Half-random blocks take independent units, repeated text chained
        // ones (unless the record is one unit).
        Bytes data = kind == 0   ? Bytes(n * kBs)
                     : kind < 4  ? test::random_bytes(n * kBs, rng())
                     : kind == 4 ? test::half_compressible_blocks(n, kBs, rng())
                                 : test::repeated_words(n * kBs, 32 * 1024, rng());
        ASSERT_TRUE(s.write_blocks(first, data).is_ok());
        for (uint64_t i = 0; i < n; ++i) current[first + i] = content_of({data.data() + i * kBs, kBs});
      } else if (kind < 8) {
        const uint64_t n = 1 + rng() % 16;
        const uint64_t first = rng() % (kBlocks - n);
        ASSERT_TRUE(s.trim_blocks(first, n).is_ok());
        for (uint64_t i = 0; i < n; ++i)
          if (!bad.count(first + i)) current[first + i] = kZeros;
      } else if (kind == 8 || bad.empty()) {
        const uint64_t b = rng() % kBlocks;
        ASSERT_TRUE(s.set_bad(b, 1, true).is_ok());
        bad.insert(b);
        current[b] = kReadsBad;
      } else {
        const uint64_t b = *bad.begin();
        ASSERT_TRUE(s.set_bad(b, 1, false).is_ok());
        bad.erase(b);
        current[b] = kZeros;
      }
      call_done(false);
    };
    auto round = [&](bool flush) {
      for (int i = 0; i < 5 && !HasFatalFailure(); ++i) op();
      if (!flush) return;
      ASSERT_TRUE(s.flush().is_ok());
      call_done(true);
    };
    call_done(true);
    for (int r = 0; r < 5; ++r) round(true);
    ASSERT_TRUE(s.checkpoint().is_ok());
    call_done(true);
    for (int r = 0; r < 7; ++r) round(r < 6);  // the last round is never flushed
    test::abandon(std::move(*st));
    data_start_ = f.data_start;
    records_ = records_in(snaps_.back().image, data_start_);
    std::set<uint64_t> segments;
    for (const Record& r : records_) segments.insert((r.off - data_start_) / kSegment);
    ASSERT_GE(segments.size(), 2u) << "the log must cross from one segment to the next";
    auto with_flags = [&](uint8_t flags) {
      constexpr uint8_t kLayout = format::kRecordFlagUnitTable | format::kRecordFlagIndependentUnits;
      return std::count_if(records_.begin(), records_.end(),
                           [&](const Record& r) { return (r.h.flags & kLayout) == flags; });
    };
    ASSERT_GE(with_flags(format::kRecordFlagUnitTable), 2) << "the log must hold records of chained units";
    ASSERT_GE(with_flags(format::kRecordFlagUnitTable | format::kRecordFlagIndependentUnits), 2)
        << "the log must hold records of independent units";
    spdlog::default_logger()->set_level(spdlog::level::err);
    for (Snapshot& snap : snaps_) ASSERT_NO_FATAL_FAILURE(open_undamaged(snap));
  }
  void TearDown() override { spdlog::default_logger()->set_level(previous_level_); }

  struct Snapshot {
    Bytes image;                 // the image file after the call
    std::vector<uint64_t> acked; // block contents a completed flush promised
    std::map<uint64_t, std::set<uint64_t>> unflushed;  // later contents a block may show
    bool durable_call = false;   // a flush or checkpoint
    // The crash without damage: what each block reads, and the record
    // holding its live version.
    std::vector<uint64_t> clean;
    std::vector<uint64_t> record_of;
  };

  void open_undamaged(Snapshot& snap) {
    spit(dir_.path("clean"), snap.image);
    OpenOptions o;
    o.read_only = true;
    auto st = ImageStore::open(dir_.path("clean"), o);
    ASSERT_TRUE(st.is_ok()) << st.status().to_string();
    snap.clean = read_all(**st);
    for (uint64_t b = 0; b < kBlocks; ++b) {
      auto loc = (*st)->locate(b);
      ASSERT_TRUE(loc.is_ok());
      snap.record_of.push_back(loc->record_offset);
    }
  }

  // First snapshot holding record r.
  size_t first_snapshot(const Record& r) const {
    for (size_t k = 0; k < snaps_.size(); ++k) {
      const Bytes& img = snaps_[k].image;
      if (img.size() >= r.off + format::kRecordHeaderSize &&
          std::equal(img.begin() + static_cast<ptrdiff_t>(r.off),
                     img.begin() + static_cast<ptrdiff_t>(r.off + format::kRecordHeaderSize),
                     snaps_.back().image.begin() + static_cast<ptrdiff_t>(r.off)))
        return k;
    }
    return snaps_.size();
  }

  enum class Part { kPayload, kHeader };

  // Opens snapshot k with record r damaged and checks the rules above.
  void verify(const Record& r, Part part, size_t k, bool covered) {
    const Snapshot& snap = snaps_[k];
    SCOPED_TRACE(std::string(format::record_type_name(r.h.type)) + " record " + std::to_string(r.h.seq) +
                 " at offset " + std::to_string(r.off) + ", damaged " +
                 (part == Part::kPayload ? "payload" : "header") + ", crash after call " + std::to_string(k) +
                 (covered ? " (a flush covered it)" : " (no flush covered it)"));
    const std::vector<uint64_t>& clean = snap.clean;
    std::set<uint64_t> holds;  // blocks whose live version the damaged record holds
    for (uint64_t b = 0; b < kBlocks; ++b)
      if (snap.record_of[b] == r.off) holds.insert(b);
    Bytes image = snap.image;
    if (part == Part::kPayload)
      image[r.off + format::kRecordHeaderSize + r.h.stored_len / 2] ^= 0x5a;
    else
      image[r.off + 24] ^= 0x01;  // the first block
    spit(dir_.path("damaged"), image);
    OpenOptions o;
    o.background_maintenance = false;
    auto st = ImageStore::open(dir_.path("damaged"), o);
    ASSERT_TRUE(st.is_ok()) << st.status().to_string();
    const std::vector<uint64_t> got = read_all(**st);
    auto report = (*st)->check();
    ASSERT_TRUE(report.is_ok());
    std::set<uint64_t> named;
    for (const CheckProblem& p : report->problems) {
      EXPECT_TRUE(p.has_block) << p.what;
      named.insert(p.block);
    }
    for (uint64_t b = 0; b < kBlocks; ++b) {
      if (got[b] == kReadsDamaged) {
        EXPECT_TRUE(holds.count(b)) << "block " << b << " fails to read but its record is not the damaged one";
        EXPECT_TRUE(named.count(b)) << "block " << b << " fails to read but check() does not name it";
        continue;
      }
      if (covered) {
        EXPECT_EQ(got[b], clean[b]) << "block " << b << " differs from the crash without damage";
        continue;
      }
      auto later = snap.unflushed.find(b);
      const bool allowed = got[b] == snap.acked[b] || got[b] == clean[b] ||
                           (later != snap.unflushed.end() && later->second.count(got[b]));
      EXPECT_TRUE(allowed) << "block " << b << " reads as neither its acknowledged contents nor a later write";
    }
    if (covered) {
      EXPECT_EQ(named, r.h.type == format::RecordType::kData ? holds : std::set<uint64_t>())
          << "check() must name exactly the damaged record's live blocks";
    } else {
      EXPECT_TRUE(named.empty()) << "a torn tail is not damage";
    }
    ++checked_;
    if (checked_ % 4 == 0 || !named.empty()) {
      ASSERT_TRUE((*st)->close().is_ok());
      st->reset();
      verify_repair(got, named);
    }
  }

  // Repairs the damaged copy: it ends clean, each block named damaged is
  // BAD or reads as before, every other block reads exactly as before.
  void verify_repair(const std::vector<uint64_t>& before, const std::set<uint64_t>& damaged) {
    OpenOptions o;
    o.background_maintenance = false;
    o.repair = true;
    auto st = ImageStore::open(dir_.path("damaged"), o);
    ASSERT_TRUE(st.is_ok()) << st.status().to_string();
    auto r = (*st)->repair();
    ASSERT_TRUE(r.is_ok()) << r.status().to_string();
    EXPECT_TRUE(r->clean) << "repair did not end clean";
    const std::vector<uint64_t> after = read_all(**st);
    for (uint64_t b = 0; b < kBlocks; ++b) {
      if (damaged.count(b) && after[b] == kReadsBad) continue;
      EXPECT_EQ(after[b], before[b]) << "block " << b << " changed in the repair";
    }
    ++repaired_;
  }

  void sweep(Part part) {
    for (const Record& r : records_) {
      // PAGE and META records of the checkpoint in force are repaired, not
      // replayed (store_repair_test).
      if (r.h.type == format::RecordType::kPage || r.h.type == format::RecordType::kMeta) continue;
      if (part == Part::kPayload && r.h.stored_len == 0) continue;
      const size_t from = first_snapshot(r);
      ASSERT_LT(from, snaps_.size());
      bool covered = false;
      for (size_t k = from; k < snaps_.size(); ++k) {
        // The call that wrote a FLUSH record made it durable; the records
        // before it in that call's snapshot were covered by its claim.
        covered = covered || (snaps_[k].durable_call && r.h.type != format::RecordType::kFlush) ||
                  (k > from && snaps_[k].durable_call);
        if ((k - from) % test::kSanitizedSweepThinning) continue;
        verify(r, part, k, covered);
        if (HasFailure()) return;
      }
    }
  }

  void sweep_and_report(Part part) {
    sweep(part);
    std::printf("%d damaged copies checked over %zu records, %d of them repaired\n", checked_, records_.size(),
                repaired_);
    EXPECT_GT(checked_, 100);
    EXPECT_GT(repaired_, 50);
  }

  test::TempDir dir_{test::TempDir::Backing::kMemory};
  std::string path_;
  uint64_t data_start_ = 0;
  std::vector<Snapshot> snaps_;
  std::map<uint64_t, std::set<uint64_t>> unflushed_;
  std::vector<Record> records_;
  int checked_ = 0;
  int repaired_ = 0;
  spdlog::level::level_enum previous_level_{};
};

TEST_F(LogDamage, PayloadDamageAtEveryRecordThenACrashAtEveryLaterCall) { sweep_and_report(Part::kPayload); }

TEST_F(LogDamage, HeaderDamageAtEveryRecordThenACrashAtEveryLaterCall) { sweep_and_report(Part::kHeader); }

}  // namespace
}  // namespace vblk
