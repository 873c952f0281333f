#pragma once
// Talking to a running vblkfs daemon from the tools: its live control
// interface is a set of extended attributes (user.vblk.*) on the disk file
// and on the mountpoint directory; see vblkfs(1), CONTROL INTERFACE.
// Thread safety: none needed; plain system calls.

#include <string>
#include <string_view>

#include "vblk/status.h"

namespace vblk::cli {

// True when `path` is a vblkfs mountpoint or disk file: it answers
// user.vblk.stats (or refuses it with EACCES on a FUSE mount: the daemon).
bool is_live_target(const std::string& path);

// The value of extended attribute `name` of `path`. Errors name the path and
// the cause (refused: "only the user who mounted it, or root, may ...").
Result<std::string> read_xattr(const std::string& path, const std::string& name);

// Sends one control command (user.vblk.control) and returns the daemon's
// reply. A refused command is an error carrying the daemon's reason.
Result<std::string> send_control(const std::string& path, std::string_view command);

// The mountpoint of the vblkfs daemon serving `image` (from
// /proc/self/mountinfo), or "" if none is mounted here.
std::string vblkfs_mountpoint_of(const std::string& image);

// For an image that another process holds: "in use by process N (vblkfs);
// target the mountpoint M instead" (as much of it as is known); otherwise
// the status's own cause.
std::string busy_cause(const Status& status, const std::string& image, std::string_view advice);

// For a file that a tool was to replace (io::lock_for_replace) but another
// process holds as an image: "image is in use by process N (vblkfs): it
// cannot be replaced while in use; unmount it first (vblkfs umount M)";
// otherwise the status's own cause.
std::string replace_busy_cause(const Status& status, const std::string& file);

}  // namespace vblk::cli
