// ImageStore::power_cut / power_on: the simulated power failure behind
// `vblk-inject MOUNTPOINT powercut`. After a cut the image must hold what
// the last flush (or a checkpoint, which is also durable) left, and nothing
// written after it; the store refuses requests until powered on or reopened.
// The image takes delta checkpoints in chains of at most kDeltaChain (the
// random workload also runs on an image without the feature).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <thread>

#include "io/crash_file.h"
#include "io/file.h"
#include "io/mem_file.h"
#include "store/open.h"
#include "store/store_impl.h"
#include "superblock_edit.h"
#include "test_util.h"
#include "util/mutex.h"
#include "vblk/image_store.h"

namespace vblk {
namespace {

constexpr uint32_t kBs = 4096;
// Delta checkpoints in chains of at most this many, whatever their size.
constexpr uint32_t kDeltaChain = 4;

// Block contents that name a version: the version, then bytes that do not
// compress (so that segments fill and the cleaner runs); 0 means zeros.
void fill(uint64_t version, std::span<uint8_t> out) {
  std::memset(out.data(), 0, out.size());
  if (version == 0) return;
  const std::vector<uint8_t> noise = test::random_bytes(out.size(), version);
  std::memcpy(out.data(), noise.data(), out.size());
  std::memcpy(out.data(), &version, 8);
}

uint64_t version_in(std::span<const uint8_t> block) {
  uint64_t v = 0;
  std::memcpy(&v, block.data(), 8);
  std::vector<uint8_t> want(block.size());
  fill(v, want);
  return std::equal(want.begin(), want.end(), block.begin()) ? v : ~0ull;
}

class PowerCutStore : public ::testing::Test {
 protected:
  void SetUp() override { create(true); }
  // A new image (replacing the one open), without the delta_checkpoints
  // feature when !delta.
  void create(bool delta) {
    if (store_) {
      ASSERT_TRUE(store_->close().is_ok());
      store_.reset();
    }
    path_ = dir_.path("pc.img");
    FormatOptions f;
    f.capacity_bytes = uint64_t{kBlocks} * kBs;
    f.compression_level = 1;
    f.segment_size = 1 << 20;
    f.data_start = 12288;
    f.force = true;
    ASSERT_TRUE(ImageStore::create(path_, f).is_ok());
    if (!delta) {
      ASSERT_TRUE(test::edit_superblock(
          path_, [](format::Superblock& sb) { sb.incompat_features &= ~format::kFeatureDeltaCheckpoints; }));
    }
    open();
    model_.assign(kBlocks, 0);
  }

  void open(uint64_t checkpoint_log_bytes = 64ull << 20) {
    OpenOptions o;
    o.checkpoint_log_bytes = checkpoint_log_bytes;
    o.max_delta_chain = kDeltaChain;
    o.delta_checkpoint_percent = 1000000;
    auto s = ImageStore::open(path_, o);
    ASSERT_TRUE(s.is_ok()) << s.status().to_string();
    store_ = std::move(*s);
  }
  void reopen(uint64_t checkpoint_log_bytes = 64ull << 20) {
    ASSERT_TRUE(store_->close().is_ok());
    store_.reset();
    open(checkpoint_log_bytes);
  }

  void write(uint64_t first, uint64_t count, uint64_t version) {
    std::vector<uint8_t> data(count * kBs);
    for (uint64_t i = 0; i < count; ++i) fill(version ? version + i : 0, std::span(data).subspan(i * kBs, kBs));
    Status s = store_->write_blocks(first, data);
    ASSERT_TRUE(s.is_ok()) << s.to_string();
    for (uint64_t i = 0; i < count; ++i) model_[first + i] = version ? version + i : 0;
  }
  void trim(uint64_t first, uint64_t count) {
    ASSERT_TRUE(store_->trim_blocks(first, count).is_ok());
    for (uint64_t i = 0; i < count; ++i) model_[first + i] = 0;
  }

  std::vector<uint64_t> disk() {
    std::vector<uint8_t> data(uint64_t{kBlocks} * kBs);
    Status s = store_->read_blocks(0, kBlocks, data);
    EXPECT_TRUE(s.is_ok()) << s.to_string();
    std::vector<uint64_t> v(kBlocks);
    for (uint64_t b = 0; b < kBlocks; ++b) v[b] = version_in(std::span(data).subspan(b * kBs, kBs));
    return v;
  }

  // Random writes, trims and flushes with the cleaner and checkpoints
  // running (small segments, overwrites, frequent checkpoints); a cut at a
  // random moment, then power on or a reopen. The disk must equal the model
  // as it stood after one call between the last acknowledged flush and the
  // cut: a prefix of the writes, never a mix, never less than what was
  // flushed. Returns the deepest delta chain seen and how many chains ended.
  std::pair<uint64_t, uint64_t> random_workload_with_cuts();

  static constexpr uint32_t kBlocks = 512;
  test::TempDir dir_;
  std::string path_;
  std::unique_ptr<ImageStore> store_;
  std::vector<uint64_t> model_;  // version per block (0: zeros)
};

TEST_F(PowerCutStore, DropsEveryUnflushedWriteAndRefusesRequests) {
  write(0, 64, 1000);
  write(100, 8, 2000);
  ASSERT_TRUE(store_->flush().is_ok());
  const std::vector<uint64_t> flushed = model_;
  write(0, 16, 5000);   // overwrite
  write(300, 4, 6000);  // new blocks
  trim(100, 8);
  write(400, 2, 0);     // zeros
  auto cut = store_->power_cut();
  ASSERT_TRUE(cut.is_ok()) << cut.status().to_string();
  EXPECT_FALSE(cut->already_off);
  EXPECT_EQ(cut->dropped_writes, 4u);
  EXPECT_EQ(cut->dropped_blocks, 16u + 4 + 8 + 2);

  std::vector<uint8_t> block(kBs);
  EXPECT_TRUE(store_->read_blocks(0, 1, block).is_powered_off());
  EXPECT_TRUE(store_->write_blocks(0, block).is_powered_off());
  EXPECT_TRUE(store_->trim_blocks(0, 1).is_powered_off());
  EXPECT_TRUE(store_->flush().is_powered_off());
  EXPECT_TRUE(store_->set_bad(0, 1, true).is_powered_off());
  EXPECT_EQ(store_->flush().to_errno(), EIO);
  auto again = store_->power_cut();
  ASSERT_TRUE(again.is_ok());
  EXPECT_TRUE(again->already_off);

  reopen();
  EXPECT_EQ(disk(), flushed);
  auto report = store_->check();
  ASSERT_TRUE(report.is_ok());
  EXPECT_TRUE(report->clean());
  EXPECT_EQ(store_->stats().used_blocks, 72u);
}

TEST_F(PowerCutStore, NothingToDropWhenEverythingIsFlushed) {
  write(0, 8, 10);
  ASSERT_TRUE(store_->flush().is_ok());
  auto cut = store_->power_cut();
  ASSERT_TRUE(cut.is_ok());
  EXPECT_EQ(cut->dropped_records, 0u);
  ASSERT_TRUE(store_->power_on().is_ok());
  EXPECT_EQ(disk(), model_);
}

TEST_F(PowerCutStore, PowerOnComesBackWithTheFlushedStateAndCarriesOn) {
  write(0, 32, 100);
  ASSERT_TRUE(store_->checkpoint().is_ok());  // a checkpoint is durable too
  write(40, 8, 200);
  ASSERT_TRUE(store_->flush().is_ok());
  const std::vector<uint64_t> flushed = model_;
  write(0, 48, 900);
  ASSERT_TRUE(store_->power_cut().is_ok());
  EXPECT_TRUE(store_->power_on().is_ok());
  EXPECT_EQ(disk(), flushed);
  model_ = flushed;
  write(10, 4, 3000);
  ASSERT_TRUE(store_->flush().is_ok());
  write(20, 1, 4000);  // dropped by the second cut
  ASSERT_TRUE(store_->power_cut().is_ok());
  ASSERT_TRUE(store_->power_on().is_ok());
  model_[20] = flushed[20];
  EXPECT_EQ(disk(), model_);
  reopen();
  EXPECT_EQ(disk(), model_);
  auto report = store_->check();
  ASSERT_TRUE(report.is_ok());
  EXPECT_TRUE(report->clean());
}

TEST_F(PowerCutStore, PowerOnWhenOnAndCutOnReadOnlyAreRefused) {
  Status s = store_->power_on();
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.to_string();
  ASSERT_TRUE(store_->close().is_ok());
  store_.reset();
  OpenOptions ro;
  ro.read_only = true;
  auto r = ImageStore::open(path_, ro);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ((*r)->power_cut().status().code(), Status::Code::kReadOnly);
}

// Power on rebuilds from the file; when the file cannot be opened any more
// the device stays off and says why.
TEST_F(PowerCutStore, PowerOnThatCannotRecoverLeavesTheDeviceOff) {
  write(0, 8, 10);
  ASSERT_TRUE(store_->flush().is_ok());
  ASSERT_TRUE(store_->power_cut().is_ok());
  const int fd = ::open(path_.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  const std::vector<uint8_t> junk(format::kCheckpointSize, 0xa5);
  for (uint64_t at : format::kCheckpointOffset)
    ASSERT_EQ(::pwrite(fd, junk.data(), junk.size(), static_cast<off_t>(at)), static_cast<ssize_t>(junk.size()));
  ::close(fd);
  Status on = store_->power_on();
  EXPECT_EQ(on.code(), Status::Code::kCorruption) << on.to_string();
  EXPECT_NE(on.message().find("power on"), std::string::npos) << on.to_string();
  EXPECT_TRUE(store_->info().powered_off);
  std::vector<uint8_t> block(kBs);
  EXPECT_TRUE(store_->read_blocks(0, 1, block).is_powered_off());
  EXPECT_TRUE(store_->close().is_ok());  // nothing written while off
}

// The cut's own sync fails: the cut is reported as failed, the device is off
// all the same, and power on (a reopen) brings back the flushed state.
TEST(PowerCutSyncFault, ACutWhoseSyncFailsIsReportedAndTheDeviceStaysOff) {
  FormatOptions f;
  f.capacity_bytes = 1 << 20;
  auto sb = store::superblock_for("fault.img", f);
  ASSERT_TRUE(sb.is_ok());
  io::MemFile base("fault.img");
  ASSERT_TRUE(store::write_empty_image(base, *sb).is_ok());
  io::CrashRecorder rec(base.contents());
  OpenOptions o;
  o.background_maintenance = false;  // the injected fault must hit the cut's sync
  auto st = store::open_image_file(rec.open("fault.img"), o);
  ASSERT_TRUE(st.is_ok());
  ImageStore& s = **st;
  std::vector<uint8_t> a(4096, 1), b(4096, 2), out(4096);
  ASSERT_TRUE(s.write_blocks(3, a).is_ok());
  ASSERT_TRUE(s.flush().is_ok());
  ASSERT_TRUE(s.write_blocks(3, b).is_ok());
  rec.inject(io::FaultHook::kSync, EIO, 1);
  auto cut = s.power_cut();
  EXPECT_EQ(cut.status().code(), Status::Code::kIoError) << cut.status().to_string();
  EXPECT_TRUE(s.info().powered_off);
  EXPECT_TRUE(s.read_blocks(3, 1, out).is_powered_off());
  ASSERT_TRUE(s.power_on().is_ok());
  ASSERT_TRUE(s.read_blocks(3, 1, out).is_ok());
  EXPECT_EQ(out, a);
}

std::pair<uint64_t, uint64_t> PowerCutStore::random_workload_with_cuts() {
  struct Quiet {
    spdlog::level::level_enum previous = spdlog::default_logger()->level();
    Quiet() { spdlog::default_logger()->set_level(spdlog::level::err); }
    ~Quiet() { spdlog::default_logger()->set_level(previous); }
  } quiet;
  reopen(256 << 10);
  std::mt19937_64 rng(20261122);
  uint64_t version = 1;
  uint64_t cuts = 0, dropped = 0, exact = 0, deepest = 0, chains_ended = 0, depth = 0;
  for (int round = 0; round < 60; ++round) {
    std::vector<std::vector<uint64_t>> after_call{model_};  // after_call[i]: model after i calls
    size_t last_flush = 0;
    const int calls = 5 + static_cast<int>(rng() % 60);
    for (int c = 0; c < calls; ++c) {
      const unsigned r = rng() % 10;
      if (r < 6) {
        const uint64_t n = 1 + rng() % 40, first = rng() % (kBlocks - n);
        write(first, n, rng() % 8 == 0 ? 0 : version);
        version += n;
      } else if (r < 8) {
        const uint64_t n = 1 + rng() % 64, first = rng() % (kBlocks - n);
        trim(first, n);
      } else {
        EXPECT_TRUE(store_->flush().is_ok());
      }
      after_call.push_back(model_);
      if (r >= 8) last_flush = after_call.size() - 1;
      const uint64_t now = store_->info().checkpoint_deltas;
      chains_ended += now < depth;
      deepest = std::max(deepest, depth = now);
      EXPECT_FALSE(HasFailure());
      if (HasFailure()) return {};
    }
    auto cut = store_->power_cut();
    EXPECT_TRUE(cut.is_ok()) << cut.status().to_string();
    if (!cut) return {};
    ++cuts;
    dropped += cut->dropped_writes;
    if (round % 2) {
      EXPECT_TRUE(store_->power_on().is_ok());
    } else {
      reopen(256 << 10);
    }
    if (HasFailure()) return {};
    const std::vector<uint64_t> now = disk();
    size_t match = SIZE_MAX;
    for (size_t i = last_flush; i < after_call.size(); ++i)
      if (after_call[i] == now) match = i;
    EXPECT_NE(match, SIZE_MAX) << "round " << round << ": the disk is not the state after any call since the "
                               << "last flush (call " << last_flush << " of " << after_call.size() - 1 << ")";
    if (match == SIZE_MAX) return {};
    exact += match == last_flush;
    model_ = now;
    auto report = store_->check();
    EXPECT_TRUE(report.is_ok());
    if (!report) return {};
    EXPECT_TRUE(report->clean()) << report->problems[0].what;
    if (!report->clean()) return {};
  }
  std::printf("power cuts: %llu rounds, %llu unflushed writes and trims dropped, %llu rounds back exactly at the "
              "last flush (the rest at a later checkpoint); delta chains up to %llu long, %llu ended\n",
              static_cast<unsigned long long>(cuts), static_cast<unsigned long long>(dropped),
              static_cast<unsigned long long>(exact), static_cast<unsigned long long>(deepest),
              static_cast<unsigned long long>(chains_ended));
  EXPECT_GT(dropped, 0u);
  return {deepest, chains_ended};
}

TEST_F(PowerCutStore, RandomWorkloadCutsToAPrefixNoOlderThanTheLastFlush) {
  const auto [deepest, chains_ended] = random_workload_with_cuts();
  EXPECT_EQ(deepest, kDeltaChain);
  EXPECT_GT(chains_ended, 0u);
}

TEST_F(PowerCutStore, RandomWorkloadWithFullCheckpointsOnly) {
  create(false);
  const auto [deepest, chains_ended] = random_workload_with_cuts();
  EXPECT_EQ(deepest, 0u);
}

// A file whose first sync waits until released, to hold a flush inside
// its fdatasync while the power is cut.
class HeldSyncFile final : public io::File {
 public:
  explicit HeldSyncFile(std::unique_ptr<io::File> inner) : inner_(std::move(inner)) {}
  Result<size_t> read_at(uint64_t o, std::span<uint8_t> out) override { return inner_->read_at(o, out); }
  Status write_at(uint64_t o, std::span<const uint8_t> d) override { return inner_->write_at(o, d); }
  Status sync() override {
    MutexLock lock(mu_);
    if (hold_ && !held_once_) {
      held_once_ = true;
      in_sync_ = true;
      cv_.notify_all();
      cv_.wait(mu_, [&]() REQUIRES(mu_) { return released_; });
    }
    return inner_->sync();
  }
  Status punch_hole(uint64_t o, uint64_t l) override { return inner_->punch_hole(o, l); }
  Result<uint64_t> size() override { return inner_->size(); }
  Result<uint64_t> allocated_bytes() override { return inner_->allocated_bytes(); }
  const std::string& name() const override { return inner_->name(); }

  void hold_next_sync() EXCLUDES(mu_) {
    MutexLock lock(mu_);
    hold_ = true;
  }
  // False if no sync came within 60 s.
  bool wait_in_sync() EXCLUDES(mu_) {
    MutexLock lock(mu_);
    return cv_.wait_for(mu_, std::chrono::seconds(60), [&]() REQUIRES(mu_) { return in_sync_; });
  }
  void release() EXCLUDES(mu_) {
    MutexLock lock(mu_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  std::unique_ptr<io::File> inner_;
  Mutex mu_;
  std::condition_variable_any cv_;  // waits on mu_
  bool hold_ GUARDED_BY(mu_) = false;
  bool held_once_ GUARDED_BY(mu_) = false;
  bool in_sync_ GUARDED_BY(mu_) = false;
  bool released_ GUARDED_BY(mu_) = false;
};

TEST(PowerCutFlush, AFlushThatStraddlesTheCutFails) {
  FormatOptions f;
  f.capacity_bytes = 1 << 20;
  auto sb = store::superblock_for("held.img", f);
  ASSERT_TRUE(sb.is_ok());
  auto mem = std::make_unique<io::MemFile>("held.img");
  ASSERT_TRUE(store::write_empty_image(*mem, *sb).is_ok());
  auto held = std::make_unique<HeldSyncFile>(std::move(mem));
  HeldSyncFile* file = held.get();
  auto st = store::open_image_file(std::move(held), OpenOptions{});
  ASSERT_TRUE(st.is_ok());
  ImageStore& s = **st;
  std::vector<uint8_t> block(4096, 7);
  ASSERT_TRUE(s.write_blocks(3, block).is_ok());
  file->hold_next_sync();
  Status flushed;
  std::thread flusher([&] { flushed = s.flush(); });
  if (!file->wait_in_sync()) {
    file->release();
    flusher.join();
    FAIL() << "the flush never reached the file's sync";
  }
  // The cut waits for the sync under way (syncs are serialized), so it runs
  // on a thread; the flush is released once the device is off.
  Result<PowerCutReport> cut = Status::io_error("not run");
  std::thread cutter([&] { cut = s.power_cut(); });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!s.info().powered_off && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const bool went_off = s.info().powered_off;
  file->release();  // before any assertion: the threads must be able to finish
  flusher.join();
  cutter.join();
  ASSERT_TRUE(went_off) << "the power cut did not take effect within 60 s";
  ASSERT_TRUE(cut.is_ok()) << cut.status().to_string();
  EXPECT_EQ(cut->dropped_writes, 1u);
  EXPECT_TRUE(flushed.is_powered_off()) << flushed.to_string();
}

// Records the cleaner moved since the last durable point are dropped by a
// cut too, but they copy blocks that still lie where they came from: the
// report must count them as records, not as writes or blocks. Every write
// here is of one block, to every third block of the full disk, so the
// cleaner moves runs of two live blocks: counted as writes, they would make
// the report's blocks outnumber its writes.
TEST(PowerCutReport, CountsWritesNotTheCleanersMoves) {
  test::TempDir dir;
  const std::string path = dir.path("moves.img");
  constexpr uint64_t kDiskBlocks = 2048;  // 8 MiB
  FormatOptions f;
  f.capacity_bytes = kDiskBlocks * kBs;
  f.compression_level = 1;
  f.segment_size = 1 << 20;
  ASSERT_TRUE(ImageStore::create(path, f).is_ok());
  OpenOptions o;
  o.background_maintenance = false;  // the cleaner runs inline, after each write
  auto opened = ImageStore::open(path, o);
  ASSERT_TRUE(opened.is_ok()) << opened.status().to_string();
  ImageStore& s = **opened;
  ASSERT_TRUE(s.write_blocks(0, test::random_bytes(kDiskBlocks * kBs, 1)).is_ok());
  ASSERT_TRUE(s.flush().is_ok());
  uint64_t seed = 2, next = 0, rounds_with_moves = 0;
  auto write_one = [&] {
    const uint64_t block = 3 * (next++ % (kDiskBlocks / 3));
    return s.write_blocks(block, test::random_bytes(kBs, seed++));
  };
  for (int round = 0; round < 20; ++round) {
    // Flushed overwrites leave garbage that lasts, so the cleaner runs...
    for (int w = 0; w < 200; ++w) ASSERT_TRUE(write_one().is_ok());
    ASSERT_TRUE(s.flush().is_ok());
    // ... also among the writes the cut drops.
    const uint64_t writes = 100;
    for (uint64_t w = 0; w < writes; ++w) ASSERT_TRUE(write_one().is_ok());
    auto cut = s.power_cut();
    ASSERT_TRUE(cut.is_ok()) << cut.status().to_string();
    // A checkpoint (durable) may have come between the writes.
    EXPECT_LE(cut->dropped_writes, writes) << "round " << round;
    EXPECT_EQ(cut->dropped_blocks, cut->dropped_writes) << "round " << round;
    if (cut->dropped_records > cut->dropped_writes) ++rounds_with_moves;
    ASSERT_TRUE(s.power_on().is_ok());
    next -= writes;  // those blocks hold their flushed data again
  }
  EXPECT_GT(rounds_with_moves, 0u) << "the cleaner moved nothing in a cut's window: the test tests nothing";
  auto report = s.check();
  ASSERT_TRUE(report.is_ok());
  EXPECT_TRUE(report->clean());
}

}  // namespace
}  // namespace vblk
