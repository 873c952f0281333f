#pragma once
// The rules file: the FaultDevice rules (flaky, latency, remap) of an image,
// kept beside it as IMAGE.faults so that they persist like the BAD marks in
// the image itself. Text, one command of the control language per line
// (inject/command.h), '#' starts a comment, and a "uuid" line names the
// image the rules belong to:
//
//   # vblk fault rules for /srv/disk.vblk (vblk-inject(1))
//   uuid 1b4e28ba-2fa1-41d2-883f-0016d3cca427
//   flaky 5 2
//   latency 20ms 0-1023
//   remap 10-20
//
// vblk-inject writes it offline; the daemon loads it at mount and rewrites it
// after every live change and at unmount (so used-up flaky writes stay used
// up). A file with no rules is removed. A file naming another image's UUID
// (left beside a path that now holds a new image, or copied) is not applied;
// a file without a uuid line (written before vblk recorded it) is applied,
// and gets the line when next saved.
// Thread safety: none; callers hold the image lock, which orders writers.

#include <string>
#include <vector>

#include "vblk/fault_device.h"
#include "vblk/status.h"

namespace vblk::inject {

// IMAGE + ".faults".
std::string rules_path(const std::string& image);

// The image's real path, which names its rules file as the daemon (given
// the real path) names it; `image` itself when it cannot be resolved.
std::string real_image_path(const std::string& image);

// The image a rules file is for: its path (for messages) and UUID.
struct ImageId {
  std::string path;
  std::string uuid;
};

struct LoadedRules {
  size_t applied = 0;
  std::string file_uuid;  // the UUID the file names; empty in a file without one
  std::string ignored;    // a warning naming the file, both UUIDs and the image
                          // when the file is another image's; empty otherwise
};

// Adds the rules in `path` to `faults` if the file is `image`'s. A missing
// file is no rules. Errors name the file and line.
Result<LoadedRules> load_rules(const std::string& path, const ImageId& image, FaultDevice& faults);

// Replaces `path` with `rules` stamped with `image`'s UUID (write to a
// temporary file, fsync, rename); removes it when `rules` is empty.
Status save_rules(const std::string& path, const ImageId& image, const std::vector<FaultRule>& rules);

// Removes the rules file at `path`, if there is one.
Status remove_rules(const std::string& path);

}  // namespace vblk::inject
