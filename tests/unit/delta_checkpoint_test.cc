// Delta checkpoints (vblk(5), CHECKPOINTS and CHECKPOINT METADATA): a
// checkpoint writes what changed since the one before, the chain of them
// reloads as the state it describes, the rule makes a FULL one when the
// chain grows too long or too large or the cleaner empties a segment it
// needs, a shrink's dropped pages leave the table, a failed checkpoint's
// changes go into the next one, images without the feature write FULL
// metadata only, and check() reads the chain as the next open would.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "format/checkpoint_meta.h"
#include "format/format.h"
#include "io/crash_file.h"
#include "io/mem_file.h"
#include "log_capture.h"
#include "store/open.h"
#include "test_util.h"
#include "store/store_impl.h"
#include "vblk/image_store.h"

namespace vblk {
namespace {

constexpr uint32_t kBs = 4096;
constexpr uint32_t kPerPage = 64;

using Bytes = std::vector<uint8_t>;

// Block b at version v: its first bytes say so, the rest is a pattern.
Bytes block_at(uint64_t b, uint64_t v) {
  Bytes out(kBs, static_cast<uint8_t>(b * 31 + v));
  format::put_u64(out.data(), b);
  format::put_u64(out.data() + 8, v);
  return out;
}

class DeltaCheckpoint : public ::testing::Test {
 protected:
  // A new image of `blocks` blocks, kPerPage entries per index page, 1 MiB
  // segments; without the delta_checkpoints feature when !delta.
  void make(uint64_t blocks, bool delta = true) {
    FormatOptions f;
    f.capacity_bytes = blocks * kBs;
    f.segment_size = 1u << 20;
    f.data_start = 12288;
    auto sb = store::superblock_for("delta.img", f);
    ASSERT_TRUE(sb.is_ok()) << sb.status().to_string();
    sb->entries_per_page = kPerPage;
    if (!delta) sb->incompat_features &= ~format::kFeatureDeltaCheckpoints;
    io::MemFile base("delta.img");
    ASSERT_TRUE(store::write_empty_image(base, *sb).is_ok());
    rec_ = std::make_unique<io::CrashRecorder>(base.contents());
    model_.assign(blocks, 0);
  }
  std::unique_ptr<ImageStore> open(OpenOptions o = {}) {
    o.background_maintenance = false;
    o.max_delta_chain = opts_.max_delta_chain;
    o.delta_checkpoint_percent = opts_.delta_checkpoint_percent;
    auto st = store::open_image_file(rec_->open("delta.img"), o);
    EXPECT_TRUE(st.is_ok()) << st.status().to_string();
    return st ? std::move(*st) : nullptr;
  }
  // The image as it is now, opened read-only on a copy.
  std::unique_ptr<ImageStore> open_copy() {
    OpenOptions o;
    o.read_only = true;
    auto st = store::open_image_file(std::make_unique<io::MemFile>("copy.img", rec_->current()), o);
    EXPECT_TRUE(st.is_ok()) << st.status().to_string();
    return st ? std::move(*st) : nullptr;
  }
  void write(ImageStore& s, uint64_t b) {
    ++version_;
    ASSERT_TRUE(s.write_blocks(b, block_at(b, version_)).is_ok());
    model_[b] = version_;
  }
  // Every block reads what the model says, and check() is clean.
  void verify(ImageStore& s) {
    Bytes all(model_.size() * kBs);
    ASSERT_TRUE(s.read_blocks(0, model_.size(), all).is_ok());
    for (uint64_t b = 0; b < model_.size(); ++b) {
      const Bytes want = model_[b] ? block_at(b, model_[b]) : Bytes(kBs, 0);
      ASSERT_EQ(std::memcmp(all.data() + b * kBs, want.data(), kBs), 0) << "block " << b;
    }
    auto report = s.check();
    ASSERT_TRUE(report.is_ok()) << report.status().to_string();
    ASSERT_TRUE(report->clean()) << report->problems[0].what;
  }
  // The META records in the image: (offset, payload).
  std::vector<std::pair<uint64_t, Bytes>> meta_records() {
    const Bytes image = rec_->current();
    std::vector<std::pair<uint64_t, Bytes>> out;
    for (uint64_t at = 12288; at + format::kRecordHeaderSize <= image.size(); at += format::kRecordAlign) {
      if (format::get_u32(image.data() + at) != format::kRecordMagic) continue;
      auto h = format::decode_record_header({image.data() + at, format::kRecordHeaderSize});
      if (!h || h->type != format::RecordType::kMeta) continue;
      const uint8_t* p = image.data() + at + format::kRecordHeaderSize;
      out.emplace_back(at, Bytes(p, p + h->stored_len));
    }
    return out;
  }

  std::unique_ptr<io::CrashRecorder> rec_;
  std::vector<uint64_t> model_;
  uint64_t version_ = 0;
  OpenOptions opts_;
};

// One block in each of 512 index pages, then a few blocks between
// checkpoints: each checkpoint's metadata costs what changed, and the chain
// reloads as the state it describes.
TEST_F(DeltaCheckpoint, DeltasFollowTheChangesAndTheChainReloads) {
  make(512 * kPerPage);
  auto st = open();
  for (uint64_t page = 0; page < 512; ++page) write(*st, page * kPerPage + page % kPerPage);
  ASSERT_TRUE(st->checkpoint().is_ok());
  ImageInfo info = st->info();
  EXPECT_EQ(info.checkpoint_deltas, 0u) << "512 pages changed: a FULL checkpoint";
  const uint64_t full_bytes = info.checkpoint_chain_bytes;
  EXPECT_GT(full_bytes, 512u * format::kMetaPageEntrySize);
  std::mt19937_64 rng(5);
  uint64_t deepest = 0, fulls = 0;
  for (int i = 0; i < 60; ++i) {
    const uint64_t before = st->info().checkpoint_chain_bytes;
    for (int k = 0; k < 2; ++k) write(*st, rng() % model_.size());
    ASSERT_TRUE(st->checkpoint().is_ok());
    info = st->info();
    if (info.checkpoint_deltas == 0) {
      ++fulls;
      continue;
    }
    deepest = std::max(deepest, info.checkpoint_deltas);
    // Two pages, a few segments: a few hundred bytes, not the whole table.
    EXPECT_LT(info.checkpoint_chain_bytes - before, 400u) << "checkpoint " << i;
    EXPECT_LE(info.checkpoint_chain_bytes - full_bytes, full_bytes / 4 + 400);
    if (i % 7 == 3) {
      // The chain reloads: the same state, the same chain.
      auto copy = open_copy();
      ASSERT_TRUE(copy);
      EXPECT_EQ(copy->info().checkpoint_deltas, info.checkpoint_deltas);
      EXPECT_EQ(copy->info().checkpoint_chain_bytes, info.checkpoint_chain_bytes);
      EXPECT_EQ(copy->info().free_segments, info.free_segments);
      verify(*copy);
    }
  }
  // The deltas' share of a FULL one (25%) ends each chain.
  EXPECT_GT(deepest, 8u);
  EXPECT_GT(fulls, 0u);
  verify(*st);
  ASSERT_TRUE(st->close().is_ok());
  st = open();
  verify(*st);
  // Writes after a reopen go on from the loaded chain.
  for (int i = 0; i < 20; ++i) {
    write(*st, rng() % model_.size());
    ASSERT_TRUE(st->checkpoint().is_ok());
  }
  verify(*st);
  ASSERT_TRUE(st->close().is_ok());
  verify(*open_copy());
}

// The chain bound: after max_delta_chain deltas the next checkpoint is
// FULL; max_delta_chain 0 makes every one FULL.
TEST_F(DeltaCheckpoint, TheChainBoundMakesAFullOne) {
  for (uint32_t bound : {3u, 0u}) {
    make(16 * kPerPage);
    opts_.max_delta_chain = bound;
    opts_.delta_checkpoint_percent = 1000000;  // no share rule
    auto st = open();
    write(*st, 0);  // the open's first checkpoint (FULL: nothing in force)
    ASSERT_TRUE(st->checkpoint().is_ok());
    std::vector<uint64_t> depths, want;
    uint64_t depth = st->info().checkpoint_deltas;
    EXPECT_EQ(depth, bound ? 1u : 0u);
    for (int i = 0; i < 8; ++i) {
      write(*st, static_cast<uint64_t>(i) * 37);
      ASSERT_TRUE(st->checkpoint().is_ok());
      depths.push_back(st->info().checkpoint_deltas);
      depth = depth == bound ? 0 : depth + 1;
      want.push_back(depth);
    }
    EXPECT_EQ(depths, want) << "max_delta_chain " << bound;
    if (bound) {
      EXPECT_EQ(std::count(want.begin(), want.end(), 0u), 2);
    }
    verify(*st);
    ASSERT_TRUE(st->close().is_ok());
    verify(*open_copy());
  }
}

// An image without the feature (made before it) keeps writing FULL
// metadata of version 2 or 3, whatever the options say.
TEST_F(DeltaCheckpoint, AnImageWithoutTheFeatureWritesFullMetadataOnly) {
  make(64 * kPerPage, false);
  opts_.delta_checkpoint_percent = 1000000;
  auto st = open();
  const std::vector<std::string> features = st->info().feature_names;
  EXPECT_EQ(std::count(features.begin(), features.end(), "delta_checkpoints"), 0);
  for (int i = 0; i < 10; ++i) {
    write(*st, static_cast<uint64_t>(i) * 100);
    ASSERT_TRUE(st->checkpoint().is_ok());
    EXPECT_EQ(st->info().checkpoint_deltas, 0u);
  }
  ASSERT_TRUE(st->close().is_ok());
  const auto metas = meta_records();
  ASSERT_GE(metas.size(), 10u);
  for (const auto& [at, payload] : metas) {
    ASSERT_GE(payload.size(), 8u);
    EXPECT_EQ(format::get_u64(payload.data()), format::kMetaVersionCapacity) << "META record at " << at;
  }
  verify(*open_copy());
}

// A shrink drops pages: the delta that commits it removes them from the
// table, and the reloaded image neither has them nor reads their blocks
// back after growing again.
TEST_F(DeltaCheckpoint, AShrinkRemovesPagesInADelta) {
  make(64 * kPerPage);
  opts_.delta_checkpoint_percent = 1000000;
  auto st = open();
  for (uint64_t page = 0; page < 64; ++page) write(*st, page * kPerPage + 1);
  ASSERT_TRUE(st->checkpoint().is_ok());
  write(*st, 5);
  ASSERT_TRUE(st->checkpoint().is_ok());
  const uint64_t depth = st->info().checkpoint_deltas;
  ASSERT_GE(depth, 1u);
  auto r = st->resize(32 * kPerPage, true);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->discarded_used, 32u);
  EXPECT_EQ(st->info().checkpoint_deltas, depth + 1) << "the shrink's checkpoint is a delta";
  model_.resize(32 * kPerPage);
  verify(*st);
  ASSERT_TRUE(st->close().is_ok());
  auto copy = open_copy();
  EXPECT_EQ(copy->block_count(), 32u * kPerPage);
  verify(*copy);
  copy.reset();
  st = open();
  ASSERT_TRUE(st->resize(64 * kPerPage, false).is_ok());
  model_.resize(64 * kPerPage, 0);
  verify(*st);
  ASSERT_TRUE(st->close().is_ok());
  verify(*open_copy());
}

// The cleaner empties a segment holding a record of the chain: the next
// checkpoint is FULL, so that the segment can be released, and the image
// keeps its data through it all.
TEST_F(DeltaCheckpoint, TheCleanerEmptyingAChainSegmentMakesAFullOne) {
  make(2048);
  opts_.max_delta_chain = 1000;
  opts_.delta_checkpoint_percent = 1000000;
  test::LogCapture logs;
  OpenOptions o;
  o.checkpoint_log_bytes = 256 << 10;
  auto st = open(o);
  std::mt19937_64 rng(11);
  for (int i = 0; i < 3000; ++i) {
    const uint64_t n = 1 + rng() % 16, first = rng() % (model_.size() - n);
    Bytes data;
    for (uint64_t b = first; b < first + n; ++b) {
      ++version_;
      Bytes one = block_at(b, version_);
      for (size_t k = 16; k < kBs; k += 8) format::put_u64(one.data() + k, rng());  // incompressible
      data.insert(data.end(), one.begin(), one.end());
      model_[b] = version_;
    }
    ASSERT_TRUE(st->write_blocks(first, data).is_ok());
    if (i % 10 == 0) {
      ASSERT_TRUE(st->flush().is_ok());
    }
  }
  EXPECT_NE(logs.text().find("lies in a segment the cleaner empties"), std::string::npos);
  EXPECT_NE(logs.text().find("delta metadata"), std::string::npos);
  ASSERT_TRUE(st->checkpoint().is_ok());
  // The model's blocks hold their random tails: compare versions only.
  Bytes all(model_.size() * kBs);
  ASSERT_TRUE(st->read_blocks(0, model_.size(), all).is_ok());
  for (uint64_t b = 0; b < model_.size(); ++b) {
    if (model_[b]) {
      ASSERT_EQ(format::get_u64(all.data() + b * kBs + 8), model_[b]) << "block " << b;
    }
  }
  ASSERT_TRUE(st->close().is_ok());
  auto copy = open_copy();
  ASSERT_TRUE(copy->read_blocks(0, model_.size(), all).is_ok());
  for (uint64_t b = 0; b < model_.size(); ++b) {
    if (model_[b]) {
      ASSERT_EQ(format::get_u64(all.data() + b * kBs + 8), model_[b]) << "block " << b;
    }
  }
  auto report = copy->check();
  ASSERT_TRUE(report.is_ok());
  EXPECT_TRUE(report->clean()) << report->problems[0].what;
}

// A checkpoint whose META record fails to append takes nothing with it:
// the changes it had taken go into the next one, which then reloads as the
// writer's state.
TEST_F(DeltaCheckpoint, AFailedCheckpointsChangesGoIntoTheNext) {
  make(256 * kPerPage);
  opts_.delta_checkpoint_percent = 1000000;
  auto st = open();
  for (uint64_t page = 0; page < 256; ++page) write(*st, page * kPerPage);
  ASSERT_TRUE(st->checkpoint().is_ok());
  write(*st, 7);
  // No dirty page is left after this one, so the next checkpoint's first
  // write is its META record; its changes are the segments this one's
  // records went into.
  ASSERT_TRUE(st->checkpoint().is_ok());
  const uint64_t depth = st->info().checkpoint_deltas;
  rec_->inject(io::FaultHook::kWrite, EIO, 1);
  EXPECT_FALSE(st->checkpoint().is_ok());
  EXPECT_EQ(rec_->faults_fired(), 1u);
  rec_->clear_faults();
  ASSERT_TRUE(st->checkpoint().is_ok());
  const ImageInfo info = st->info();
  EXPECT_EQ(info.checkpoint_deltas, depth + 1);
  auto copy = open_copy();
  EXPECT_EQ(copy->info().free_segments, info.free_segments);
  EXPECT_EQ(copy->info().segments, info.segments);
  verify(*copy);
  copy.reset();
  // And goes on from there: enough writes to open new segments.
  for (int i = 0; i < 600; ++i) write(*st, static_cast<uint64_t>(i) * 41 % model_.size());
  ASSERT_TRUE(st->checkpoint().is_ok());
  ASSERT_TRUE(st->close().is_ok());
  verify(*open_copy());
}

// check() reads the chain in force again: damage to an older link's META
// record after the open is reported, as the next open would find it.
TEST_F(DeltaCheckpoint, CheckReadsTheWholeChain) {
  make(128 * kPerPage);
  opts_.delta_checkpoint_percent = 1000000;
  auto st = open();
  for (uint64_t page = 0; page < 128; ++page) write(*st, page * kPerPage);
  ASSERT_TRUE(st->checkpoint().is_ok());
  for (int i = 0; i < 3; ++i) {
    write(*st, static_cast<uint64_t>(i) * 3);
    ASSERT_TRUE(st->checkpoint().is_ok());
  }
  // The open's first checkpoint (FULL: nothing was in force) and 4 deltas.
  ASSERT_EQ(st->info().checkpoint_deltas, 4u);
  const auto base = meta_records().front();
  auto clean = st->check();
  ASSERT_TRUE(clean.is_ok());
  EXPECT_TRUE(clean->clean());
  // A byte of the base's payload flipped, under the open store.
  auto file = rec_->open("delta.img");
  uint8_t byte = 0;
  const uint64_t at = base.first + format::kRecordHeaderSize + 50;
  ASSERT_TRUE(file->read_at(at, {&byte, 1}).is_ok());
  byte ^= 0x40;
  ASSERT_TRUE(file->write_at(at, {&byte, 1}).is_ok());
  auto report = st->check();
  ASSERT_TRUE(report.is_ok());
  ASSERT_FALSE(report->clean());
  EXPECT_NE(report->problems[0].what.find("checkpoint metadata of generation"), std::string::npos)
      << report->problems[0].what;
  EXPECT_FALSE(report->problems[0].has_block);
  test::abandon(std::move(st));
  OpenOptions ro;
  ro.read_only = true;
  auto reopened = store::open_image_file(std::make_unique<io::MemFile>("copy.img", rec_->current()), ro);
  ASSERT_FALSE(reopened.is_ok());
  EXPECT_NE(reopened.status().message().find("metadata chain"), std::string::npos) << reopened.status().to_string();
}

}  // namespace
}  // namespace vblk
