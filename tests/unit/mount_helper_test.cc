// The mount(8) helper command line (vblkfs IMAGE MOUNTPOINT -o LIST): each
// vblk option, what is dropped, what goes on to FUSE, and malformed lists.
#include "cli/mount_helper.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace vblk::cli {
namespace {

using Args = std::vector<std::string>;

fuse::MountOptions parsed(const Args& args) {
  auto m = parse_mount_helper_args(args);
  EXPECT_TRUE(m.is_ok()) << m.status().message();
  return m.is_ok() ? *m : fuse::MountOptions{};
}

// The option list alone, between IMAGE and MOUNTPOINT and "-o".
fuse::MountOptions with(const std::string& list) { return parsed({"img", "mnt", "-o", list}); }

std::string error_of(const Args& args) {
  auto m = parse_mount_helper_args(args);
  EXPECT_FALSE(m.is_ok());
  return m.is_ok() ? "" : m.status().message();
}
std::string error_with(const std::string& list) { return error_of({"img", "mnt", "-o", list}); }

TEST(MountHelper, RecognisesTheHelperConvention) {
  const char* helper[] = {"vblkfs", "disk.vblk", "/mnt", "-o", "ro"};
  const char* sub[] = {"vblkfs", "mount", "disk.vblk", "/mnt"};
  const char* flag[] = {"vblkfs", "--version", "x"};
  EXPECT_TRUE(is_mount_helper_call(5, const_cast<char**>(helper)));
  EXPECT_FALSE(is_mount_helper_call(4, const_cast<char**>(sub)));
  EXPECT_FALSE(is_mount_helper_call(3, const_cast<char**>(flag)));
  EXPECT_FALSE(is_mount_helper_call(2, const_cast<char**>(helper)));
}

TEST(MountHelper, PositionalsAndDefaults) {
  auto m = parsed({"disk.vblk", "/mnt/vm"});
  EXPECT_EQ(m.image, "disk.vblk");
  EXPECT_EQ(m.mountpoint, "/mnt/vm");
  fuse::MountOptions defaults;
  EXPECT_EQ(m.read_only, defaults.read_only);
  EXPECT_EQ(m.cache_bytes, defaults.cache_bytes);
  EXPECT_EQ(m.file_name, defaults.file_name);
  EXPECT_EQ(m.max_threads, defaults.max_threads);
  EXPECT_FALSE(m.foreground);
  EXPECT_TRUE(m.fuse_options.empty());
}

TEST(MountHelper, EveryVblkOption) {
  auto m = with("ro,cache-size=128M,name=vda,log-level=debug,log-file=/var/log/v.log,syslog,threads=7,"
                "compress-at-write,allow_other");
  EXPECT_TRUE(m.read_only);
  EXPECT_EQ(m.cache_bytes, 128u << 20);
  EXPECT_EQ(m.file_name, "vda");
  EXPECT_EQ(m.log_level, "debug");
  EXPECT_EQ(m.log_file, "/var/log/v.log");
  EXPECT_TRUE(m.syslog);
  EXPECT_EQ(m.max_threads, 7u);
  EXPECT_TRUE(m.compress_at_write);
  EXPECT_TRUE(m.allow_other);
  EXPECT_TRUE(m.fuse_options.empty()) << m.fuse_options[0];
}

TEST(MountHelper, UnderscoreSpellings) {
  auto m = with("cache_size=0,log_level=warn,log_file=l,compress_at_write");
  EXPECT_EQ(m.cache_bytes, 0u);
  EXPECT_EQ(m.log_level, "warn");
  EXPECT_EQ(m.log_file, "l");
  EXPECT_TRUE(m.compress_at_write);
}

TEST(MountHelper, ListBeforePositionalsAttachedAndSplit) {
  auto m = parsed({"-oro,name=vda", "img", "-o", "threads=3", "mnt", "-f"});
  EXPECT_EQ(m.image, "img");
  EXPECT_EQ(m.mountpoint, "mnt");
  EXPECT_TRUE(m.read_only);
  EXPECT_EQ(m.file_name, "vda");
  EXPECT_EQ(m.max_threads, 3u);
  EXPECT_TRUE(m.foreground);
}

TEST(MountHelper, MountAndSystemdOptionsAreDropped) {
  auto m = with("defaults,auto,noauto,user,nouser,users,owner,nofail,_netdev,rw,x-systemd.requires=/srv,"
                "x-systemd.automount,comment=systemd.something");
  EXPECT_TRUE(m.fuse_options.empty()) << m.fuse_options[0];
  EXPECT_FALSE(m.read_only);
}

TEST(MountHelper, OtherOptionsGoToFuseInOrder) {
  auto m = with("noatime,max_read=131072,ro,dev,suid");
  EXPECT_EQ(m.fuse_options, (std::vector<std::string>{"noatime", "max_read=131072", "dev", "suid"}));
  EXPECT_TRUE(m.read_only);
}

TEST(MountHelper, EmptyItemsAreSkipped) {
  auto m = with(",,ro,,cache-size=1M,");
  EXPECT_TRUE(m.read_only);
  EXPECT_EQ(m.cache_bytes, 1u << 20);
  EXPECT_TRUE(m.fuse_options.empty());
  EXPECT_TRUE(with("").fuse_options.empty());
  EXPECT_TRUE(with(",").fuse_options.empty());
}

TEST(MountHelper, EqualsWithoutAValueFails) {
  for (const char* opt : {"cache-size", "cache_size", "name", "log-level", "log_level", "log-file", "log_file", "threads"}) {
    const std::string item = std::string(opt) + "=";
    EXPECT_EQ(error_with("ro," + item), "-o " + item + ": " + opt + " needs a value");
  }
}

TEST(MountHelper, AValueOptionWithoutItsValueFails) {
  EXPECT_EQ(error_with("cache-size"), "-o cache-size: needs a value, as cache-size=VALUE");
  EXPECT_EQ(error_with("ro,name"), "-o name: needs a value, as name=VALUE");
  EXPECT_EQ(error_with("threads,ro"), "-o threads: needs a value, as threads=VALUE");
}

TEST(MountHelper, AFlagWithAValueFails) {
  EXPECT_EQ(error_with("ro=1"), "-o ro=1: ro takes no value");
  EXPECT_EQ(error_with("syslog=yes"), "-o syslog=yes: syslog takes no value");
  EXPECT_EQ(error_with("compress-at-write="), "-o compress-at-write=: compress-at-write takes no value");
}

TEST(MountHelper, RepeatedOptionsTheLastOneCounts) {
  auto m = with("cache-size=1M,name=a,ro,cache-size=2M,name=b,threads=2,threads=5");
  EXPECT_EQ(m.cache_bytes, 2u << 20);
  EXPECT_EQ(m.file_name, "b");
  EXPECT_EQ(m.max_threads, 5u);
  EXPECT_FALSE(with("ro,rw").read_only);
  EXPECT_TRUE(with("rw,ro").read_only);
  EXPECT_TRUE(parsed({"img", "mnt", "-o", "rw", "-o", "ro"}).read_only);
  EXPECT_EQ(with("noatime,noatime").fuse_options, (std::vector<std::string>{"noatime", "noatime"}));
}

TEST(MountHelper, EveryOccurrenceIsChecked) {
  EXPECT_NE(error_with("cache-size=lots,cache-size=1M").find("-o cache-size: invalid size 'lots'"), std::string::npos);
  EXPECT_EQ(error_with("threads=0,threads=4"), "-o threads: 0 is outside 1..256");
}

TEST(MountHelper, BadValues) {
  EXPECT_NE(error_with("cache-size=12Q").find("-o cache-size: invalid size '12Q'"), std::string::npos);
  EXPECT_NE(error_with("cache-size=-1").find("-o cache-size: invalid size '-1'"), std::string::npos);
  for (const char* n : {"0", "257", "18446744073709551617"})
    EXPECT_EQ(error_with(std::string("threads=") + n), std::string("-o threads: ") + n + " is outside 1..256");
  for (const char* n : {"-1", "4x", "x", " 4"})
    EXPECT_EQ(error_with(std::string("threads=") + n), std::string("-o threads: '") + n + "' is not a whole number");
  EXPECT_EQ(error_with("log-level=loud"),
            "-o log-level: 'loud' is not one of trace, debug, info, warn, error, critical, off");
  EXPECT_EQ(with("threads=256").max_threads, 256u);
}

TEST(MountHelper, EscapedCommaStaysInTheValue) {
  EXPECT_EQ(with("name=a\\,b,ro").file_name, "a,b");
}

TEST(MountHelper, MalformedCommandLines) {
  EXPECT_EQ(error_of({"img", "mnt", "-o"}), "-o needs an option list");
  EXPECT_EQ(error_of({"img", "mnt", "-x"}), "unknown option -x");
  EXPECT_EQ(error_of({"img", "mnt", "--foreground"}), "unknown option --foreground");
  EXPECT_EQ(error_of({"img"}), "expected IMAGE MOUNTPOINT");
  EXPECT_EQ(error_of({"img", "mnt", "extra"}), "expected IMAGE MOUNTPOINT");
}

}  // namespace
}  // namespace vblk::cli
