#pragma once
// The report of vblk-inspect --members on an erasure-coded image: a table
// of the members, then the verdict (member_verdict.h), as text or as JSON.
//
// Text:
//   layout: 4 data (2,2) + 2 local + 1 global + 1 spares, a word in each of 2 boxes
//   index  box  word  role           group  state                   bytes  errors  first bytes
//       0    0     0  data               0  online                1048576       0  56 42 00 ff
//       2    0     0  data               0  failed                1048576       7  56 42 02 ff
//      14    0     0  spare              -  rebuilding 42%        1048576       0  56 42 0e ff
//       ...
//   verdict: recoverable; 1 member failed, 1 rebuilding
//   word 0 (box 0): degraded, 1 of 7 chunks missing, can take 1 more failure; spares ready 0 of 1
//     group 0: 1 missing, rebuilt from its local parity; can take 1 more
//     group 1: intact; can take 2 more
//     global parity: 0 of 1 missing
//   word 1 (box 1): intact, can take 2 more failures, each group 2 more; spares ready 1 of 1
//   boxes down: none
//   the member set can take 1 more failure (in its weakest word) and no more boxes
// A degraded word lists every group; a run of intact words alike is one
// line ("words 1-10 (boxes 1-10): intact, ..."). A box whose members all
// failed is named: without --ha its word's stripes are lost, with --ha it
// is the box failure the layout is made to survive.
// JSON: {"layout": {...}, "members": [...], "verdict": {...}}, the same
// facts (the keys are listed with members_json).
// Thread safety: pure functions.

#include <span>
#include <string>
#include <vector>

#include "ec/layout.h"
#include "report/member_status.h"
#include "report/member_verdict.h"
#include "util/json.h"
#include "vblk/status.h"

namespace vblk::report {

struct MemberReport {
  ec::Layout layout;
  std::vector<MemberStatus> members;  // by index
  Verdict verdict;
};

// The report; the errors of judge_members.
Result<MemberReport> build_member_report(const ec::Layout& layout, std::span<const MemberStatus> members,
                                         const JudgeOptions& options = {});

// "de ad be ef".
std::string first_bytes_text(const MemberStatus& m);
// "online", "rebuilding 42%".
std::string state_text(const MemberStatus& m);
// "1 more failure", "no more failures", "at least 3 more failures" (one:
// "failure", many: "failures"; both "" give "2 more"); "nothing" for none.
std::string tolerance_text(const std::optional<Tolerance>& t, const char* one, const char* many);

// The member table and the verdict, as above. Ends with '\n'.
std::string members_text(const MemberReport& report);
std::string verdict_text(const MemberReport& report);
// The verdict's first line ("verdict: recoverable; 1 member failed, 0
// rebuilding" or "verdict: DATA LOSS: word 0 group 1 lost; ...") and its
// last ("the member set can take 1 more failure (in its weakest word) and
// no more boxes"), without '\n'.
std::string verdict_headline(const Verdict& verdict);
std::string tolerance_line(const Verdict& verdict);

// {"layout": {data_members, group_size, global_parity, spares, boxes, ha,
//             members, words, describe},
//  "members": [{index, box, word, role, group (null: none), state,
//               table_state (null unless it says more), bytes,
//               errors, first_bytes ("deadbeef"), rebuild_fraction (null
//               unless rebuilding)}],
//  "verdict": {recoverable, failed_members, rebuilding_members,
//              more_failures, more_failures_exact, boxes_down: [box...],
//              box_failure ("none", "tolerated" with --ha, "data lost"),
//              more_boxes, more_boxes_exact,
//              words: [{word, box (null with --ha), recoverable, missing,
//                       missing_global, spares_ready, more_failures,
//                       more_failures_exact, degraded_groups: [group...],
//                       groups: [{group, health (intact, local, global,
//                                 lost), missing, more_failures,
//                                 more_failures_exact}]}]}}
// A count of more failures is null when there is nothing left to lose;
// *_exact is false when the search stopped at its bound (a lower bound).
Json members_json(const MemberReport& report);

}  // namespace vblk::report
