// MemberBackend: member states (failing, restoring; persisted in the member
// table) and finding the tail slots in force at open.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>

#include "store/member_backend.h"

namespace vblk::store {

using format::MemberState;

std::vector<uint32_t> MemberBackend::failed_members() const {
  // By chunk position (the layout member of each): a position counts as
  // failed until a member that is ok holds all of it. A rebuilding one
  // holds only the rows its sweep has passed.
  std::vector<uint32_t> out;
  for (uint32_t b = 0; b < places_.size(); ++b) {
    const uint32_t h = places_[b].holder;
    if (h != format::kNoMember && table_.members[h].state != MemberState::kOk) out.push_back(b);
  }
  return out;
}

format::MemberTable MemberBackend::member_table() const {
  MutexLock lock(mu_);
  return table_;
}

std::vector<MemberState> MemberBackend::member_states() const {
  MutexLock lock(mu_);
  std::vector<MemberState> out;
  for (const auto& m : table_.members) out.push_back(m.state);
  return out;
}

Status MemberBackend::persist_table() {
  remap();
  if (read_only_) return Status::ok();
  // A rebuild's progress in the table is only as good as its target's
  // file: rows [0, rebuilt_rows) must be durable there first.
  for (uint32_t m = 0; m < files_.size(); ++m)
    if (table_.members[m].state == MemberState::kRebuilding && files_[m]) VBLK_RETURN_IF_ERROR(files_[m]->sync());
  // The copy not in force, with the next generation: a torn write leaves
  // the one in force.
  table_.generation++;
  auto bytes = format::encode_member_table(table_);
  if (!bytes) return bytes.status();
  const int slot = 1 - table_slot_;
  VBLK_RETURN_IF_ERROR(image_->write_at(format::kMemberTableOffset[slot], *bytes));
  VBLK_RETURN_IF_ERROR(image_->sync());
  table_slot_ = slot;
  return Status::ok();
}

void MemberBackend::mark_failed(uint32_t m, const std::string& cause) {
  format::MemberEntry& e = table_.members[m];
  if (e.state != MemberState::kOk && e.state != MemberState::kRebuilding) return;
  if (e.state == MemberState::kRebuilding) {
    // Its rebuild ends here: the position stays with the member it was for.
    spdlog::error("{}: member {} failed while being rebuilt onto; the rebuild stops", name(), m);
    // A spare rebuilt onto stands for no one any more (it never took the
    // place); a member rebuilt in place keeps what it stands for.
    if (e.stands_for != format::kNoMember && table_.members[e.stands_for].state != MemberState::kReplaced)
      e.stands_for = format::kNoMember;
    e.rebuilt_rows = 0;
  }
  e.state = MemberState::kFailed;
  spdlog::error("{}: member {} ({}) failed: {}; its chunks are rebuilt from the other members", name(), m,
                table_.members[m].name, cause);
  if (Status s = persist_table(); !s)
    spdlog::error("{}: could not record that member {} failed: {}", name(), m, s.to_string());
}

void MemberBackend::mark_skipped(uint32_t m) {
  // A row written without the member: its file no longer matches the rest.
  if (m >= table_.members.size() || table_.members[m].state != MemberState::kFailed) return;
  table_.members[m].state = MemberState::kStale;
  if (Status s = persist_table(); !s)
    spdlog::error("{}: could not record that member {} is out of date: {}", name(), m, s.to_string());
}

Status MemberBackend::fail_member(uint32_t m) {
  MutexLock lock(mu_);
  if (m >= table_.members.size())
    return Status::invalid_argument(name() + ": no member " + std::to_string(m) + " (the image has " +
                                    std::to_string(table_.members.size()) + ")");
  mark_failed(m, "failed by request");
  return Status::ok();
}

Status MemberBackend::restore_member(uint32_t m) {
  MutexLock lock(mu_);
  if (m >= table_.members.size())
    return Status::invalid_argument(name() + ": no member " + std::to_string(m) + " (the image has " +
                                    std::to_string(table_.members.size()) + ")");
  format::MemberEntry& e = table_.members[m];
  const std::string which = name() + ": member " + std::to_string(m) + " (" + e.name + ")";
  if (e.state == MemberState::kOk || e.state == MemberState::kRebuilding) return Status::ok();
  if (e.state == MemberState::kReplaced)
    return Status::invalid_argument(which + " was replaced by the spare rebuilt for it: it is out of the set");
  for (const format::MemberEntry& other : table_.members)
    if (other.stands_for == m && other.state == MemberState::kRebuilding)
      return Status::invalid_argument(which + " is being rebuilt onto a spare");
  if (!files_[m]) return Status::invalid_argument(which + " could not be opened: reopen the image once it is back");
  if (e.state == MemberState::kStale) {
    // Its file missed writes: it comes back by a rebuild in place, its rows
    // taken from the others until the sweep has passed them.
    e.state = MemberState::kRebuilding;
    e.rebuilt_rows = 0;
    spdlog::info("{}: it missed writes while it was failed; it is rebuilt in place", which);
    return persist_table();
  }
  e.state = MemberState::kOk;
  return persist_table();
}

Status MemberBackend::fail_box(uint32_t box) {
  if (box >= layout().boxes())
    return Status::invalid_argument(name() + ": no box " + std::to_string(box) + " (the image has " +
                                    std::to_string(layout().boxes()) + ")");
  for (uint32_t m : layout().box_members(box)) VBLK_RETURN_IF_ERROR(fail_member(m));
  return Status::ok();
}

Status MemberBackend::restore_box(uint32_t box) {
  if (box >= layout().boxes())
    return Status::invalid_argument(name() + ": no box " + std::to_string(box) + " (the image has " +
                                    std::to_string(layout().boxes()) + ")");
  for (uint32_t m : layout().box_members(box)) VBLK_RETURN_IF_ERROR(restore_member(m));
  return Status::ok();
}

Status MemberBackend::load_tail() {
  // Every sync that wrote tail slots gave all live parity members slot
  // seq % 2 with the same seq. The one in force is the highest seq every
  // parity member with a valid slot has: a member without it was cut
  // before that sync returned, so what that sync would have acknowledged
  // was not. Members with no valid slot at all lend no parity to the tail
  // row. Writes go on past the highest seq seen, never over the slot in force.
  const ec::Layout& l = layout();
  const uint32_t parity = l.groups() + l.global_parity();
  struct Found {
    format::TailSlot slot;
    AlignedBytes parity;
  };
  std::map<uint32_t, std::vector<Found>> by_member;
  uint64_t highest = 0;
  for (uint32_t m = 0; m < files_.size(); ++m) {
    // Parity positions' members that are ok: a rebuilding one has tail
    // slots only from the syncs since its rebuild began (finish_rebuild
    // writes it both before it takes its place).
    const uint32_t position = position_of(m);
    if (table_.members[m].state != MemberState::kOk || position == format::kNoMember ||
        l.member(position).role == ec::Role::kData)
      continue;
    for (int s = 0; s < 2; ++s) {
      AlignedBytes buf(format::kTailHeaderSize + chunk_);
      auto n = files_[m]->read_at(format::tail_slot_offset(chunk_, s), buf.span());
      if (!n) {
        mark_failed(m, n.status().message());
        break;
      }
      if (*n < buf.size()) continue;
      auto t = format::decode_tail_slot(buf.span());
      if (!t || t->seq % 2 != static_cast<uint64_t>(s) || t->fill > row_bytes()) continue;
      AlignedBytes p(chunk_);
      std::memcpy(p.data(), buf.data() + format::kTailHeaderSize, chunk_);
      if (format::hash64(p.data(), chunk_) != t->parity_hash) continue;
      highest = std::max(highest, t->seq);
      by_member[m].push_back(Found{*t, std::move(p)});
    }
  }
  tail_seq_ = highest;
  std::optional<uint64_t> in_force;
  for (uint64_t seq = highest; seq > 0 && seq + 2 > highest && !in_force; --seq) {
    bool everywhere = true;
    for (auto& [m, found] : by_member)
      everywhere &= std::any_of(found.begin(), found.end(), [&](const Found& f) { return f.slot.seq == seq; });
    if (everywhere) in_force = seq;
  }
  if (!in_force) return Status::ok();
  // The next write must not land on the slot in force.
  if ((tail_seq_ + 1) % 2 == *in_force % 2) tail_seq_++;
  tail_.parity.clear();
  tail_.parity.resize(parity);
  for (auto& [m, found] : by_member) {
    for (Found& f : found) {
      if (f.slot.seq != *in_force || f.slot.segment == format::kNoSegment) continue;
      tail_.valid = true;
      tail_.seg = f.slot.segment;
      tail_.row = f.slot.row;
      tail_.fill = f.slot.fill;
      tail_.parity[l.member(position_of(m)).chunk - l.data_members()] = std::move(f.parity);
    }
  }
  return Status::ok();
}

}  // namespace vblk::store
