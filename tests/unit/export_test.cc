// transfer/export.h: an image with data, zeros, holes, TRIMMED, BAD and
// damaged blocks out to a sparse file and to a stream (every byte in
// order, as a block device or a pipe takes it), and the ways it fails: BAD
// blocks refused, a damaged block, an output that is full or cut short, a
// cancel. Also transfer/raw_output.h and transfer/temp_output.h.
#include "transfer/export.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "io/crash_file.h"
#include "test_util.h"
#include "transfer/raw_output.h"
#include "transfer/temp_output.h"

namespace vblk::transfer {
namespace {

using Bytes = std::vector<uint8_t>;
constexpr uint32_t kBs = 4096;
// Two windows of block states (64 MiB each) and a bit.
constexpr uint64_t kBlocks = (64ull << 20) / kBs + 300;
constexpr uint64_t kCapacity = kBlocks * kBs;

// Test data at known blocks, and the whole disk expected back.
struct Layout {
  Bytes disk = Bytes(kCapacity, 0);
  uint64_t data_blocks = 0;

  void put(uint64_t first, const Bytes& data) {
    std::copy(data.begin(), data.end(), disk.begin() + static_cast<std::ptrdiff_t>(first * kBs));
    data_blocks += data.size() / kBs;
  }
};

class Export : public ::testing::Test {
 protected:
  void SetUp() override {
    FormatOptions f;
    f.capacity_bytes = kCapacity;
    f.block_size = kBs;
    OpenOptions o;
    o.background_maintenance = false;
    auto s = ImageStore::create_and_open(dir_.path("img"), f, o);
    ASSERT_TRUE(s.is_ok()) << s.status().to_string();
    store_ = std::move(*s);
  }
  void TearDown() override {
    if (store_) {
      ASSERT_TRUE(store_->close().is_ok());
    }
  }

  // Data at 0-9, a USED block of zeros at 20, TRIMMED 30-39, data across
  // the first window's end and in the last block.
  void write_layout() {
    auto write = [&](uint64_t first, const Bytes& data) {
      ASSERT_TRUE(store_->write_blocks(first, data).is_ok());
      layout_.put(first, data);
    };
    write(0, test::pattern_blocks(10, kBs, 1));
    ASSERT_TRUE(store_->write_blocks(20, Bytes(kBs, 0)).is_ok());
    ASSERT_TRUE(store_->write_blocks(30, test::pattern_blocks(10, kBs, 2)).is_ok());
    ASSERT_TRUE(store_->trim_blocks(30, 10).is_ok());
    write(16380, test::pattern_blocks(8, kBs, 3));
    write(kBlocks - 1, test::pattern_blocks(1, kBs, 4));
  }

  ExportOptions options() {
    ExportOptions o;
    o.image_name = "IMG";
    return o;
  }

  Bytes read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(in), {});
  }

  test::TempDir dir_;
  std::unique_ptr<ImageStore> store_;
  Layout layout_;
};

// An output that records what it is given, as a stream must take it: in
// order, every byte; or, sparse, where it lands. Fails with NoSpace once
// `room` bytes were written.
class RecordingOutput final : public RawOutput {
 public:
  RecordingOutput(bool sparse, uint64_t room = UINT64_MAX) : sparse_(sparse), room_(room) {}
  const std::string& name() const override { return name_; }
  bool sparse() const override { return sparse_; }
  Status write(uint64_t offset, std::span<const uint8_t> data) override {
    if (!sparse_ && offset != bytes.size())
      return Status::invalid_argument("out of order at " + std::to_string(offset));
    if (written + data.size() > room_)
      return Status::no_space(name_ + ": write at offset " + std::to_string(offset) + ": full");
    if (bytes.size() < offset + data.size()) bytes.resize(offset + data.size());
    std::copy(data.begin(), data.end(), bytes.begin() + static_cast<std::ptrdiff_t>(offset));
    written += data.size();
    return Status::ok();
  }
  Status finish(uint64_t capacity) override {
    finished = capacity;
    if (sparse_) bytes.resize(capacity);
    return Status::ok();
  }
  Bytes bytes;
  uint64_t written = 0;
  uint64_t finished = 0;

 private:
  std::string name_ = "OUT";
  bool sparse_;
  uint64_t room_;
};

TEST_F(Export, ToASparseFileWritesOnlyDataAndLeavesHoles) {
  write_layout();
  const std::string out = dir_.path("out.raw");
  const int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  FdOutput sink(fd, out, /*sparse=*/true, 0);
  ExportOptions o = options();
  uint64_t last_progress = 0;
  o.progress = [&](uint64_t done) {
    EXPECT_GE(done, last_progress);
    last_progress = done;
  };
  ExportCounts c;
  auto f = export_image(*store_, sink, o, c);
  ASSERT_FALSE(f) << f->file << ": " << f->cause;
  ::close(fd);
  EXPECT_EQ(last_progress, kCapacity);
  EXPECT_EQ(c.used, layout_.data_blocks + 1);
  EXPECT_EQ(c.zero_blocks, 1u);
  EXPECT_EQ(c.trimmed, 10u);
  EXPECT_EQ(c.free, kBlocks - c.used - c.trimmed);
  EXPECT_EQ(c.bytes_written, layout_.data_blocks * kBs);
  EXPECT_EQ(c.holes_bytes, kCapacity - c.bytes_written);
  EXPECT_EQ(read_file(out), layout_.disk);
  struct stat st {};
  ASSERT_EQ(::stat(out.c_str(), &st), 0);
  EXPECT_LT(static_cast<uint64_t>(st.st_blocks) * 512, 4 * c.bytes_written) << "the zeros were written, not holes";
}

TEST_F(Export, ToAStreamWritesEveryByteInOrder) {
  write_layout();
  RecordingOutput sink(/*sparse=*/false);
  ExportCounts c;
  auto f = export_image(*store_, sink, options(), c);
  ASSERT_FALSE(f) << f->cause;
  EXPECT_EQ(sink.bytes, layout_.disk);
  EXPECT_EQ(c.bytes_written, kCapacity);
  EXPECT_EQ(c.holes_bytes, 0u);

  // The same through a file descriptor written as a block device is: in
  // order, with nothing left as a hole.
  const std::string out = dir_.path("device");
  const int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  FdOutput dev(fd, out, /*sparse=*/false, 0);
  ASSERT_FALSE(export_image(*store_, dev, options(), c));
  EXPECT_EQ(::lseek(fd, 0, SEEK_CUR), static_cast<off_t>(kCapacity));
  ::close(fd);
  EXPECT_EQ(read_file(out), layout_.disk);
}

TEST_F(Export, BadBlocksAreRefusedBeforeAnythingIsWritten) {
  write_layout();
  ASSERT_TRUE(store_->set_bad(5, 2, true).is_ok());
  ASSERT_TRUE(store_->set_bad(100, 1, true).is_ok());
  RecordingOutput sink(/*sparse=*/false);
  ExportCounts c;
  auto f = export_image(*store_, sink, options(), c);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->why, Failure::Why::kBadBlocks);
  EXPECT_EQ(f->file, "IMG");
  EXPECT_EQ(f->cause, "has 3 BAD blocks (5-6, 100); nothing was exported");
  EXPECT_EQ(sink.written, 0u);
}

TEST_F(Export, BadBlocksBecomeWrittenZerosWhenAskedFor) {
  write_layout();
  ASSERT_TRUE(store_->set_bad(5, 2, true).is_ok());
  RecordingOutput sink(/*sparse=*/true);
  ExportOptions o = options();
  o.bad_zero = true;
  ExportCounts c;
  ASSERT_FALSE(export_image(*store_, sink, o, c));
  std::fill_n(layout_.disk.begin() + 5 * kBs, 2 * kBs, 0);
  EXPECT_EQ(sink.bytes, layout_.disk);
  EXPECT_EQ(c.bad, 2u);
  EXPECT_EQ(c.unreadable, 0u);  // only salvage counts them
  // Written, not left as holes (an output may hold old bytes there): the
  // two BAD blocks were data blocks, so as many bytes go out as before.
  EXPECT_EQ(c.bytes_written, layout_.data_blocks * kBs);
}

TEST_F(Export, ADamagedBlockFailsTheExportNamingTheImage) {
  write_layout();
  ASSERT_TRUE(store_->corrupt_block(3).is_ok());
  RecordingOutput sink(/*sparse=*/true);
  ExportCounts c;
  auto f = export_image(*store_, sink, options(), c);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->why, Failure::Why::kFailed);
  EXPECT_EQ(f->file, "IMG");
  EXPECT_NE(f->cause.find("block"), std::string::npos) << f->cause;
}

TEST_F(Export, SalvageWritesUnreadableBlocksAsZerosAndNamesThem) {
  write_layout();
  ASSERT_TRUE(store_->corrupt_block(3).is_ok());
  ASSERT_TRUE(store_->set_bad(16385, 2, true).is_ok());
  RecordingOutput sink(/*sparse=*/true);
  ExportOptions o = options();
  o.salvage = true;
  std::vector<std::tuple<uint64_t, uint64_t, std::string>> runs;
  o.unreadable = [&](uint64_t first, uint64_t count, const std::string& cause) {
    runs.emplace_back(first, count, cause);
  };
  ExportCounts c;
  ASSERT_FALSE(export_image(*store_, sink, o, c));
  // The damaged block's record holds its neighbours too: every block of it
  // that fails alone is a zero, the others are exported.
  ASSERT_GE(runs.size(), 2u);
  EXPECT_LE(std::get<0>(runs.front()), 3u);
  EXPECT_GE(std::get<0>(runs.front()) + std::get<1>(runs.front()), 4u);
  EXPECT_EQ(runs.back(), std::make_tuple(uint64_t{16385}, uint64_t{2}, std::string("BAD block")));
  uint64_t zeroed = 0;
  for (const auto& [first, count, cause] : runs) {
    zeroed += count;
    std::fill_n(layout_.disk.begin() + static_cast<std::ptrdiff_t>(first * kBs), count * kBs, 0);
  }
  EXPECT_EQ(c.unreadable, zeroed);
  EXPECT_EQ(c.bad, 2u);
  EXPECT_EQ(sink.bytes, layout_.disk);
}

TEST_F(Export, AFullOutputFailsNamingIt) {
  write_layout();
  // The kernel's full disk: every write fails with ENOSPC, at any offset.
  for (bool sparse : {true, false}) {
    const int fd = ::open("/dev/full", O_WRONLY);
    ASSERT_GE(fd, 0);
    FdOutput sink(fd, "OUT", sparse, 0);
    ExportCounts c;
    auto f = export_image(*store_, sink, options(), c);
    ::close(fd);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->file, "OUT");
    EXPECT_EQ(f->cause, "write at offset 0: No space left on device") << "sparse " << sparse;
  }
  // A host file that fills up after one write: the failed write leaves a
  // prefix behind, as a short write does, and the export stops there.
  io::CrashRecorder rec({});
  auto file = rec.open("OUT");
  class FileOutput final : public RawOutput {
   public:
    explicit FileOutput(io::File& f) : f_(f) {}
    const std::string& name() const override { return f_.name(); }
    bool sparse() const override { return true; }
    Status write(uint64_t off, std::span<const uint8_t> d) override { return f_.write_at(off, d); }
    Status finish(uint64_t) override { return Status::ok(); }

   private:
    io::File& f_;
  } sink(*file);
  ASSERT_TRUE(file->write_at(0, Bytes(1, 1)).is_ok());  // the one write that fits
  rec.inject(io::FaultHook::kWrite, ENOSPC, -1);
  ExportCounts c;
  auto f = export_image(*store_, sink, options(), c);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->file, "OUT");
  EXPECT_NE(f->cause.find("No space left on device"), std::string::npos) << f->cause;
}

TEST_F(Export, AShortWriteIsResumedAndTheFailureAfterItNamesItsOffset) {
  write_layout();
  // A file size limit: the write that crosses it is cut short at the
  // limit, the next one fails with EFBIG.
  const std::string out = dir_.path("out.raw");
  const int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  const uint64_t limit = 5 * kBs + 100;
  struct rlimit old {};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
  struct sigaction ignore {
  }, before{};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(::sigaction(SIGXFSZ, &ignore, &before), 0);
  struct rlimit small = old;
  small.rlim_cur = limit;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  FdOutput sink(fd, out, /*sparse=*/false, 0);
  ExportCounts c;
  auto f = export_image(*store_, sink, options(), c);
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &old), 0);
  ASSERT_EQ(::sigaction(SIGXFSZ, &before, nullptr), 0);
  ::close(fd);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->file, out);
  EXPECT_EQ(f->cause, "write at offset " + std::to_string(limit) + ": File too large");
  Bytes got = read_file(out);
  ASSERT_EQ(got.size(), limit);
  EXPECT_TRUE(std::equal(got.begin(), got.end(), layout_.disk.begin()));
}

TEST_F(Export, ACancelStopsItAsInterrupted) {
  write_layout();
  RecordingOutput sink(/*sparse=*/false);
  ExportOptions o = options();
  bool stop = false;
  o.cancel = [&] { return stop; };
  o.progress = [&](uint64_t) { stop = true; };
  ExportCounts c;
  auto f = export_image(*store_, sink, o, c);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->why, Failure::Why::kInterrupted);
  EXPECT_EQ(f->file, "OUT");
  EXPECT_EQ(f->cause, "interrupted");
  EXPECT_LT(sink.written, kCapacity);
}

TEST(BadBlocksText, NamesEightRangesAtMost) {
  EXPECT_EQ(bad_blocks_text({{7, 1}}), "1 BAD block (7)");
  std::vector<std::pair<uint64_t, uint64_t>> many;
  for (uint64_t i = 0; i < 10; ++i) many.push_back({i * 10, 2});
  EXPECT_EQ(bad_blocks_text(many),
            "20 BAD blocks (0-1, 10-11, 20-21, 30-31, 40-41, 50-51, 60-61, 70-71, and 2 more ranges)");
}

TEST(HoleBase, OnlyARegularFileEmptyPastItsOffsetTakesHoles) {
  test::TempDir dir;
  const std::string path = dir.path("f");
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT, 0644);
  ASSERT_EQ(::write(fd, "abc", 3), 3);
  EXPECT_EQ(hole_base(fd), std::optional<uint64_t>(3));
  ASSERT_EQ(::lseek(fd, 1, SEEK_SET), 1);
  EXPECT_EQ(hole_base(fd), std::nullopt) << "bytes past the offset would survive holes";
  ::close(fd);
  fd = ::open(path.c_str(), O_WRONLY | O_APPEND);
  EXPECT_EQ(hole_base(fd), std::nullopt);
  ::close(fd);
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  EXPECT_EQ(hole_base(p[1]), std::nullopt);
  ::close(p[0]);
  ::close(p[1]);
}

TEST(TempOutput, IsRemovedUnlessCommittedAndThenTakesTheName) {
  test::TempDir dir;
  const std::string out = dir.path("out.raw");
  auto leftovers = [&] {
    size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir.path(""))) n += e.path().filename() != "out.raw";
    return n;
  };
  {
    TempOutput tmp;
    ASSERT_TRUE(tmp.create(out).is_ok());
    EXPECT_EQ(leftovers(), 1u);
  }
  EXPECT_EQ(leftovers(), 0u);
  EXPECT_FALSE(std::filesystem::exists(out));
  TempOutput tmp;
  ASSERT_TRUE(tmp.create(out).is_ok());
  ASSERT_EQ(::write(tmp.fd(), "x", 1), 1);
  ASSERT_TRUE(tmp.commit(out).is_ok());
  EXPECT_EQ(std::filesystem::file_size(out), 1u);
  EXPECT_EQ(leftovers(), 0u);

  TempOutput nowhere;
  Status s = nowhere.create(dir.path("missing/out.raw"));
  EXPECT_EQ(s.code(), Status::Code::kNotFound);
  EXPECT_EQ(s.message(), dir.path("missing/out.raw") + ": cannot create a file in " + dir.path("missing") +
                             ": No such file or directory");
}

}  // namespace
}  // namespace vblk::transfer
