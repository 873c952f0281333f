// MemberBackend: which member holds each chunk position of a word. The
// layout gives the member a position starts on; a rebuild moves it to a
// spare (stands_for), and a rebuild in progress splits it by row.
#include "store/member_backend.h"

namespace vblk::store {

using format::kNoMember;
using format::MemberState;

void MemberBackend::remap() {
  const uint32_t n = static_cast<uint32_t>(table_.members.size());
  // The spare standing for each member (at most one: a spare whose rebuild
  // fails stands for no one any more).
  std::vector<uint32_t> stand_in(n, kNoMember);
  for (uint32_t s = 0; s < n; ++s)
    if (table_.members[s].stands_for < n) stand_in[table_.members[s].stands_for] = s;
  places_.assign(n, Place{});
  for (uint32_t b = 0; b < n; ++b) {
    if (layout().member(b).role == ec::Role::kSpare) continue;
    uint32_t h = b;
    // A replaced member's place is its spare's (which may itself have been
    // replaced since); bounded by n against a table that loops.
    for (uint32_t hops = 0; hops < n && table_.members[h].state == MemberState::kReplaced && stand_in[h] != kNoMember;
         ++hops)
      h = stand_in[h];
    Place& p = places_[b];
    p.holder = h;
    if (table_.members[h].state == MemberState::kRebuilding)
      p.target = h;  // in place
    else if (stand_in[h] != kNoMember && table_.members[stand_in[h]].state == MemberState::kRebuilding)
      p.target = stand_in[h];
  }
}

uint32_t MemberBackend::member_of(uint64_t stripe, uint32_t chunk) const {
  const uint32_t word = word_of(stripe);
  const Place& p = places_[layout().member_of(word, chunk)];
  if (p.target == kNoMember) return p.holder;
  // Rows the sweep has passed are on the target; the others are not
  // anywhere yet (rebuilt from the rest of the stripe on read).
  if (stripe / layout().words() < table_.members[p.target].rebuilt_rows) return p.target;
  return p.target == p.holder ? kNoMember : p.holder;
}

uint32_t MemberBackend::position_of(uint32_t m) const {
  const uint32_t n = static_cast<uint32_t>(table_.members.size());
  for (uint32_t hops = 0; hops < n && m < n; ++hops) {
    if (layout().member(m).role != ec::Role::kSpare) return m;
    m = table_.members[m].stands_for;
  }
  return kNoMember;
}

std::vector<uint32_t> MemberBackend::tail_members(uint32_t word, uint32_t chunk) const {
  // A parity position's tail slots go to its holder and to the member being
  // rebuilt for it: when the target takes the place its slots are current.
  const Place& p = places_[layout().member_of(word, chunk)];
  if (p.target == kNoMember || p.target == p.holder) return {p.holder};
  return {p.holder, p.target};
}

uint64_t MemberBackend::rows_in_use(uint32_t word) const {
  const uint64_t stripes = end_segments_ * rows_per_seg_;
  const uint32_t words = layout().words();
  return stripes > word ? (stripes - word + words - 1) / words : 0;
}

}  // namespace vblk::store
