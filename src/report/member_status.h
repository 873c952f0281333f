#pragma once
// MemberStatus: what is known of one member file of an erasure-coded image
// (src/ec/README.md): its place in the layout and its state now. The
// backend that keeps the members fills these in; the reports of
// member_report.h, member_svg.h and member_verdict.h read them.
//
// States:
//   kOnline      the member is there and holds its chunks
//   kFailed      the member is gone (unreadable, removed, or given up on)
//   kRebuilding  the member is being written by a rebuild, rebuild_fraction
//                of the way; its chunks are not all there yet
//   kSpare       a hot spare that holds nothing and is ready for a rebuild
// A chunk counts as there when the member its layout slot names is
// kOnline, or a spare that stands for that member (stands_for, after a
// rebuild onto it) is: a rebuilding member's chunks are missing until it
// is done.
// Thread safety: a value.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ec/layout.h"
#include "format/member_set.h"

namespace vblk::report {

struct MemberStatus {
  // Fixed numbers: a status may be sent between processes.
  enum class State : uint8_t { kOnline = 0, kFailed = 1, kRebuilding = 2, kSpare = 3 };

  uint32_t index = 0;  // from the layout
  ec::Role role = ec::Role::kData;
  uint32_t box = 0;
  uint32_t group = ec::kNoGroup;  // data and local parity only
  State state = State::kOnline;
  uint64_t bytes = 0;                    // the member file's size
  uint64_t errors = 0;                   // read errors and chunks healed
  std::array<uint8_t, 4> first_bytes{};  // the file's first 4 bytes
  double rebuild_fraction = 0;           // kRebuilding: done so far, in [0, 1]
  // The state as the member table names it ("ok", "stale", ...), when it
  // says more than `state` does; empty otherwise.
  std::string table_state;
  // A spare rebuilt onto (kOnline) or being rebuilt onto (kRebuilding):
  // the member whose place it takes.
  std::optional<uint32_t> stands_for;
};

// "online", "failed", "rebuilding", "spare".
const char* to_string(MemberStatus::State state);
inline constexpr std::array<MemberStatus::State, 4> kMemberStates = {
    MemberStatus::State::kOnline, MemberStatus::State::kFailed, MemberStatus::State::kRebuilding,
    MemberStatus::State::kSpare};

// Every member of `layout`, by index, with index, role, box and group set,
// online (spares: kSpare) and the rest zero: the start a backend fills in.
std::vector<MemberStatus> layout_members(const ec::Layout& layout);

// Sets s.state, s.table_state and s.stands_for from a member table entry's
// state and stands_for (format::kNoMember: none): ok is online (a spare's:
// spare, unless it stands for a member), "rebuilding" rebuilding; any
// other state, one this code does not know included, is failed (its chunks
// are not read), with the table's name for it kept in table_state unless
// it is "failed".
void set_table_state(MemberStatus& s, format::MemberState state, uint32_t stands_for = format::kNoMember);

}  // namespace vblk::report
