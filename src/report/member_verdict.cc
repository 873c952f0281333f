// The verdict on a member set: what is missing, per word and group, and
// how many more failures it can take, by trying them with the codec.
#include "report/member_verdict.h"

#include <algorithm>
#include <numeric>
#include <string>
#include <unordered_map>

#include "ec/subsets.h"

namespace vblk::report {
namespace {

using State = MemberStatus::State;

std::string num(uint64_t v) { return std::to_string(v); }
std::string group_text(uint32_t g) { return g == ec::kNoGroup ? "none" : num(g); }

// The largest k such that survives(pick) holds for every pick of k of the
// n candidates, trying k = 1, 2, ... (a pick that fails at k fails beyond).
template <class Survives>
Tolerance search(uint32_t n, uint64_t max_checks, Survives survives) {
  uint64_t checks = 0;
  for (uint32_t k = 1; k <= n; ++k) {
    std::vector<uint32_t> pick(k);
    std::iota(pick.begin(), pick.end(), 0u);
    do {
      if (checks++ == max_checks) return {k - 1, true};
      if (!survives(pick)) return {k - 1, false};
    } while (ec::next_subset(pick, n));
  }
  return {n, false};
}

// Everything about a word that depends only on its missing chunks (so the
// words of a layout without --ha that look alike are judged once).
WordVerdict judge_chunks(const ec::Codec& codec, const ec::ChunkSet& missing, uint64_t max_checks) {
  const ec::Layout& l = codec.layout();
  const ec::Recoverability r = codec.recoverable(missing);
  WordVerdict v;
  v.recoverable = r.ok();
  v.missing = static_cast<uint32_t>(missing.count());
  v.missing_global = r.failed_global;
  // The tolerance to further failures among `candidates`.
  auto more = [&](const std::vector<uint32_t>& candidates) -> std::optional<Tolerance> {
    if (!v.recoverable) return std::nullopt;
    return search(static_cast<uint32_t>(candidates.size()), max_checks, [&](const std::vector<uint32_t>& pick) {
      ec::ChunkSet failed = missing;
      for (uint32_t i : pick) failed.set(candidates[i]);
      return codec.recoverable(failed).ok();
    });
  };
  std::vector<uint32_t> there;
  for (uint32_t c = 0; c < l.stripe_width(); ++c)
    if (!missing[c]) there.push_back(c);
  v.more = more(there);
  for (uint32_t g = 0; g < l.groups(); ++g) {
    GroupVerdict gv;
    gv.group = g;
    gv.health = r.groups[g];
    std::vector<uint32_t> members;
    for (uint32_t c : there)
      if (l.chunk_group(c) == g) members.push_back(c);
    gv.missing = l.group_end(g) - l.group_begin(g) + 1 - static_cast<uint32_t>(members.size());
    gv.more = more(members);
    v.groups.push_back(gv);
  }
  return v;
}

std::optional<Tolerance> weakest(const std::vector<WordVerdict>& words) {
  std::optional<Tolerance> out;
  for (const WordVerdict& w : words) {
    if (!w.more) return std::nullopt;
    if (!out || w.more->more < out->more || (w.more->more == out->more && !w.more->at_least)) out = w.more;
  }
  return out;
}

// Whole boxes, among those still up, the set can lose on top of `missing`.
Tolerance box_tolerance(const ec::Codec& codec, const std::vector<uint32_t>& missing, const std::vector<uint32_t>& up,
                        uint64_t max_checks) {
  const ec::Layout& l = codec.layout();
  return search(static_cast<uint32_t>(up.size()), max_checks, [&](const std::vector<uint32_t>& pick) {
    std::vector<uint32_t> failed = missing;
    for (uint32_t i : pick) {
      const std::vector<uint32_t> box = l.box_members(up[i]);
      failed.insert(failed.end(), box.begin(), box.end());
    }
    for (uint32_t w = 0; w < l.words(); ++w)
      if (!codec.recoverable(l.failed_chunks(w, failed)).ok()) return false;
    return true;
  });
}

}  // namespace

Status check_member_statuses(const ec::Layout& layout, std::span<const MemberStatus> members) {
  const uint32_t count = layout.member_count();
  if (members.size() != count)
    return Status::invalid_argument("members: " + num(members.size()) + " statuses for a layout of " + num(count) +
                                    " members");
  std::vector<bool> seen(count);
  for (const MemberStatus& s : members) {
    const std::string who = "member " + num(s.index) + ": ";
    if (s.index >= count) return Status::invalid_argument(who + "beyond the layout's " + num(count) + " members");
    if (seen[s.index]) return Status::invalid_argument(who + "listed twice");
    seen[s.index] = true;
    const ec::Member m = layout.member(s.index);
    if (s.role != m.role)
      return Status::invalid_argument(who + "role " + ec::to_string(s.role) + ", the layout says " +
                                      ec::to_string(m.role));
    if (s.box != m.box) return Status::invalid_argument(who + "box " + num(s.box) + ", the layout says box " + num(m.box));
    if (s.group != m.group)
      return Status::invalid_argument(who + "group " + group_text(s.group) + ", the layout says group " +
                                      group_text(m.group));
    if (s.stands_for && (s.role != ec::Role::kSpare || *s.stands_for >= count ||
                         layout.member(*s.stands_for).role == ec::Role::kSpare))
      return Status::invalid_argument(who + "stands for member " + num(*s.stands_for) +
                                      ": only a spare stands for a member, and not for a spare");
    if (s.state == State::kRebuilding && !(s.rebuild_fraction >= 0 && s.rebuild_fraction <= 1))
      return Status::invalid_argument(who + "rebuild fraction " + std::to_string(s.rebuild_fraction) +
                                      ", not in [0, 1]");
  }
  return Status::ok();
}

Result<Verdict> judge_members(const ec::Layout& layout, std::span<const MemberStatus> members,
                              const JudgeOptions& options) {
  VBLK_RETURN_IF_ERROR(check_member_statuses(layout, members));
  auto codec = ec::Codec::create(layout, ec::kChunkAlign);  // the chunk size plays no part in recoverable()
  VBLK_RETURN_IF_ERROR(codec.status());
  Verdict v;
  v.ha = layout.ha();
  std::vector<uint32_t> missing;  // members whose chunks are not there
  std::vector<uint32_t> failed_in_box(layout.boxes()), spares_ready(layout.words());
  // Members whose place a spare rebuilt onto holds: their chunks are there.
  std::vector<bool> replaced(layout.member_count());
  for (const MemberStatus& s : members)
    if (s.stands_for && s.state == State::kOnline) replaced[*s.stands_for] = true;
  for (const MemberStatus& s : members) {
    if (replaced[s.index]) continue;
    if (s.state != State::kOnline) missing.push_back(s.index);
    v.failed_members += s.state == State::kFailed;
    v.rebuilding_members += s.state == State::kRebuilding;
    failed_in_box[s.box] += s.state == State::kFailed;
    if (s.role == ec::Role::kSpare && s.state == State::kSpare) ++spares_ready[layout.member(s.index).word];
  }
  std::sort(missing.begin(), missing.end());
  std::unordered_map<ec::ChunkSet, WordVerdict> judged;
  for (uint32_t w = 0; w < layout.words(); ++w) {
    const ec::ChunkSet chunks = layout.failed_chunks(w, missing);
    auto it = judged.find(chunks);
    if (it == judged.end()) it = judged.emplace(chunks, judge_chunks(*codec, chunks, options.max_checks)).first;
    WordVerdict wv = it->second;
    wv.word = w;
    wv.spares_ready = spares_ready[w];
    v.recoverable = v.recoverable && wv.recoverable;
    v.words.push_back(std::move(wv));
  }
  std::vector<uint32_t> up;
  for (uint32_t b = 0; b < layout.boxes(); ++b) {
    const bool down = failed_in_box[b] == layout.box_members(b).size();
    (down ? v.boxes_down : up).push_back(b);
  }
  v.more = weakest(v.words);
  if (v.recoverable) v.more_boxes = box_tolerance(*codec, missing, up, options.max_checks);
  return v;
}

}  // namespace vblk::report
