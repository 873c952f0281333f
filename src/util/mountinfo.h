#pragma once
// The mount table as the kernel lists it in /proc/PID/mountinfo, and the
// vblkfs mounts in it. Used by vblkfs (its own mount, umount), the tools
// (a mountpoint given for an image, an image in use) and the tests' aids.
// Thread safety: functions of their arguments and the files they read.

#include <optional>
#include <string>
#include <vector>

namespace vblk {

struct MountEntry {
  std::string mountpoint;  // unescaped (mountinfo writes a space as \040)
  std::string fstype;      // with its subtype: "fuse.vblkfs"
  std::string source;      // unescaped; a vblkfs mount's is the image's real path
};

// The mounts listed in a mountinfo file, in order (later mounts stack on
// earlier ones); nullopt if it cannot be read.
std::optional<std::vector<MountEntry>> read_mountinfo(const std::string& path = "/proc/self/mountinfo");

// The mount at exactly `mountpoint` in a mountinfo file, the last one
// stacked there; nullopt if there is none or the file cannot be read.
std::optional<MountEntry> find_mount(const std::string& mountpoint, const std::string& path = "/proc/self/mountinfo");

// Undoes mountinfo's octal escapes (\040 for a space, \134 for a backslash).
std::string unescape_mountinfo(const std::string& s);

// The mountpoints of the vblkfs mounts of `image` in this mount namespace,
// in mount order (vblkfs names a mount after the image's real path).
std::vector<std::string> vblkfs_mountpoints_of(const std::string& image);

// The canonical absolute path of `path` (symlinks resolved), or "" when it
// cannot be resolved (missing, no permission).
std::string real_path(const std::string& path);

}  // namespace vblk
