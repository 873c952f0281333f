#pragma once
// The JSON shape of check() findings, one schema for `vblk-inspect --check
// --json` and the daemon's scrub in user.vblk.stats: an array of objects
// {block (or null for a structure), file_offset, what}.
#include <span>

#include "util/json.h"
#include "vblk/image_store.h"

namespace vblk {

Json check_problems_json(std::span<const CheckProblem> problems);

}  // namespace vblk
