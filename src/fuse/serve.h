#pragma once
// The daemon's side of a vblkfs mount: open the image, mount it, serve it
// until it is unmounted or signalled, then flush and close it.
#include "fuse/mount.h"
#include "fuse/startup_report.h"

namespace vblk::fuse {

// Serves o's image at o's mountpoint and reports through `report`, once,
// whether the mount became usable. `daemon`: forked into the background
// (logs to syslog, detaches from the terminal once usable); otherwise in the
// foreground, telling systemd how it is doing. Returns the exit code: 0 when
// the mount was served and ended by unmount or SIGTERM/SIGINT/SIGHUP and the
// image closed cleanly, 1 otherwise.
int serve(const MountOptions& o, StartupReport& report, bool daemon);

}  // namespace vblk::fuse
