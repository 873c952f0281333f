#pragma once
// The verdict on an erasure-coded member set: can every stripe still be
// read, which groups are degraded, and how many more failures the set can
// take, all computed with ec::Codec::recoverable() over the chunks the
// member statuses (member_status.h) leave.
//
// Per code word (one per box without --ha, one over all boxes with it):
// the chunk positions whose member is not online are missing; the word is
// recoverable when the codec can rebuild every missing chunk. How many
// more failures it "can take" is the largest k such that every choice of
// k further missing chunks (among those still there) leaves it
// recoverable, found by trying the choices with the codec, smallest k
// first (recoverability is monotone: losing more never helps). A group's
// count tries only further failures among its own data and local parity,
// the rest of the word as it is; the member set's is its weakest word's.
// Boxes the same way: a box is down when every member in it failed, and
// "more boxes" counts further whole boxes the set can lose.
//
// The search is bounded (JudgeOptions::max_checks recoverable() calls per
// count): past the bound a count is a lower bound, marked at_least.
// Thread safety: pure functions.

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "ec/codec.h"
#include "ec/layout.h"
#include "report/member_status.h"
#include "vblk/status.h"

namespace vblk::report {

// How many more failures (chunks, or boxes) a stripe can take.
struct Tolerance {
  uint32_t more = 0;
  bool at_least = false;  // the search stopped at its bound: `more` or more
  bool operator==(const Tolerance&) const = default;
};

struct GroupVerdict {
  uint32_t group = 0;
  ec::GroupHealth health = ec::GroupHealth::kIntact;
  uint32_t missing = 0;             // of its data and local parity chunks
  std::optional<Tolerance> more;    // none when the word is not recoverable
};

struct WordVerdict {
  uint32_t word = 0;
  bool recoverable = true;
  uint32_t missing = 0;          // chunk positions
  uint32_t missing_global = 0;   // of them global parity
  uint32_t spares_ready = 0;     // spare members in state kSpare
  std::vector<GroupVerdict> groups;
  std::optional<Tolerance> more;  // none when not recoverable
  bool degraded() const { return missing != 0; }
};

struct Verdict {
  bool recoverable = true;  // every word is
  bool ha = false;
  uint32_t failed_members = 0;      // state kFailed, spares included
  uint32_t rebuilding_members = 0;  // state kRebuilding
  std::vector<WordVerdict> words;
  std::vector<uint32_t> boxes_down;     // every member failed, ascending
  std::optional<Tolerance> more;        // the weakest word's; none when not recoverable
  std::optional<Tolerance> more_boxes;  // whole boxes; none when not recoverable
};

struct JudgeOptions {
  // recoverable() calls one count may take before it is given as a lower
  // bound (the brief's 484-member layout needs about 12000 per word).
  uint64_t max_checks = 200000;
};

// OK when `members` describes `layout`: one status per member, each index
// once, role, box and group as the layout has them, a rebuild fraction in
// [0, 1]. Otherwise InvalidArgument naming the member and what disagrees
// ("member 7: role spare, the layout says data").
Status check_member_statuses(const ec::Layout& layout, std::span<const MemberStatus> members);

// The verdict; the errors of check_member_statuses.
Result<Verdict> judge_members(const ec::Layout& layout, std::span<const MemberStatus> members,
                              const JudgeOptions& options = {});

}  // namespace vblk::report
