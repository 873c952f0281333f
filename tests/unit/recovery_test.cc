// Recovery after torn writes: the image's unflushed tail is cut or garbled
// at many points; each damaged copy must open without repair, keep every
// flushed block, and show each later write whole or not at all. The
// flushed part holds checkpoints: delta ones in chains of at most 3 (one
// FULL threshold reached, the tail replayed after a chain of 3), or, on an
// image without the feature, FULL ones.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <random>

#include "format/format.h"
#include "superblock_edit.h"
#include "test_util.h"
#include "vblk/image_store.h"

namespace vblk {
namespace {

constexpr uint32_t kBs = 4096;
constexpr uint64_t kBlocks = 1024;

using Model = std::vector<std::vector<uint8_t>>;  // block -> contents (empty = zeros)

using test::slurp;
using test::spit;

struct Write {
  uint64_t first;
  std::vector<uint8_t> data;
  uint64_t file_end_after;  // host file size once this write returned
};

// The parameter: delta checkpoints (else an image without the feature).
class RecoveryTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    path_ = dir_.path("img");
    FormatOptions f;
    f.capacity_bytes = kBlocks * kBs;
    ASSERT_TRUE(ImageStore::create(path_, f).is_ok());
    if (!GetParam()) {
      ASSERT_TRUE(test::edit_superblock(
          path_, [](format::Superblock& sb) { sb.incompat_features &= ~format::kFeatureDeltaCheckpoints; }));
    }
    OpenOptions o;
    o.checkpoint_log_bytes = 1ull << 40;  // no checkpoint inside the unflushed window
    o.max_delta_chain = 3;
    o.delta_checkpoint_percent = 1000000;  // whatever their size
    auto st = ImageStore::open(path_, o);
    ASSERT_TRUE(st.is_ok());
    std::mt19937_64 rng(42);
    flushed_.assign(kBlocks, {});
    auto apply = [](Model& m, const Write& w) {
      for (size_t i = 0; i < w.data.size() / kBs; ++i)
        m[w.first + i].assign(w.data.begin() + i * kBs, w.data.begin() + (i + 1) * kBs);
    };
    auto random_write = [&]() {
      Write w;
      uint64_t n = 1 + rng() % 24;  // up to 24 blocks: some writes span two records
      w.first = rng() % (kBlocks - n);
      w.data = rng() % 3 ? test::half_compressible_blocks(n, kBs, rng()) : test::random_bytes(n * kBs, rng());
      return w;
    };
    for (int i = 0; i < 60; ++i) {
      Write w = random_write();
      ASSERT_TRUE((*st)->write_blocks(w.first, w.data).is_ok());
      apply(flushed_, w);
      if (i % 8 == 7) {
        ASSERT_TRUE((*st)->checkpoint().is_ok());
      }
    }
    // 7 checkpoints after the open's first: a chain of 3 ended, then 3.
    EXPECT_EQ((*st)->info().checkpoint_deltas, GetParam() ? 3u : 0u);
    ASSERT_TRUE((*st)->flush().is_ok());
    flushed_image_ = slurp(path_);
    for (int i = 0; i < 40; ++i) {
      Write w = random_write();
      ASSERT_TRUE((*st)->write_blocks(w.first, w.data).is_ok());
      w.file_end_after = std::filesystem::file_size(path_);
      later_.push_back(std::move(w));
    }
    final_image_ = slurp(path_);
    test::abandon(std::move(*st));
    // models_[k] = flushed state plus the first k later writes.
    models_.push_back(flushed_);
    for (auto& w : later_) {
      models_.push_back(models_.back());
      apply(models_.back(), w);
    }
  }

  // Opens a damaged copy and checks the whole-or-previous rule; returns the
  // number of later writes found complete. Damage to bytes that carry
  // nothing (the padding that aligns a record's end) is inert instead: the
  // copy then reads exactly as the undamaged image, every later write
  // present (a record skipped while later ones replay would show as a
  // mix of states, and a garbled one as a read error or wrong bytes).
  void verify_copy(const std::vector<uint8_t>& image, uint64_t damage_at) {
    std::string copy = dir_.path("copy");
    spit(copy, image);
    auto st = ImageStore::open(copy, {});
    ASSERT_TRUE(st.is_ok()) << "damage at " << damage_at << ": " << st.status().to_string();
    size_t k = 0;  // later writes that ended before the damage
    while (k < later_.size() && later_[k].file_end_after <= damage_at) ++k;
    // One read of the whole disk: each record is decoded once, not once per
    // block (the sweep opens hundreds of copies).
    std::vector<uint8_t> disk(kBlocks * kBs);
    ASSERT_TRUE((*st)->read_blocks(0, kBlocks, disk).is_ok()) << "damage at " << damage_at;
    auto same = [&](uint64_t b, const std::vector<uint8_t>& want) {
      std::span<const uint8_t> got(disk.data() + b * kBs, kBs);
      return want.empty() ? test::all_zero(got) : std::equal(got.begin(), got.end(), want.begin());
    };
    bool inert = true;
    for (uint64_t b = 0; b < kBlocks && inert; ++b) inert = same(b, models_.back()[b]);
    if (inert) ++inert_copies_;
    for (uint64_t b = 0; b < kBlocks && !inert; ++b) {
      // Whole writes before the damage are present; the write the damage
      // falls in may be half applied only at a record (block) boundary.
      bool ok = same(b, models_[k][b]) || (k < later_.size() && same(b, models_[k + 1][b]));
      ASSERT_TRUE(ok) << "block " << b << " holds neither its old nor its new contents (damage at " << damage_at << ")";
    }
    auto report = (*st)->check();
    ASSERT_TRUE(report.is_ok());
    EXPECT_TRUE(report->clean());
    ++copies_checked_;
  }

  test::TempDir dir_{test::TempDir::Backing::kMemory};
  std::string path_;
  Model flushed_;
  std::vector<Write> later_;
  std::vector<Model> models_;
  std::vector<uint8_t> flushed_image_, final_image_;
  int copies_checked_ = 0;
  int inert_copies_ = 0;  // damage found inert
};

TEST_P(RecoveryTest, TailCutAtManyPoints) {
  const uint64_t from = flushed_image_.size();
  ASSERT_GT(final_image_.size(), from);
  for (uint64_t cut = from; cut <= final_image_.size(); cut += 1531 * test::kSanitizedSweepThinning) {
    std::vector<uint8_t> image(final_image_.begin(), final_image_.begin() + static_cast<long>(cut));
    verify_copy(image, cut);
  }
  std::printf("tail cut: %d damaged copies opened and verified\n", copies_checked_);
}

TEST_P(RecoveryTest, TailGarbledAtManyPoints) {
  const uint64_t from = flushed_image_.size();
  for (uint64_t at = from; at < final_image_.size(); at += 1777 * test::kSanitizedSweepThinning) {
    std::vector<uint8_t> image = final_image_;
    image[at] ^= 0xa5;
    verify_copy(image, at);
  }
  std::printf("tail garbled: %d damaged copies opened and verified, %d of them with inert damage\n", copies_checked_,
              inert_copies_);
  // Most bytes of the tail are records that hold later writes.
  EXPECT_LT(inert_copies_, copies_checked_ / 4);
}

TEST_P(RecoveryTest, UnsyncedTailReplacedByOldBytes) {
  // A torn sector: the new bytes reached the disk only up to `cut`; beyond
  // it the file holds what it held at the flush (zeros past its old end).
  const uint64_t from = flushed_image_.size();
  for (uint64_t cut = from; cut < final_image_.size(); cut += (4096 + 512) * test::kSanitizedSweepThinning) {
    std::vector<uint8_t> image = final_image_;
    for (uint64_t i = cut; i < image.size(); ++i) image[i] = i < flushed_image_.size() ? flushed_image_[i] : 0;
    verify_copy(image, cut);
  }
}

INSTANTIATE_TEST_SUITE_P(Checkpoints, RecoveryTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Delta" : "FullOnly"; });

}  // namespace
}  // namespace vblk
