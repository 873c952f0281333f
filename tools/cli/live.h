#pragma once
// Talking to a running vblkfs daemon or NBD plugin from the tools: the
// live control interface is a set of extended attributes (user.vblk.*) on
// the disk file and on the mountpoint directory (vblkfs(1), CONTROL
// INTERFACE), or, for an image file served by the NBD plugin, the same
// names and values over its control socket (live/socket.h). Every function
// below takes either kind of target.
// Thread safety: none needed; plain system calls.

#include <string>
#include <string_view>

#include "live/live_stats.h"
#include "util/json.h"
#include "vblk/status.h"

namespace vblk::cli {

// True when `path` is a vblkfs mountpoint or disk file: it answers
// user.vblk.stats (or refuses it with EACCES on a FUSE mount: the daemon);
// or an image held by a server with a control socket (IMAGE.ctl).
bool is_live_target(const std::string& path);

// The value of extended attribute `name` of `path`. Errors name the path and
// the cause (refused: "only the user who mounted it, or root, may ...").
Result<std::string> read_xattr(const std::string& path, const std::string& name);

// The statistics of a live target (user.vblk.stats, live/live_stats.h).
// Errors name the target; a malformed document is Corruption
// "unreadable user.vblk.stats: CAUSE" (the key at fault, or the JSON
// error).
Result<live::LiveStats> read_live_stats(const std::string& target);

// Sends one control command (user.vblk.control) and returns the daemon's
// reply. A refused command is an error carrying the daemon's reason.
Result<std::string> send_control(const std::string& path, std::string_view command);

// send_control for --json: sends the command and returns the daemon's
// reply as an object (user.vblk.control.json: what the command did, with
// "image" and "message"). A daemon of a version without JSON replies is
// refused before the command is sent, so nothing is done.
Result<Json> send_control_json(const std::string& path, std::string_view command);

// The mountpoint of the vblkfs daemon serving `image` (from
// /proc/self/mountinfo), or "" if none is mounted here.
std::string vblkfs_mountpoint_of(const std::string& image);

// For an image that another process holds: "in use by process N (vblkfs);
// target the mountpoint M instead" (as much of it as is known); for nbdkit
// without a usable control socket, that the socket is missing and the
// server must be stopped; otherwise the status's own cause.
std::string busy_cause(const Status& status, const std::string& image, std::string_view advice);

// For a file that a tool was to replace (io::lock_for_replace) but another
// process holds as an image: "image is in use by process N (vblkfs): it
// cannot be replaced while in use; unmount it first (vblkfs umount M)";
// otherwise the status's own cause.
std::string replace_busy_cause(const Status& status, const std::string& file);

}  // namespace vblk::cli
