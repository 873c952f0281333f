// MemberBackend: rebuilding failed members onto spares, or stale ones in
// place (member_backend.h; vblk(5), MEMBER SETS, Rebuild).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <set>

#include "store/member_backend.h"

namespace vblk::store {

using format::kNoMember;
using format::MemberState;

namespace {

// Clears the running flag however rebuild() returns.
struct Running {
  std::atomic<bool>& flag;
  ~Running() { flag = false; }
};

bool all_zero(std::span<const uint8_t> b) {
  return std::all_of(b.begin(), b.end(), [](uint8_t x) { return x == 0; });
}

}  // namespace

bool MemberBackend::rebuild_due() const {
  MutexLock lock(mu_);
  if (read_only_) return false;
  for (uint32_t b = 0; b < places_.size(); ++b) {
    const Place& p = places_[b];
    if (p.holder == kNoMember) continue;  // a spare's entry
    if (p.target != kNoMember) return true;
    const MemberState st = table_.members[p.holder].state;
    if (st != MemberState::kFailed && st != MemberState::kStale) continue;
    const uint32_t word = layout().member(b).word;
    for (uint32_t s = 0; s < table_.members.size(); ++s) {
      const format::MemberEntry& e = table_.members[s];
      if (layout().member(s).role == ec::Role::kSpare && layout().member(s).word == word &&
          e.state == MemberState::kOk && e.stands_for == kNoMember && files_[s])
        return true;
    }
  }
  return false;
}

Result<std::vector<uint32_t>> MemberBackend::start_rebuilds(RebuildOutcome& outcome) {
  const ec::Layout& l = layout();
  auto refuse = [&](RebuildRefusal why, std::string line) {
    if (outcome.refusal == RebuildRefusal::kNone) outcome.refusal = why;
    outcome.refused.push_back(std::move(line));
  };
  std::vector<uint32_t> targets;
  bool changed = false;
  for (uint32_t b = 0; b < places_.size(); ++b) {
    const Place& p = places_[b];
    if (p.holder == kNoMember) continue;
    if (p.target != kNoMember) {
      targets.push_back(p.target);  // resumed from rebuilt_rows
      continue;
    }
    const uint32_t h = p.holder;
    const MemberState st = table_.members[h].state;
    if (st != MemberState::kFailed && st != MemberState::kStale) continue;
    const ec::Member pos = l.member(b);
    const std::string which = "member " + std::to_string(h) + " (" + table_.members[h].name + ")";
    // Its chunk must be rebuildable from the positions held in full.
    ec::ChunkSet available;
    for (uint32_t c = 0; c < l.stripe_width(); ++c) {
      const uint32_t hc = places_[l.member_of(pos.word, c)].holder;
      available[c] = c != pos.chunk && table_.members[hc].state == MemberState::kOk;
    }
    const uint32_t wanted[1] = {pos.chunk};
    if (!codec_.plan(available, wanted)) {
      // One line per lost group, not per member of it.
      std::string line = lost(pos.word, "cannot rebuild").message();
      if (std::find(outcome.refused.begin(), outcome.refused.end(), line) == outcome.refused.end())
        refuse(RebuildRefusal::kLost, std::move(line));
      continue;
    }
    uint32_t spare = kNoMember;
    for (uint32_t s = 0; s < table_.members.size() && spare == kNoMember; ++s) {
      const format::MemberEntry& e = table_.members[s];
      if (l.member(s).role == ec::Role::kSpare && l.member(s).word == pos.word && e.state == MemberState::kOk &&
          e.stands_for == kNoMember && files_[s])
        spare = s;
    }
    if (spare == kNoMember) {
      refuse(RebuildRefusal::kNoFreeSpare,
             name() + ": " + which + ": no free spare" +
                 (l.words() > 1 ? " in word " + std::to_string(pos.word) : std::string()) +
                 " (restore its file and 'vblk-inject IMAGE member " + std::to_string(h) +
                 " restore' to rebuild it in place)");
      continue;
    }
    format::MemberEntry& e = table_.members[spare];
    e.state = MemberState::kRebuilding;
    e.stands_for = h;
    e.rebuilt_rows = 0;
    changed = true;
    targets.push_back(spare);
    spdlog::info("{}: rebuilding {} onto spare {} ({})", name(), which, spare, e.name);
  }
  if (changed) {
    // The next sync writes the tail slots to the spares too.
    tail_due_ = true;
    VBLK_RETURN_IF_ERROR(persist_table());
  }
  if (targets.empty() && outcome.refused.empty()) {
    outcome.refusal = RebuildRefusal::kNothingToRebuild;
    outcome.refused.push_back(name() + ": nothing to rebuild: every member is ok");
  }
  return targets;
}

Result<MemberBackend::RebuildOutcome> MemberBackend::rebuild(
    const std::function<bool(const RebuildProgress&)>& progress) {
  if (read_only_) return Status::read_only(name() + ": opened read-only: nothing can be rebuilt");
  if (rebuild_running_.exchange(true)) return Status::busy(name() + ": a rebuild is already running");
  Running running{rebuild_running_};
  RebuildOutcome outcome;
  std::vector<uint32_t> targets;
  {
    MutexLock lock(mu_);
    auto started = start_rebuilds(outcome);
    if (!started) return started.status();
    targets = std::move(*started);
  }
  for (uint32_t target : targets) {
    RebuildReport r;
    r.onto = target;
    uint64_t persisted = 0;
    {
      MutexLock lock(mu_);
      const uint32_t base = position_of(target);
      r.in_place = places_[base].holder == target;
      r.member = r.in_place ? target : table_.members[target].stands_for;
      r.word = layout().member(base).word;
      r.chunk = layout().member(base).chunk;
      r.resumed_from = persisted = table_.members[target].rebuilt_rows;
    }
    const auto began = std::chrono::steady_clock::now();
    for (;;) {
      auto done = rebuild_step(target, r, persisted);
      if (!done) return done.status();
      if (*done) break;
      if (!progress) continue;
      RebuildProgress p{r.member, target, 0, 0};
      {
        MutexLock lock(mu_);
        p.rows_done = table_.members[target].rebuilt_rows;
        p.rows_total = rows_in_use(r.word);
      }
      if (!progress(p)) {
        // What the sweep has done is kept: the next rebuild resumes there.
        MutexLock lock(mu_);
        VBLK_RETURN_IF_ERROR(persist_table());
        outcome.stopped = true;
        return outcome;
      }
    }
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
    std::string from;
    for (uint32_t m : r.read_from) from += (from.empty() ? "" : ",") + std::to_string(m);
    spdlog::info("{}: member {} rebuilt {}{}: {} rows, read {} bytes from members {}, wrote {} bytes, {:.3f} s", name(),
                 r.member, r.in_place ? "in place" : "onto member ", r.in_place ? "" : std::to_string(r.onto), r.rows,
                 r.bytes_read, from.empty() ? "-" : from, r.bytes_written, r.seconds);
    outcome.rebuilt.push_back(std::move(r));
  }
  return outcome;
}

Result<bool> MemberBackend::rebuild_step(uint32_t target, RebuildReport& report, uint64_t& persisted) {
  MutexLock lock(mu_);
  if (!deferred_) return deferred_;
  // The row the tail slots cover becomes the open row: it is rebuilt from
  // memory like any open row.
  VBLK_RETURN_IF_ERROR(resume_tail_row());
  format::MemberEntry& e = table_.members[target];
  if (e.state != MemberState::kRebuilding)
    return Status::io_error(name() + ": member " + std::to_string(target) + " (" + e.name +
                            ") failed while being rebuilt onto (" + format::to_string(e.state) + ")");
  const uint32_t base = position_of(target);
  const uint32_t word = layout().member(base).word;
  // Where the files of the word's other members end.
  uint64_t word_end = 0;
  for (uint32_t c = 0; c < layout().stripe_width(); ++c) {
    const uint32_t h = places_[layout().member_of(word, c)].holder;
    if (h == target || layout().member_of(word, c) == base || !live(h)) continue;
    if (auto size = files_[h]->size(); size) word_end = std::max(word_end, *size);
  }
  AlignedBytes chunk(chunk_);
  for (uint32_t i = 0, n = step_rows_.load(); i < n; ++i) {
    if (e.rebuilt_rows >= rows_in_use(word)) {
      VBLK_RETURN_IF_ERROR(finish_rebuild(target, report));
      return true;
    }
    VBLK_RETURN_IF_ERROR(rebuild_row(target, base, e.rebuilt_rows, word_end, chunk, report));
    if (!live(target))
      return Status::io_error(name() + ": member " + std::to_string(target) + " (" + e.name +
                              ") failed while being rebuilt onto");
    e.rebuilt_rows++;
    report.rows++;
  }
  if (e.rebuilt_rows >= persisted + persist_rows_.load()) {
    // persist_table syncs the target first: the table never claims rows
    // the target does not durably hold.
    VBLK_RETURN_IF_ERROR(persist_table());
    persisted = e.rebuilt_rows;
  }
  return false;
}

Status MemberBackend::rebuild_row(uint32_t target, uint32_t base, uint64_t row, uint64_t word_end, AlignedBytes& out,
                                  RebuildReport& report) {
  const ec::Layout& l = layout();
  const ec::Member pos = l.member(base);
  const uint64_t stripe = row * l.words() + pos.word;
  const uint64_t seg = stripe / rows_per_seg_;
  const uint32_t seg_row = static_cast<uint32_t>(stripe % rows_per_seg_);
  const uint32_t d_count = l.data_members();
  if (open_.active && open_.seg == seg && open_.row == seg_row) {
    // The open row is in memory, whole: its chunk as complete_row will
    // write it.
    if (pos.chunk < d_count) {
      std::memcpy(out.data(), open_.buf.data() + size_t{pos.chunk} * chunk_, chunk_);
    } else {
      std::vector<AlignedBytes> parity;
      std::vector<std::span<const uint8_t>> data;
      std::vector<std::span<uint8_t>> outs;
      for (uint32_t d = 0; d < d_count; ++d) data.push_back(open_.buf.span().subspan(size_t{d} * chunk_, chunk_));
      for (uint32_t p = d_count; p < l.stripe_width(); ++p) parity.emplace_back(chunk_);
      for (auto& p : parity) outs.push_back(p.span());
      VBLK_RETURN_IF_ERROR(codec_.encode(data, outs));
      std::memcpy(out.data(), parity[pos.chunk - d_count].data(), chunk_);
    }
  } else {
    // What the repair plan needs: the rest of the group when the chunk is
    // the only one missing there, else the global solve. Each pass either
    // rebuilds it or finds one more failed member.
    const std::string where = "segment " + std::to_string(seg) + " row " + std::to_string(seg_row);
    bool rebuilt = false;
    ec::ChunkSet unreadable;  // failed reads (a member failed, or its file cut short here)
    for (uint32_t pass = 0; pass <= l.stripe_width() && !rebuilt; ++pass) {
      ec::ChunkSet available;
      for (uint32_t c = 0; c < l.stripe_width(); ++c)
        available[c] = c != pos.chunk && !unreadable[c] && live(member_of(stripe, c));
      const uint32_t wanted[1] = {pos.chunk};
      auto plan = codec_.plan(available, wanted);
      if (!plan) return lost(pos.word, where);
      std::vector<AlignedBytes> bufs(l.stripe_width());
      std::vector<std::span<const uint8_t>> chunks(l.stripe_width());
      bool failed = false;
      for (uint32_t c : plan->reads()) {
        const uint32_t m = member_of(stripe, c);
        bufs[c] = AlignedBytes(chunk_);
        if (!read_member(m, chunk_offset(stripe), bufs[c].span())) {
          unreadable[c] = true;
          failed = true;
          break;
        }
        if (std::find(report.read_from.begin(), report.read_from.end(), m) == report.read_from.end()) {
          report.read_from.push_back(m);
          std::sort(report.read_from.begin(), report.read_from.end());
        }
        report.bytes_read += chunk_;
        chunks[c] = bufs[c].span();
      }
      if (failed) continue;
      const std::span<uint8_t> outs[1] = {out.span()};
      VBLK_RETURN_IF_ERROR(codec_.reconstruct(*plan, chunks, outs));
      rebuilt = true;
    }
    if (!rebuilt) return lost(pos.word, where);
  }
  // Zeros past the end of every other member of the word are a row never
  // written: left out, so that the target's file ends where theirs do (a
  // file ending before or after the others' reads as cut short, or makes
  // them read so; member_rows.cc).
  if (chunk_offset(stripe) >= word_end && all_zero(out.span())) return Status::ok();
  VBLK_RETURN_IF_ERROR(write_member(target, chunk_offset(stripe), out.span()));
  report.bytes_written += chunk_;
  return Status::ok();
}

Status MemberBackend::finish_rebuild(uint32_t target, RebuildReport& report) {
  // Everything the target holds made durable, and its tail slots written
  // twice with the others' (both slots current: the next open weighs them
  // like any parity member's); then the one table change that gives it
  // the place.
  const uint32_t base = position_of(target);
  if (layout().member(base).role != ec::Role::kData) {
    tail_due_ = true;
    VBLK_RETURN_IF_ERROR(sync_locked());
    tail_due_ = true;
  }
  VBLK_RETURN_IF_ERROR(sync_locked());
  if (!live(target))
    return Status::io_error(name() + ": member " + std::to_string(target) + " failed while being rebuilt onto");
  format::MemberEntry& e = table_.members[target];
  const bool in_place = places_[base].holder == target;
  if (!in_place) table_.members[e.stands_for].state = MemberState::kReplaced;
  e.state = MemberState::kOk;
  e.rebuilt_rows = 0;
  VBLK_RETURN_IF_ERROR(persist_table());
  report.member_state = in_place ? MemberState::kOk : MemberState::kReplaced;
  return Status::ok();
}

}  // namespace vblk::store
