// The new generation a writable open owes (vblk(5) RECOVERY, step 7) is
// written with the open's first change, not by the open: an image opened
// for writing and closed without a change is left byte for byte as it was,
// and the first write, trim or bad-block change is preceded by the
// checkpoint exactly as it was when the open wrote it.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <thread>

#include "format/format.h"
#include "image_fixtures.h"
#include "io/crash_file.h"
#include "io/mem_file.h"
#include "manual_clock.h"
#include "store/open.h"
#include "store/store_impl.h"
#include "test_util.h"
#include "vblk/image_store.h"

namespace vblk {
namespace {

constexpr uint32_t kBs = 4096;

class OpenGeneration : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.path("img");
    FormatOptions f;
    f.capacity_bytes = 64 << 20;
    ASSERT_TRUE(ImageStore::create(path_, f).is_ok());
  }
  std::unique_ptr<ImageStore> open(bool read_only = false) {
    OpenOptions o;
    o.read_only = read_only;
    o.clock = clock_.fn();
    return test::open_image(path_, o);
  }
  test::ManualClock clock_;  // the idle rules see only the time the test gives
  // The generation field of the record header at `offset` in the file.
  uint64_t record_generation(uint64_t offset) {
    const std::vector<uint8_t> bytes = test::slurp(path_);
    EXPECT_LT(offset + format::kRecordHeaderSize, bytes.size());
    return format::get_u64(bytes.data() + offset + 16);
  }
  test::TempDir dir_;
  std::string path_;
};

TEST_F(OpenGeneration, AnOpenWithoutAChangeLeavesTheImageAsItWas) {
  // An empty image, as vblk-format leaves it.
  const std::vector<uint8_t> empty = test::slurp(path_);
  {
    auto st = open();
    ASSERT_TRUE(st);
    ASSERT_TRUE(st->flush().is_ok());
    ASSERT_TRUE(st->close().is_ok());
  }
  EXPECT_EQ(test::slurp(path_), empty) << "an empty image changed";

  // An image with data, settled: nothing left to recompress.
  auto data = test::half_compressible_blocks(600, kBs, 1);
  {
    auto st = open();
    ASSERT_TRUE(st->write_blocks(100, data).is_ok());
    ASSERT_TRUE(st->recompress().is_ok());
    ASSERT_TRUE(st->close().is_ok());
  }
  const std::vector<uint8_t> settled = test::slurp(path_);
  uint64_t generation = 0;
  {
    auto st = open();
    ASSERT_TRUE(st);
    generation = st->info().generation;
    std::vector<uint8_t> out(data.size());
    ASSERT_TRUE(st->read_blocks(100, 600, out).is_ok());
    EXPECT_EQ(out, data);
    // Idle for longer than deferred compression waits: the maintenance
    // thread looks for provisional records and finds none.
    clock_.advance(std::chrono::seconds(2));
    EXPECT_TRUE(test::wait_until([&] { return st->info().provisional_scanned; }));
    ASSERT_TRUE(st->flush().is_ok());
    EXPECT_EQ(st->info().generation, generation) << "a checkpoint was written without a change";
    ASSERT_TRUE(st->close().is_ok());
  }
  EXPECT_EQ(test::slurp(path_), settled) << "an open for writing without a change altered the image";
}

// Whatever the first change is, the checkpoint of the new generation comes
// before its record, which carries the new generation.
TEST_F(OpenGeneration, TheFirstChangeStartsTheNewGeneration) {
  auto data = test::pattern_blocks(8, kBs, 2);
  {
    auto st = open();
    ASSERT_TRUE(st->write_blocks(0, data).is_ok());
    ASSERT_TRUE(st->close().is_ok());
  }
  struct Change {
    const char* name;
    std::function<Status(ImageStore&)> run;
    uint64_t block;  // whose record locate() then names, or ~0: none (read the state)
  };
  const std::vector<Change> changes = {
      {"write", [&](ImageStore& s) { return s.write_blocks(20, data); }, 20},
      {"trim", [](ImageStore& s) { return s.trim_blocks(0, 2); }, ~0ull},
      {"bad-block mark", [](ImageStore& s) { return s.set_bad(5, 1, true); }, ~0ull},
  };
  for (const Change& c : changes) {
    SCOPED_TRACE(c.name);
    auto st = open();
    ASSERT_TRUE(st);
    const uint64_t g = st->info().generation;
    ASSERT_TRUE(c.run(*st).is_ok());
    EXPECT_EQ(st->info().generation, g + 1);
    if (c.block != ~0ull) {
      auto loc = st->locate(c.block);
      ASSERT_TRUE(loc.is_ok());
      EXPECT_EQ(record_generation(loc->record_offset), g + 1);
    }
    // One generation per open, not one per change.
    ASSERT_TRUE(st->write_blocks(40, data).is_ok());
    EXPECT_EQ(st->info().generation, g + 1);
    ASSERT_TRUE(st->close().is_ok());
  }
  auto ro = open(true);
  std::vector<uint8_t> out(data.size());
  ASSERT_TRUE(ro->read_blocks(20, 8, out).is_ok());
  EXPECT_EQ(out, data);
  EXPECT_EQ(ro->state(0).value(), BlockState::kTrimmed);
  EXPECT_EQ(ro->state(5).value(), BlockState::kBad);
}

// The checkpoint that starts the generation fails (a host write error): the
// write that needed it fails with the host's error, changes nothing, and
// the next write takes the checkpoint and goes through.
TEST(OpenGenerationHostFault, AFailedCheckpointFailsTheFirstWriteAndIsTakenAgain) {
  FormatOptions f;
  f.capacity_bytes = 16 << 20;
  OpenOptions o;
  o.background_maintenance = false;
  auto image = test::recorded_image("gen.img", f, o);
  ASSERT_TRUE(image.is_ok()) << image.status().to_string();
  io::CrashRecorder& rec = *image->recorder;
  ImageStore& st = *image->store;
  EXPECT_EQ(rec.op_count(), 0u) << "the open wrote to the image";

  auto data = test::pattern_blocks(4, kBs, 3);
  rec.inject(io::FaultHook::kWrite, EIO, 1);
  Status s = st.write_blocks(7, data);
  EXPECT_EQ(s.code(), Status::Code::kIoError) << s.to_string();
  EXPECT_NE(s.message().find("starting a new generation"), std::string::npos) << s.to_string();
  EXPECT_EQ(st.state(7).value(), BlockState::kFree);
  EXPECT_EQ(st.info().generation, 0u);

  ASSERT_TRUE(st.write_blocks(7, data).is_ok());
  EXPECT_EQ(st.info().generation, 1u);
  ASSERT_TRUE(st.flush().is_ok());
  // What a power cut now leaves holds the write.
  io::CrashReplayer replayer(rec);
  OpenOptions ro;
  ro.read_only = true;
  auto after = store::open_image_file(
      std::make_unique<io::MemFile>("gen-after.img",
                                    replayer.materialize({rec.op_count(), io::Unsynced::kDropAll, 0, std::nullopt})),
      ro);
  ASSERT_TRUE(after.is_ok()) << after.status().to_string();
  std::vector<uint8_t> out(data.size());
  ASSERT_TRUE((*after)->read_blocks(7, 4, out).is_ok());
  EXPECT_EQ(out, data);
  auto report = (*after)->check();
  ASSERT_TRUE(report.is_ok());
  EXPECT_TRUE(report->clean());
}

}  // namespace
}  // namespace vblk
