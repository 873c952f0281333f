#include "store/segment_table.h"

#include <algorithm>
#include <cassert>
#include <utility>

namespace vblk::store {

const char* segment_state_name(SegmentState s) {
  switch (s) {
    case SegmentState::kFree: return "free";
    case SegmentState::kInUse: return "in use";
    case SegmentState::kCleaning: return "cleaning";
    case SegmentState::kEmptied: return "emptied";
    case SegmentState::kReleased: return "released";
    case SegmentState::kPunching: return "punching";
    case SegmentState::kPunched: return "punched";
  }
  return "?";
}

void SegmentTable::reset() { assign(0); }

void SegmentTable::assign(uint64_t count) {
  info_.assign(count, SegmentInfo{});
  state_.assign(count, SegmentState::kInUse);
  for (auto& m : members_) m.clear();
  std::fill(std::begin(counts_), std::end(counts_), 0);
  counts_[static_cast<int>(SegmentState::kInUse)] = count;
  damaged_.clear();
  reuse_pool_.clear();
  live_total_ = 0;
  changed_.clear();
  changed_flag_.assign(count, 0);
}

void SegmentTable::set_counts(uint64_t seg, uint32_t live, uint32_t fill) {
  info_[seg].live = live;
  info_[seg].fill = fill;
}

void SegmentTable::load_released(uint64_t seg) {
  info_[seg].live = 0;
  move_unmarked(seg, SegmentState::kInUse, SegmentState::kReleased);
}

void SegmentTable::finish_load() {
  live_total_ = 0;
  for (uint64_t seg = 0; seg < size(); ++seg) {
    live_total_ += info_[seg].live;
    if (state_[seg] == SegmentState::kInUse && info_[seg].fill == 0)
      move_unmarked(seg, SegmentState::kInUse, SegmentState::kFree);
  }
}

const std::set<uint64_t>& SegmentTable::members(SegmentState s) const {
  assert(s != SegmentState::kInUse);
  return members_[static_cast<int>(s)];
}

bool SegmentTable::reclaiming(uint64_t seg) const {
  switch (state_[seg]) {
    case SegmentState::kEmptied:
    case SegmentState::kReleased:
    case SegmentState::kPunching:
    case SegmentState::kPunched: return true;
    default: return false;
  }
}

uint64_t SegmentTable::reclaiming_count() const {
  return count(SegmentState::kEmptied) + count(SegmentState::kReleased) + count(SegmentState::kPunching) +
         count(SegmentState::kPunched);
}

uint64_t SegmentTable::next_to_open() const {
  const auto& free = members(SegmentState::kFree);
  return free.empty() ? size() : *free.begin();
}

bool SegmentTable::open(uint64_t seg) {
  if (seg == size()) {
    info_.push_back({});
    state_.push_back(SegmentState::kInUse);
    changed_flag_.push_back(0);
    ++counts_[static_cast<int>(SegmentState::kInUse)];
    mark(seg);
  } else if (seg < size() && state_[seg] == SegmentState::kFree) {
    move(seg, SegmentState::kFree, SegmentState::kInUse);
  } else {
    return false;
  }
  reuse_pool_.erase(seg);
  return true;
}

void SegmentTable::begin_cleaning(uint64_t seg) { move(seg, SegmentState::kInUse, SegmentState::kCleaning); }
void SegmentTable::end_cleaning(uint64_t seg) { move(seg, SegmentState::kCleaning, SegmentState::kInUse); }
void SegmentTable::emptied(uint64_t seg) { move(seg, SegmentState::kCleaning, SegmentState::kEmptied); }

std::vector<std::pair<uint64_t, uint32_t>> SegmentTable::checkpoint_written() {
  std::vector<std::pair<uint64_t, uint32_t>> still_live;
  const std::set<uint64_t> punched = members(SegmentState::kPunched);
  for (uint64_t seg : punched) {
    if (info_[seg].live != 0) still_live.emplace_back(seg, info_[seg].live);
    live_total_ -= std::min<uint64_t>(live_total_, info_[seg].live);
    info_[seg] = SegmentInfo{};
    move(seg, SegmentState::kPunched, SegmentState::kFree);
  }
  const std::set<uint64_t> emptied = members(SegmentState::kEmptied);
  for (uint64_t seg : emptied) move(seg, SegmentState::kEmptied, SegmentState::kReleased);
  return still_live;
}

std::vector<uint64_t> SegmentTable::take_released() {
  const std::set<uint64_t> released = members(SegmentState::kReleased);
  for (uint64_t seg : released) move(seg, SegmentState::kReleased, SegmentState::kPunching);
  return {released.begin(), released.end()};
}

void SegmentTable::punched(uint64_t seg) { move(seg, SegmentState::kPunching, SegmentState::kPunched); }

void SegmentTable::keep_unpunched(uint64_t seg) {
  move(seg, SegmentState::kPunching, SegmentState::kPunched);
  reuse_pool_.insert(seg);
}

void SegmentTable::leave_reuse_pool(uint64_t seg) { reuse_pool_.erase(seg); }

void SegmentTable::add_live(uint64_t seg, uint32_t bytes) {
  if (seg >= size()) return;
  info_[seg].live += bytes;
  live_total_ += bytes;
  mark(seg);
}

void SegmentTable::remove_live(uint64_t seg, uint32_t bytes) {
  if (seg >= size()) return;
  const uint32_t n = std::min(info_[seg].live, bytes);
  info_[seg].live -= n;
  live_total_ -= std::min<uint64_t>(live_total_, n);
  mark(seg);
}

std::vector<uint64_t> SegmentTable::take_changes() {
  std::vector<uint64_t> taken = std::exchange(changed_, {});
  for (uint64_t seg : taken) changed_flag_[seg] = 0;
  std::sort(taken.begin(), taken.end());
  return taken;
}

void SegmentTable::restore_changes(const std::vector<uint64_t>& taken) {
  for (uint64_t seg : taken)
    if (seg < size()) mark(seg);
}

void SegmentTable::add_provisional(uint64_t seg, uint32_t bytes) {
  if (seg < size()) info_[seg].provisional += bytes;
}

void SegmentTable::move(uint64_t seg, SegmentState from, SegmentState to) {
  move_unmarked(seg, from, to);
  mark(seg);
}

void SegmentTable::move_unmarked(uint64_t seg, SegmentState from, SegmentState to) {
  // A wrong `from` is a bug in the caller; the table stays consistent
  // with itself regardless.
  assert(state_[seg] == from);
  (void)from;
  const SegmentState now = state_[seg];
  if (now != SegmentState::kInUse) listed(now).erase(seg);
  if (to != SegmentState::kInUse) listed(to).insert(seg);
  --counts_[static_cast<int>(now)];
  ++counts_[static_cast<int>(to)];
  state_[seg] = to;
}

}  // namespace vblk::store
