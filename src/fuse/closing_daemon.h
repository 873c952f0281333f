#pragma once
// A vblkfs daemon that has been unmounted (umount, fusermount3 -u) still
// holds its image while it flushes and closes it. `umount M && vblkfs mount
// IMAGE M` must not fail on such a daemon, which is about to let go: a new
// mount waits for it first.
// Thread safety: functions of their arguments and the files they read.
#include <chrono>
#include <string>

namespace vblk::fuse {

// Waits, up to `limit`, while `image` is held by a closing daemon (one line
// on stderr says so). Any other holder, or one still there after `limit`,
// is left to the image's open to report.
void wait_for_closing_daemon(const std::string& image, std::chrono::seconds limit);

}  // namespace vblk::fuse
