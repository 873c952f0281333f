#pragma once
// Where vblkfs logs while it serves a mount. Warnings and errors must reach
// somewhere an operator looks: --log-file if given; else stderr in the
// foreground and syslog as a daemon; --syslog adds syslog to any of them.
// Thread safety: setup_logging before any other thread logs;
// detach_from_terminal once, from any thread.
#include <spdlog/spdlog.h>

#include "fuse/mount.h"

namespace vblk::fuse {

// Sets the default logger for o. For a daemon, returns a sink that also
// copies warnings and errors to stderr until detach_from_terminal: what goes
// wrong while `vblkfs mount` still runs in the terminal is seen there, even
// on a host with no syslog daemon; null in the foreground. Throws what
// spdlog throws (a log file that cannot be opened).
spdlog::sink_ptr setup_logging(const MountOptions& o, bool daemon);

// A daemon, once its mount is usable, has no terminal to write to: silences
// early_stderr, points descriptors 0-2 at /dev/null and leaves its working
// directory (chdir /), so that it keeps no directory busy.
void detach_from_terminal(const spdlog::sink_ptr& early_stderr);

}  // namespace vblk::fuse
