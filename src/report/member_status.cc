#include "report/member_status.h"

namespace vblk::report {

const char* to_string(MemberStatus::State state) {
  switch (state) {
    case MemberStatus::State::kOnline:
      return "online";
    case MemberStatus::State::kFailed:
      return "failed";
    case MemberStatus::State::kRebuilding:
      return "rebuilding";
    case MemberStatus::State::kSpare:
      return "spare";
  }
  return "unknown";
}

std::vector<MemberStatus> layout_members(const ec::Layout& layout) {
  std::vector<MemberStatus> out;
  for (const ec::Member& m : layout.members()) {
    MemberStatus s;
    s.index = m.index;
    s.role = m.role;
    s.box = m.box;
    s.group = m.group;
    s.state = m.role == ec::Role::kSpare ? MemberStatus::State::kSpare : MemberStatus::State::kOnline;
    out.push_back(s);
  }
  return out;
}

}  // namespace vblk::report
