// Whether an image's lock is held (io/file.h: lock_held), which vblkfs
// mount and umount ask about an image that a daemon may still hold.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "io/file.h"
#include "test_util.h"

namespace vblk {
namespace {

class ImageLock : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.path("image");
    auto f = io::open_posix_file(path_, true, true, io::LockMode::kNone);
    ASSERT_TRUE(f) << f.status().to_string();
    fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd_, 0);
  }
  void TearDown() override { ::close(fd_); }

  test::TempDir dir_;
  std::string path_;
  int fd_ = -1;
};

TEST_F(ImageLock, NotHeldWithoutAnOpenImage) { EXPECT_FALSE(io::lock_held(fd_)); }

TEST_F(ImageLock, HeldWhileOpenExclusiveThenReleased) {
  {
    auto image = io::open_posix_file(path_, true, false, io::LockMode::kExclusive);
    ASSERT_TRUE(image) << image.status().to_string();
    EXPECT_TRUE(io::lock_held(fd_));
    EXPECT_EQ(io::lock_holder_pid(fd_), ::getpid());
  }
  EXPECT_FALSE(io::lock_held(fd_));
}

TEST_F(ImageLock, HeldWhileOpenShared) {
  auto image = io::open_posix_file(path_, false, false, io::LockMode::kShared);
  ASSERT_TRUE(image) << image.status().to_string();
  EXPECT_TRUE(io::lock_held(fd_));
}

TEST_F(ImageLock, ABadDescriptorIsNotHeld) { EXPECT_FALSE(io::lock_held(-1)); }

}  // namespace
}  // namespace vblk
