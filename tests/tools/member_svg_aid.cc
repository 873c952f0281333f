// Test aid for member_svg.sh: prints the SVG of the brief's member sets
// (report/member_svg.h) with some members failed, rebuilding and spare.
// Usage: member_svg_aid brief|ha
#include <cstdio>
#include <cstring>

#include "report/member_svg.h"

int main(int argc, char** argv) {
  using vblk::report::MemberStatus;
  const bool ha = argc == 2 && std::strcmp(argv[1], "ha") == 0;
  if (argc != 2 || (!ha && std::strcmp(argv[1], "brief") != 0)) {
    std::fprintf(stderr, "usage: member_svg_aid brief|ha\n");
    return 2;
  }
  auto layout = ha ? vblk::ec::Layout::create({18, 6, 1, 0, 11, true}) : vblk::ec::Layout::create({38, 13, 1, 2, 11});
  if (!layout) return 1;
  std::vector<MemberStatus> members = vblk::report::layout_members(*layout);
  for (MemberStatus& m : members) {
    m.bytes = 1 << 20;
    m.first_bytes = {0x56, 0x42, static_cast<uint8_t>(m.index >> 8), static_cast<uint8_t>(m.index)};
  }
  if (ha) {
    for (uint32_t i : layout->box_members(3)) members[i].state = MemberStatus::State::kFailed;
  } else {
    members[layout->member_of(0, 5)].state = MemberStatus::State::kFailed;
    members[layout->member_of(0, 42)].state = MemberStatus::State::kRebuilding;
    members[layout->member_of(0, 42)].rebuild_fraction = 0.3;
    members[layout->member_of(1, 38)].state = MemberStatus::State::kFailed;
    members[layout->member_of(2, 41)].state = MemberStatus::State::kFailed;
    members[layout->member_of(3, 43)].state = MemberStatus::State::kFailed;
  }
  auto report = vblk::report::build_member_report(*layout, members);
  if (!report) {
    std::fprintf(stderr, "member_svg_aid: %s\n", report.status().to_string().c_str());
    return 1;
  }
  std::fputs(vblk::report::render_members_svg(*report, {.title = ha ? "ha & <box 3>" : "brief"}).c_str(), stdout);
  return 0;
}
