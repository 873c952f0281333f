// The mount table reader (util/mountinfo.h): fields, escapes, stacking.
#include "util/mountinfo.h"

#include <gtest/gtest.h>

#include "test_util.h"
#include "util/bytes.h"

namespace vblk {
namespace {

// Writes `text` as a file "mountinfo" in dir; returns its path.
std::string mountinfo_file(const test::TempDir& dir, const std::string& text) {
  const std::string path = dir.path("mountinfo");
  test::spit(path, std::vector<uint8_t>(text.begin(), text.end()));
  return path;
}

TEST(Mountinfo, UnescapesOctalOnly) {
  EXPECT_EQ(unescape_mountinfo(R"(/mnt/it\047s\040a\040disk)"), "/mnt/it's a disk");
  EXPECT_EQ(unescape_mountinfo(R"(back\134slash)"), "back\\slash");
  EXPECT_EQ(unescape_mountinfo(R"(not\8escape\04)"), R"(not\8escape\04)");  // not three octal digits
  EXPECT_EQ(unescape_mountinfo(""), "");
}

TEST(Mountinfo, ReadsFieldsAfterTheOptionalOnes) {
  test::TempDir dir;
  const std::string path = mountinfo_file(dir,
                                          "22 1 0:21 / /proc rw,nosuid shared:12 - proc proc rw\n"
                                          "40 22 0:50 / /var/tmp/a\\040b rw,nosuid,nodev master:1 shared:2 - "
                                          "fuse.vblkfs /img/d\\040isk.vblk rw,user_id=0\n"
                                          "41 40 0:51 / /var/tmp/a\\040b rw - fuse.other other rw\n");
  auto mounts = read_mountinfo(path);
  ASSERT_TRUE(mounts);
  ASSERT_EQ(mounts->size(), 3u);
  EXPECT_EQ((*mounts)[1].mountpoint, "/var/tmp/a b");
  EXPECT_EQ((*mounts)[1].fstype, "fuse.vblkfs");
  EXPECT_EQ((*mounts)[1].source, "/img/d isk.vblk");
  EXPECT_EQ((*mounts)[2].fstype, "fuse.other");  // stacked later, listed later
  EXPECT_FALSE(read_mountinfo(dir.path("missing")));
}

TEST(Mountinfo, FindsTheLastMountStackedOnAMountpoint) {
  test::TempDir dir;
  const std::string path = mountinfo_file(dir,
                                          "40 22 0:50 / /mnt/a rw - fuse.vblkfs /img/one rw\n"
                                          "41 40 0:51 / /mnt/a rw - fuse.vblkfs /img/two rw\n"
                                          "42 22 0:52 / /mnt/a/b rw - ext4 /dev/loop0 rw\n");
  auto m = find_mount("/mnt/a", path);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->source, "/img/two");
  EXPECT_EQ(find_mount("/mnt/a/b", path)->fstype, "ext4");
  EXPECT_FALSE(find_mount("/mnt", path));
  EXPECT_FALSE(find_mount("/mnt/a", dir.path("missing")));
}

TEST(Mountinfo, RealPathOfMissingIsEmpty) {
  EXPECT_EQ(real_path("/no/such/path/anywhere"), "");
  EXPECT_EQ(real_path("/"), "/");
  EXPECT_TRUE(vblkfs_mountpoints_of("/no/such/image").empty());
}

TEST(AllZero, EveryLengthAndPosition) {
  std::vector<uint8_t> buf(4096 + 3, 0);
  for (size_t n : {size_t{0}, size_t{1}, size_t{7}, size_t{4096}, buf.size()}) {
    EXPECT_TRUE(all_zero(buf.data(), n)) << n;
    for (size_t at : {size_t{0}, n / 2, n - 1}) {
      if (n == 0) continue;
      buf[at] = 1;
      EXPECT_FALSE(all_zero(buf.data(), n)) << n << " at " << at;
      buf[at] = 0;
    }
  }
}

}  // namespace
}  // namespace vblk
