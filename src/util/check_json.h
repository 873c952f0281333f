#pragma once
// The JSON shape of check() findings, one schema for `vblk-inspect --check
// --json` and the daemon's scrub in user.vblk.stats: an array of objects
// {block (or null for a structure), file_offset, what}.
#include <span>

#include "util/json.h"
#include "vblk/image_store.h"

namespace vblk {

inline void write_check_problems(JsonWriter& j, std::span<const CheckProblem> problems) {
  j.key("problems").begin_array();
  for (const CheckProblem& p : problems) {
    j.begin_object();
    j.key("block");
    if (p.has_block) {
      j.value(p.block);
    } else {
      j.null();
    }
    j.field("file_offset", p.file_offset);
    j.field("what", p.what);
    j.end_object();
  }
  j.end_array();
}

}  // namespace vblk
