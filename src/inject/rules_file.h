#pragma once
// The rules file: the FaultDevice rules (flaky, latency, remap) of an image,
// kept beside it as IMAGE.faults so that they persist like the BAD marks in
// the image itself. Text, one command of the control language per line
// (inject/command.h), '#' starts a comment:
//
//   # vblk fault rules for /srv/disk.vblk (vblk-inject(1))
//   flaky 5 2
//   latency 20ms 0-1023
//   remap 10-20
//
// vblk-inject writes it offline; the daemon loads it at mount and rewrites it
// after every live change and at unmount (so used-up flaky writes stay used
// up). A file with no rules is removed.
// Thread safety: none; callers hold the image lock, which orders writers.

#include <string>
#include <vector>

#include "vblk/fault_device.h"
#include "vblk/status.h"

namespace vblk::inject {

// IMAGE + ".faults".
std::string rules_path(const std::string& image);

// Adds the rules in `path` to `faults`. A missing file is no rules. Errors
// name the file and line.
Result<size_t> load_rules(const std::string& path, FaultDevice& faults);

// Replaces `path` with `rules` (write to a temporary file, fsync, rename);
// removes it when `rules` is empty.
Status save_rules(const std::string& path, const std::string& image, const std::vector<FaultRule>& rules);

}  // namespace vblk::inject
