#pragma once
// vblk-format --resize TARGET NEWSIZE [--force]: the size of an image's disk,
// changed offline on an image at rest or live on a running vblkfs disk
// (TARGET its mountpoint or disk file), through the control interface. See
// vblk-format(1) and inject/resize.h.
// Thread safety: none needed; called once from main().

#include <optional>
#include <string>

#include "cli/report.h"

namespace vblk::cli {

// Resizes, printing one summary line on standard output on success (with
// `json`, one object: vblk-format(1), JSON OUTPUT).
// Failures carry the file they concern and an exit code: 2 for a size the
// image cannot take (not a whole number of blocks, 0, over the format's
// limit), 1 for the rest (a refused shrink, an image in use, host I/O).
// `quiet` (-q): no summary line on success; `json` prints the object even so.
std::optional<Failure> resize_target(const std::string& target, const std::string& size_text, bool force, bool quiet,
                                     bool json);

}  // namespace vblk::cli
