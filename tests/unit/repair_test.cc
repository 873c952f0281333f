// Repair (vblk(5) REPAIR): damaged blocks become BAD blocks, blocks of a
// damaged record that still read keep their data, a damaged index page and
// a checkpoint whose slots are both destroyed are rebuilt from the log, and
// the repaired image checks clean and reads back as before.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <map>
#include <random>

#include "format/format.h"
#include "test_util.h"
#include "vblk/image_store.h"

namespace vblk {
namespace {

constexpr uint32_t kBs = 4096;
constexpr uint64_t kBlocks = 4096;  // 4 index pages of 1024 entries

using Bytes = std::vector<uint8_t>;

using test::slurp;
using test::spit;

// A new image of kBlocks blocks in `dir`, 1 MiB segments; its path.
std::string create_image(test::TempDir& dir) {
  const std::string path = dir.path("img");
  FormatOptions f;
  f.capacity_bytes = kBlocks * kBs;
  f.segment_size = 1u << 20;
  EXPECT_TRUE(ImageStore::create(path, f).is_ok());
  return path;
}

class Repair : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = create_image(dir_);
    auto st = open({});
    std::mt19937_64 rng(3);
    // Several checkpoints, overwrites, trims, then a flushed log tail.
    for (int round = 0; round < 4; ++round) {
      for (int i = 0; i < 12; ++i) {
        const uint64_t n = 1 + rng() % 32;
        const uint64_t first = rng() % (kBlocks - n);
        Bytes data = i % 3 ? test::half_compressible_blocks(n, kBs, rng()) : test::random_bytes(n * kBs, rng());
        ASSERT_TRUE(st->write_blocks(first, data).is_ok());
      }
      ASSERT_TRUE(st->trim_blocks(rng() % (kBlocks - 20), 20).is_ok());
      ASSERT_TRUE(round < 3 ? st->checkpoint().is_ok() : st->flush().is_ok());
    }
    want_ = read_all(*st);
    test::abandon(std::move(st));  // a crash: the tail stays to be replayed
  }

  std::unique_ptr<ImageStore> open(OpenOptions o) {
    o.background_maintenance = false;
    auto st = ImageStore::open(path_, o);
    EXPECT_TRUE(st.is_ok()) << st.status().to_string();
    return st ? std::move(*st) : nullptr;
  }
  static OpenOptions for_repair() {
    OpenOptions o;
    o.repair = true;
    return o;
  }
  static Bytes read_all(ImageStore& s) {
    Bytes out(kBlocks * kBs);
    EXPECT_TRUE(s.read_blocks(0, kBlocks, out).is_ok());
    return out;
  }
  // The record offset of the index page holding `block`, from the slot in
  // force and its metadata: found as the PAGE record whose header names it.
  uint64_t page_record_offset(const Bytes& image, uint64_t page_no) {
    // The newest PAGE record of the page is the one the checkpoint names.
    uint64_t found = 0, seq = 0;
    for (uint64_t at = 1u << 20; at + format::kRecordHeaderSize <= image.size(); at += format::kRecordAlign) {
      if (format::get_u32(image.data() + at) != format::kRecordMagic) continue;
      auto h = format::decode_record_header({image.data() + at, format::kRecordHeaderSize});
      if (h && h->type == format::RecordType::kPage && h->first == page_no && h->seq > seq) found = at, seq = h->seq;
    }
    return found;
  }

  test::TempDir dir_{test::TempDir::Backing::kMemory};
  std::string path_;
  Bytes want_;
};

TEST_F(Repair, DamagedBlocksBecomeBadAndTheRestOfTheirRecordKeepsItsData) {
  std::vector<uint64_t> damaged_blocks;
  {
    auto st = open({});
    // Damage the record of a block written in a many-block record.
    uint64_t block = 0;
    for (; block < kBlocks; ++block) {
      auto loc = st->locate(block);
      ASSERT_TRUE(loc.is_ok());
      if (loc->record_blocks >= 16 && loc->compressed && loc->index_in_record == loc->record_blocks - 1) break;
    }
    ASSERT_LT(block, kBlocks);
    ASSERT_TRUE(st->corrupt_block(block).is_ok());
    auto report = st->check();
    ASSERT_TRUE(report.is_ok());
    ASSERT_FALSE(report->clean());
    for (auto& p : report->problems) damaged_blocks.push_back(p.block);
    ASSERT_TRUE(st->close().is_ok());
  }
  auto plain = open({});
  EXPECT_EQ(plain->repair().status().code(), Status::Code::kInvalidArgument) << "repair needs an image opened for it";
  ASSERT_TRUE(plain->close().is_ok());
  plain.reset();

  auto st = open(for_repair());
  auto r = st->repair();
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_TRUE(r->clean);
  for (auto& a : r->actions) std::printf("repair: %s\n", a.c_str());
  // Only blocks that no longer read became BAD; the record's others were
  // rewritten and read as before.
  ASSERT_FALSE(r->bad_blocks.empty());
  EXPECT_LT(r->bad_blocks.size(), damaged_blocks.size()) << "the units before the damaged one still read";
  Bytes block(kBs);
  for (uint64_t b = 0; b < kBlocks; ++b) {
    Status s = st->read_blocks(b, 1, block);
    if (std::find(r->bad_blocks.begin(), r->bad_blocks.end(), b) != r->bad_blocks.end()) {
      EXPECT_TRUE(s.is_bad_block()) << "block " << b << ": " << s.to_string();
      continue;
    }
    ASSERT_TRUE(s.is_ok()) << "block " << b << ": " << s.to_string();
    EXPECT_TRUE(std::equal(block.begin(), block.end(), want_.begin() + static_cast<ptrdiff_t>(b * kBs))) << b;
  }
  ASSERT_TRUE(st->close().is_ok());
  st.reset();
  // Durable, and a rewrite or clear ends a BAD block as for any other.
  st = open({});
  auto check = st->check();
  ASSERT_TRUE(check.is_ok());
  EXPECT_TRUE(check->clean());
  EXPECT_EQ(st->bad_ranges().size(), 1u);
  ASSERT_TRUE(st->set_bad(r->bad_blocks.front(), r->bad_blocks.size(), false).is_ok());
  ASSERT_TRUE(st->read_blocks(r->bad_blocks.front(), 1, block).is_ok());
  EXPECT_TRUE(test::all_zero(block));
}

TEST_F(Repair, BothCheckpointSlotsDestroyedTheIndexIsRebuiltFromTheLog) {
  Bytes image = slurp(path_);
  for (uint64_t slot : format::kCheckpointOffset) std::fill_n(image.begin() + static_cast<ptrdiff_t>(slot), 512, 0xee);
  spit(path_, image);
  auto refused = ImageStore::open(path_, {});
  ASSERT_FALSE(refused.is_ok());
  EXPECT_NE(refused.status().message().find("no valid checkpoint slot"), std::string::npos);

  auto st = open(for_repair());
  ASSERT_TRUE(st);
  EXPECT_EQ(read_all(*st), want_) << "the rebuilt index reads as before";
  auto r = st->repair();
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_TRUE(r->clean);
  ASSERT_FALSE(r->actions.empty());
  EXPECT_NE(r->actions.front().find("checkpoint rebuilt"), std::string::npos) << r->actions.front();
  ASSERT_TRUE(st->close().is_ok());
  st.reset();
  st = open({});
  EXPECT_EQ(read_all(*st), want_);
  auto check = st->check();
  ASSERT_TRUE(check.is_ok());
  EXPECT_TRUE(check->clean());
}

TEST_F(Repair, ADamagedIndexPageIsRebuiltFromTheLog) {
  Bytes image = slurp(path_);
  const uint64_t page_no = 1;  // blocks 1024-2047
  const uint64_t at = page_record_offset(image, page_no);
  ASSERT_NE(at, 0u);
  auto h = format::decode_record_header({image.data() + at, format::kRecordHeaderSize});
  ASSERT_TRUE(h.is_ok());
  image[at + format::kRecordHeaderSize + h->stored_len / 2] ^= 0x5a;
  spit(path_, image);
  {
    // Without repair: replay needs the page (the log tail writes blocks it
    // maps), so the open fails and names it.
    auto st = ImageStore::open(path_, {});
    ASSERT_FALSE(st.is_ok());
    EXPECT_NE(st.status().message().find("index page 1 "), std::string::npos) << st.status().to_string();
    // The failed open wrote nothing: its half-replayed state is not the image.
    EXPECT_EQ(slurp(path_), image);
  }
  auto st = open(for_repair());
  EXPECT_EQ(read_all(*st), want_) << "before repair()";
  auto r = st->repair();
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_TRUE(r->clean);
  bool rebuilt = false;
  for (auto& a : r->actions) rebuilt = rebuilt || a.find("index page 1") != std::string::npos;
  EXPECT_TRUE(rebuilt);
  EXPECT_EQ(read_all(*st), want_);
  ASSERT_TRUE(st->close().is_ok());
  st.reset();
  st = open({});
  EXPECT_EQ(read_all(*st), want_);
}

// ---- damaged metadata of a delta chain ----------------------------------------

Bytes read_disk(ImageStore& s) {
  Bytes out(kBlocks * kBs);
  EXPECT_TRUE(s.read_blocks(0, kBlocks, out).is_ok());
  return out;
}

// Checkpoints 2-4 are deltas on the open's first (FULL), 5 is FULL again
// (the chain bound is 3), 6-8 deltas on it; a flushed tail follows.
class RepairDeltaChain : public ::testing::Test {
 protected:
  static constexpr int kCheckpoints = 8;
  void SetUp() override {
    path_ = create_image(dir_);
    auto st = open({});
    std::mt19937_64 rng(9);
    auto writes = [&] {
      for (int i = 0; i < 6; ++i) {
        const uint64_t n = 1 + rng() % 16, first = rng() % (kBlocks - n);
        ASSERT_TRUE(st->write_blocks(first, test::half_compressible_blocks(n, kBs, rng())).is_ok());
      }
    };
    for (uint64_t g = 2; g <= kCheckpoints; ++g) {
      writes();
      ASSERT_TRUE(st->checkpoint().is_ok());
      ASSERT_EQ(st->info().generation, g);
      ASSERT_EQ(st->info().checkpoint_deltas, g <= 4 ? g - 1 : g - 5);
      at_[g] = read_disk(*st);
      meta_[g] = slot_in_force().meta_last_chunk;
    }
    writes();
    ASSERT_TRUE(st->flush().is_ok());
    test::abandon(std::move(st));  // a crash: the tail stays to be replayed
  }

  std::unique_ptr<ImageStore> open(OpenOptions o) {
    o.background_maintenance = false;
    o.max_delta_chain = 3;
    o.delta_checkpoint_percent = 1000000;  // whatever their size
    auto st = ImageStore::open(path_, o);
    EXPECT_TRUE(st.is_ok()) << st.status().to_string();
    return st ? std::move(*st) : nullptr;
  }
  format::Checkpoint slot_in_force() {
    const Bytes image = slurp(path_);
    format::Checkpoint best;
    for (uint64_t at : format::kCheckpointOffset) {
      auto cp = format::decode_checkpoint({image.data() + at, format::kCheckpointSize});
      if (cp && cp->generation >= best.generation) best = *cp;
    }
    return best;
  }
  // Flips a byte of the payload of checkpoint g's (last) META record.
  void damage_metadata(uint64_t g) {
    Bytes image = slurp(path_);
    image[meta_[g] + format::kRecordHeaderSize + 20] ^= 0x5a;
    spit(path_, image);
  }
  // The image no longer opens; repair rebuilds checkpoint `rebuilt` (from
  // the metadata records of generation rebuilt - 1) and replays the records
  // of its generation: the disk is what it was at checkpoint rebuilt + 1.
  void expect_repaired_to(uint64_t rebuilt) {
    auto refused = ImageStore::open(path_, {});
    ASSERT_FALSE(refused.is_ok());
    EXPECT_TRUE(refused.status().is_corruption()) << refused.status().to_string();
    OpenOptions o;
    o.repair = true;
    auto st = open(o);
    ASSERT_TRUE(st);
    auto r = st->repair();
    ASSERT_TRUE(r.is_ok()) << r.status().to_string();
    EXPECT_TRUE(r->clean);
    ASSERT_FALSE(r->actions.empty());
    EXPECT_NE(r->actions.front().find("checkpoint rebuilt from the metadata records of generation " +
                                      std::to_string(rebuilt - 1)),
              std::string::npos)
        << r->actions.front();
    EXPECT_EQ(read_disk(*st), at_[rebuilt + 1]);
    ASSERT_TRUE(st->close().is_ok());
    st.reset();
    st = open({});
    ASSERT_TRUE(st);
    EXPECT_EQ(read_disk(*st), at_[rebuilt + 1]);
    auto check = st->check();
    ASSERT_TRUE(check.is_ok());
    EXPECT_TRUE(check->clean());
    // And it goes on: new checkpoints on the repaired image reload.
    ASSERT_TRUE(st->write_blocks(7, Bytes(kBs, 7)).is_ok());
    ASSERT_TRUE(st->checkpoint().is_ok());
    ASSERT_TRUE(st->close().is_ok());
    st.reset();
    st = open({});
    ASSERT_TRUE(st);
    Bytes block(kBs);
    ASSERT_TRUE(st->read_blocks(7, 1, block).is_ok());
    EXPECT_EQ(block, Bytes(kBs, 7));
  }

  test::TempDir dir_{test::TempDir::Backing::kMemory};
  std::string path_;
  std::map<uint64_t, Bytes> at_;        // the disk at checkpoint g
  std::map<uint64_t, uint64_t> meta_;   // checkpoint g's last META record
};

// The delta in force is damaged: the one before it is rebuilt.
TEST_F(RepairDeltaChain, ADamagedDeltaFallsBackToTheCheckpointBeforeIt) {
  damage_metadata(8);
  expect_repaired_to(7);
}

// A delta in the middle of the chain: the newer ones need it, so the
// chain's FULL base is what loads.
TEST_F(RepairDeltaChain, ADamagedMiddleDeltaFallsBackToTheBase) {
  damage_metadata(6);
  expect_repaired_to(5);
}

// The chain's FULL base: every delta on it needs it; the newest checkpoint
// of the chain before loads (its records are still in the image).
TEST_F(RepairDeltaChain, ADamagedBaseFallsBackToThePreviousChain) {
  damage_metadata(5);
  expect_repaired_to(4);
}

}  // namespace
}  // namespace vblk
