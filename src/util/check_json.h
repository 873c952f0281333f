#pragma once
// The JSON shape of check() findings, one schema for `vblk-inspect --check
// --json` and the daemon's scrub in user.vblk.stats: an array of objects
// {block (or null for a structure), file_offset, what}.
#include <span>

#include "util/json.h"
#include "util/json_fields.h"
#include "vblk/image_store.h"

namespace vblk {

// The members of one problem (util/json_fields.h); P: CheckProblem or
// const CheckProblem.
template <class IO, class P>
void check_problem_fields(IO& io, P& p) {
  io.nullable("block", p.block, p.has_block);
  io.field("file_offset", p.file_offset);
  io.field("what", p.what);
}

Json check_problems_json(std::span<const CheckProblem> problems);

}  // namespace vblk
