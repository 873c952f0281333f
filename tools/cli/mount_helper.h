#pragma once
// The mount(8) / fstab calling convention: mount.fuse3 runs
//   vblkfs IMAGE MOUNTPOINT -o OPT[,OPT...]
// for `mount -t fuse.vblkfs IMAGE MOUNTPOINT -o ...` and for fstab lines of
// type fuse.vblkfs. This translates such a command line into MountOptions.
//
// vblkfs's own options, spelled as mount options: ro, rw, cache-size=SIZE,
// name=NAME, log-level=LEVEL, log-file=PATH, syslog, threads=N,
// compress-at-write, allow_other (and -f before or after the list). Given
// twice, the last one counts; each is checked. Options that only mean
// something to mount(8) or systemd (defaults, auto, noauto, user, nouser,
// users, owner, nofail, _netdev, x-*, comment=*) and empty items are
// dropped; everything else is handed to FUSE (dev, suid, noatime,
// max_read=N, ...).

#include <string>
#include <vector>

#include "fuse/mount.h"
#include "vblk/status.h"

namespace vblk::cli {

// True when argv looks like the helper convention rather than a subcommand.
bool is_mount_helper_call(int argc, char** argv);

// args: argv without the program name. Fails with one line naming the
// option and what is wrong with it.
Result<fuse::MountOptions> parse_mount_helper_args(const std::vector<std::string>& args);

}  // namespace vblk::cli
