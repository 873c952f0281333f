#pragma once
// render_members_svg: a picture of an erasure-coded member set
// (member_report.h) as a standalone SVG document.
//
// One column per box, its members top to bottom by index, each a "drive
// button" showing the member's index, a role letter (D data, L local
// parity, G global parity, S spare) and its first 4 bytes in hex. The
// colour says what the member is and how it is:
//   data, online            green
//   local parity, online    purple
//   global parity, online   blue
//   spare (ready, or a spare member online)  yellow
//   failed (any role)       red
//   rebuilding (any role)   an orange bar filled to its fraction, "42%"
// A box whose members all failed has its heading in red, "down". Above
// the columns: the title, the layout and the verdict; below: a legend.
// Every member is a <g class="member"> with data-index, data-box,
// data-word, data-role, data-group, data-state, data-bytes, data-errors,
// data-first-bytes and data-rebuild (the fraction, or empty), holding a
// <title> tooltip, a <rect class="button"> with the colour above and, when
// rebuilding, a <rect class="progress">.
// Thread safety: pure function.

#include <string>

#include "report/member_report.h"

namespace vblk::report {

struct MemberSvgOptions {
  std::string title;  // e.g. the image path or mountpoint
};

std::string render_members_svg(const MemberReport& report, const MemberSvgOptions& options);

// The button colour of a member in `state` with `role` ("#rrggbb").
const char* member_fill(ec::Role role, MemberStatus::State state);

}  // namespace vblk::report
