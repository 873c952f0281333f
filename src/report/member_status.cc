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

void set_table_state(MemberStatus& s, format::MemberState state, uint32_t stands_for) {
  const std::string name = format::to_string(state);
  s.table_state.clear();
  s.stands_for.reset();
  // Only a spare takes another member's place; a member rebuilt in place
  // stands for itself.
  if (s.role == ec::Role::kSpare && stands_for != format::kNoMember &&
      (state == format::MemberState::kOk || state == format::MemberState::kRebuilding))
    s.stands_for = stands_for;
  if (state == format::MemberState::kOk) {
    const bool free_spare = s.role == ec::Role::kSpare && !s.stands_for;
    s.state = free_spare ? MemberStatus::State::kSpare : MemberStatus::State::kOnline;
  } else if (name == "rebuilding") {
    s.state = MemberStatus::State::kRebuilding;
  } else {
    s.state = MemberStatus::State::kFailed;
    if (name != "failed") s.table_state = name == "unknown" ? "state " + std::to_string(int(state)) : name;
  }
}

}  // namespace vblk::report
