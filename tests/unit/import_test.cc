// transfer/import.h: a raw file with holes, zeros and a partial last block
// into an image, a stream that holds too little or too much, and the ways
// it fails: an unreadable input, one that shrinks, a store whose host file
// is full, a cancel. Also transfer/raw_input.h.
#include "transfer/import.h"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "image_fixtures.h"
#include "test_util.h"
#include "transfer/raw_input.h"

namespace vblk::transfer {
namespace {

using Bytes = std::vector<uint8_t>;
constexpr uint32_t kBs = 4096;

class Import : public ::testing::Test {
 protected:
  // An image of `capacity` bytes to import into.
  void make_image(uint64_t capacity) {
    FormatOptions f;
    f.capacity_bytes = capacity;
    f.block_size = kBs;
    OpenOptions o;
    o.background_maintenance = false;
    o.defer_compression = false;
    auto s = ImageStore::create_and_open(dir_.path("img"), f, o);
    ASSERT_TRUE(s.is_ok()) << s.status().to_string();
    store_ = std::move(*s);
  }
  void TearDown() override {
    if (store_) {
      ASSERT_TRUE(store_->close().is_ok());
    }
  }

  // Writes `data` at `offset` of the raw file (created sparse, of `size`).
  void raw_put(uint64_t offset, const Bytes& data) {
    ASSERT_EQ(::pwrite(raw_fd(), data.data(), data.size(), static_cast<off_t>(offset)),
              static_cast<ssize_t>(data.size()));
  }
  int raw_fd() {
    if (raw_ < 0) raw_ = ::open(dir_.path("raw").c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
    return raw_;
  }
  ~Import() override {
    if (raw_ >= 0) ::close(raw_);
  }

  ImportOptions options() {
    ImportOptions o;
    o.image_name = "IMG";
    return o;
  }

  // The image's disk, read back block by block.
  Bytes disk() {
    Bytes out(store_->block_count() * kBs);
    EXPECT_TRUE(store_->read_blocks(0, store_->block_count(), out).is_ok());
    return out;
  }

  test::TempDir dir_;
  std::unique_ptr<ImageStore> store_;
  int raw_ = -1;
};

TEST_F(Import, AFileWithHolesKeepsZeroBlocksFree) {
  // 40 MiB and a half block: data at the start, written zeros (allocated,
  // not a hole) at 1 MiB, data across a 4 MiB chunk's end, a hole of
  // 30 MiB, and data in the partial last block.
  const uint64_t size = (40ull << 20) + kBs / 2;
  ASSERT_EQ(::ftruncate(raw_fd(), static_cast<off_t>(size)), 0);
  Bytes expect(size + kBs / 2, 0);
  auto put = [&](uint64_t off, const Bytes& d) {
    raw_put(off, d);
    std::copy(d.begin(), d.end(), expect.begin() + static_cast<std::ptrdiff_t>(off));
  };
  put(0, test::pattern_blocks(3, kBs, 1));
  raw_put(1 << 20, Bytes(8 * kBs, 0));
  put((4 << 20) - 2 * kBs, test::pattern_blocks(4, kBs, 2));
  put(size - 100, test::random_bytes(100, 3));
  make_image(size + kBs / 2);

  FdInput in(raw_fd(), "RAW", /*stream=*/false, size);
  ImportOptions o = options();
  uint64_t last = 0;
  o.progress = [&](uint64_t done) {
    EXPECT_GT(done, last);
    last = done;
  };
  ImportCounts c;
  auto f = import_raw(*store_, in, o, c);
  ASSERT_FALSE(f) << f->file << ": " << f->cause;
  EXPECT_EQ(last, size);
  EXPECT_EQ(c.stored_blocks, 3u + 4u + 1u);
  EXPECT_EQ(c.zero_blocks, store_->block_count() - c.stored_blocks);
  EXPECT_EQ(disk(), expect);
  EXPECT_EQ(*store_->state(1 << 20 >> 12), BlockState::kFree) << "written zeros are left FREE";
  EXPECT_EQ(*store_->state(20 << 20 >> 12), BlockState::kFree);
}

TEST_F(Import, AStreamMustHoldExactlyItsSize) {
  const Bytes data = test::random_bytes(3 * kBs, 4);
  raw_put(0, data);
  make_image(4 * kBs);
  // As a pipe is read: in order, with no size of its own.
  for (uint64_t announced : {uint64_t{3} * kBs, uint64_t{2} * kBs, uint64_t{4} * kBs}) {
    ASSERT_EQ(::lseek(raw_fd(), 0, SEEK_SET), 0);
    FdInput in(raw_fd(), "RAW", /*stream=*/true, announced);
    ImportCounts c;
    auto f = import_raw(*store_, in, options(), c);
    if (announced == data.size()) {
      ASSERT_FALSE(f) << f->cause;
      EXPECT_EQ(c.stored_blocks, 3u);
      continue;
    }
    ASSERT_TRUE(f);
    EXPECT_EQ(f->file, "RAW");
    EXPECT_EQ(f->cause, announced < data.size() ? "holds more than the 8192 bytes of --size"
                                                : "ended after 12288 bytes; --size is 16384");
  }
  // Standard input says so.
  ASSERT_EQ(::lseek(raw_fd(), 0, SEEK_SET), 0);
  FdInput in(raw_fd(), "-", /*stream=*/true, 4 * kBs);
  EXPECT_EQ(in.shown(), "standard input");
  ImportCounts c;
  auto f = import_raw(*store_, in, options(), c);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->file, "-");
  EXPECT_EQ(f->cause, "standard input ended after 12288 bytes; --size is 16384");
}

TEST_F(Import, AnUnreadableInputFailsNamingIt) {
  make_image(4 * kBs);
  const int dir_fd = ::open(dir_.path("").c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(dir_fd, 0);
  FdInput in(dir_fd, "RAW", /*stream=*/false, 4 * kBs);
  ImportCounts c;
  auto f = import_raw(*store_, in, options(), c);
  ::close(dir_fd);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->file, "RAW");
  EXPECT_EQ(f->cause, "read at offset 0: Is a directory");
}

TEST_F(Import, AFileThatShrinksFails) {
  raw_put(0, test::random_bytes(kBs, 5));
  make_image(4 * kBs);
  FdInput in(raw_fd(), "RAW", /*stream=*/false, 4 * kBs);  // it was this large when measured
  ImportCounts c;
  auto f = import_raw(*store_, in, options(), c);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->file, "RAW");
  EXPECT_EQ(f->cause, "file shrank while being read (now 4096 bytes)");
}

// An input whose reads fail at one offset.
class FailingInput final : public RawInput {
 public:
  explicit FailingInput(uint64_t fail_at) : fail_at_(fail_at) {}
  const std::string& name() const override { return name_; }
  const std::string& shown() const override { return name_; }
  bool stream() const override { return false; }
  uint64_t size() const override { return 16 << 20; }
  std::optional<uint64_t> next_data(uint64_t offset) override { return offset; }
  Result<size_t> read(uint64_t offset, std::span<uint8_t> out) override {
    if (offset <= fail_at_ && fail_at_ < offset + out.size())
      return Status::io_error(name_ + ": read at offset " + std::to_string(fail_at_) + ": Input/output error");
    std::fill(out.begin(), out.end(), uint8_t{7});
    return out.size();
  }

 private:
  std::string name_ = "RAW";
  uint64_t fail_at_;
};

TEST_F(Import, AReadErrorMidwayNamesTheInputAndOffset) {
  make_image(16 << 20);
  FailingInput in(9 << 20);
  ImportCounts c;
  auto f = import_raw(*store_, in, options(), c);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->file, "RAW");
  EXPECT_EQ(f->cause, "read at offset 9437184: Input/output error");
}

TEST_F(Import, AFullImageFailsNamingTheImage) {
  // The store's host file fills up: every write from now on is ENOSPC.
  FormatOptions fo;
  fo.capacity_bytes = 16 << 20;
  fo.block_size = kBs;
  OpenOptions oo;
  oo.background_maintenance = false;
  oo.defer_compression = false;
  auto img = test::recorded_image("IMG", fo, oo);
  ASSERT_TRUE(img.is_ok()) << img.status().to_string();
  img->recorder->inject(io::FaultHook::kWrite, ENOSPC, -1);
  FailingInput in(UINT64_MAX);
  ImportCounts c;
  auto f = import_raw(*img->store, in, options(), c);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->file, "IMG");
  EXPECT_NE(f->cause.find("No space left on device"), std::string::npos) << f->cause;
  img->recorder->clear_faults();
  (void)img->store->close();
}

TEST_F(Import, ACancelStopsItAsInterrupted) {
  make_image(16 << 20);
  FailingInput in(UINT64_MAX);
  ImportOptions o = options();
  bool stop = false;
  o.cancel = [&] { return stop; };
  o.progress = [&](uint64_t) { stop = true; };
  ImportCounts c;
  auto f = import_raw(*store_, in, o, c);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->why, Failure::Why::kInterrupted);
  EXPECT_EQ(f->file, "IMG");
  EXPECT_EQ(c.stored_blocks, (4u << 20) / kBs) << "one chunk, then the cancel";
}

}  // namespace
}  // namespace vblk::transfer
