// Group commit (src/store/group_commit.cc): concurrent writers share host
// writes, and a failed shared write leaves nothing behind that a replay
// could pick up.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "io/mem_file.h"
#include "store/open.h"
#include "store/store_impl.h"
#include "test_util.h"

namespace vblk {
namespace {

// Over a MemFile the test keeps: counts writes of several records, and
// fails the first one once armed after letting all of its bytes land (the
// worst case: the host wrote the data and still reported an error).
class BatchFaultFile final : public io::File {
 public:
  explicit BatchFaultFile(std::shared_ptr<io::MemFile> inner) : inner_(std::move(inner)) {}
  Result<size_t> read_at(uint64_t o, std::span<uint8_t> out) override { return inner_->read_at(o, out); }
  Status write_at(uint64_t o, std::span<const uint8_t> d) override { return inner_->write_at(o, d); }
  Status write_parts(uint64_t o, std::span<const std::span<const uint8_t>> parts) override {
    // One record is three parts (head, payload, padding).
    const bool several = parts.size() > 3;
    if (several) ++batches;
    // As slow as a host write, so that writers queue up behind it.
    std::this_thread::sleep_for(std::chrono::microseconds(100));
    Status s = inner_->write_parts(o, parts);
    if (several && armed.exchange(false)) {
      fired = true;
      return Status::io_error("injected failure after the bytes landed");
    }
    return s;
  }
  Status sync() override { return inner_->sync(); }
  Status punch_hole(uint64_t o, uint64_t l) override {
    if (fail_punch) return Status::io_error("injected punch failure");
    return inner_->punch_hole(o, l);
  }
  Result<uint64_t> size() override { return inner_->size(); }
  Result<uint64_t> allocated_bytes() override { return inner_->allocated_bytes(); }
  const std::string& name() const override { return inner_->name(); }

  std::atomic<bool> armed{false}, fired{false}, fail_punch{false};
  std::atomic<uint64_t> batches{0};

 private:
  std::shared_ptr<io::MemFile> inner_;
};

constexpr int kThreads = 8;
constexpr int kWritesPerThread = 300;
constexpr uint32_t kBlock = 4096;
// Each write is two records (the image's record limit is one block): a write
// of one record takes the store's lock itself and never joins a batch.
constexpr uint32_t kBlocksPerWrite = 2;
constexpr uint32_t kWriteBytes = kBlock * kBlocksPerWrite;

uint64_t block_of(int t, int i) { return (uint64_t(t) * kWritesPerThread + i) * kBlocksPerWrite; }

// A store over a BatchFaultFile over a MemFile the test keeps.
class GroupCommit : public ::testing::Test {
 protected:
  void open(const OpenOptions& o) {
    FormatOptions f;
    f.capacity_bytes = uint64_t{kThreads} * kWritesPerThread * kWriteBytes;
    auto sb = store::superblock_for("gc.img", f);
    ASSERT_TRUE(sb.is_ok());
    sb->max_record_bytes = kBlock;
    mem_ = std::make_shared<io::MemFile>("gc.img");
    ASSERT_TRUE(store::write_empty_image(*mem_, *sb).is_ok());
    auto faulty = std::make_unique<BatchFaultFile>(mem_);
    file_ = faulty.get();
    auto st = store::open_image_file(std::move(faulty), o);
    ASSERT_TRUE(st.is_ok()) << st.status().to_string();
    store_ = std::move(*st);
  }
  // kThreads writers, each writing blocks of its own in turn until the
  // injected failure has fired; ok[t][i] says whether write i of thread t
  // succeeded.
  std::vector<std::vector<bool>> write_until_failure(int arm_after) {
    std::vector<std::vector<bool>> ok(kThreads, std::vector<bool>(kWritesPerThread, false));
    std::atomic<int> ready{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        ++ready;
        while (ready < kThreads) std::this_thread::yield();
        for (int i = 0; i < kWritesPerThread && !file_->fired; ++i) {
          if (t == 0 && i == arm_after) file_->armed = true;
          auto data = test::random_bytes(kWriteBytes, block_of(t, i) + 1);  // incompressible: records of equal length
          ok[t][i] = store_->write_blocks(block_of(t, i), data).is_ok();
        }
      });
    }
    for (auto& th : threads) th.join();
    return ok;
  }

  std::shared_ptr<io::MemFile> mem_;
  BatchFaultFile* file_ = nullptr;
  std::unique_ptr<ImageStore> store_;
};

TEST_F(GroupCommit, AFailedSharedWriteIsNeverReplayed) {
  OpenOptions o;
  o.checkpoint_log_bytes = uint64_t{1} << 40;  // everything after the open is replayed from the log
  ASSERT_NO_FATAL_FAILURE(open(o));
  // Every write goes to a block of its own: a block whose write failed must
  // read as never written, before and after a replay. The writers stop once
  // the failure has fired, as a crash would: the writes queued behind the
  // failed one are the next batch, at the same place and shorter, and a
  // leftover record of the failed batch just after them would be replayed
  // (seen failing without the discard).
  const auto ok = write_until_failure(kWritesPerThread / 4);
  std::printf("%llu shared writes; injected failure %s\n", (unsigned long long)file_->batches.load(),
              file_->fired ? "fired" : "did not fire");
  ASSERT_TRUE(file_->fired) << "no write of several records happened: the writers never overlapped";
  ASSERT_TRUE(store_->flush().is_ok());

  auto check = [&](ImageStore& store, const char* what) {
    for (int t = 0; t < kThreads; ++t)
      for (int i = 0; i < kWritesPerThread; ++i) {
        std::vector<uint8_t> got(kWriteBytes);
        ASSERT_TRUE(store.read_blocks(block_of(t, i), kBlocksPerWrite, got).is_ok());
        // Writes never made (after the stop) read as zeros, like failed ones.
        const auto want =
            ok[t][i] ? test::random_bytes(kWriteBytes, block_of(t, i) + 1) : std::vector<uint8_t>(kWriteBytes, 0);
        ASSERT_EQ(got, want) << what << ": block " << block_of(t, i) << (ok[t][i] ? " (written)" : " (write failed)");
      }
  };
  check(*store_, "live");
  // Replay the log as a crash would leave it: a copy of the file, opened.
  OpenOptions ro;
  ro.read_only = true;
  auto replayed = store::open_image_file(std::make_unique<io::MemFile>("gc-copy.img", mem_->contents()), ro);
  ASSERT_TRUE(replayed.is_ok()) << replayed.status().to_string();
  check(**replayed, "replayed");
}

TEST_F(GroupCommit, WhenAFailedSharedWriteCannotBeDiscardedWritesAreRefused) {
  ASSERT_NO_FATAL_FAILURE(open(OpenOptions{}));
  file_->fail_punch = true;
  write_until_failure(0);
  ASSERT_TRUE(file_->fired);
  // What the failed write left could be replayed after the next records:
  // nothing more may be written until the image is opened again.
  Status w = store_->write_blocks(0, std::vector<uint8_t>(kBlock, 1));
  EXPECT_FALSE(w.is_ok());
  EXPECT_NE(w.to_string().find("reopen"), std::string::npos) << w.to_string();
}

}  // namespace
}  // namespace vblk
