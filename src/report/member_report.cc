// The member table and the verdict as text and JSON (member_report.h).
#include "report/member_report.h"

#include <nlohmann/json.hpp>
#include <spdlog/fmt/fmt.h>

#include <algorithm>

#include "report/hex_dump.h"

namespace vblk::report {
namespace {

using State = MemberStatus::State;

std::string plural(uint64_t n, const char* one, const char* many) { return fmt::format("{} {}", n, n == 1 ? one : many); }

std::string word_name(const ec::Layout& l, uint32_t w) {
  return l.ha() ? fmt::format("word {} (over {} boxes)", w, l.boxes()) : fmt::format("word {} (box {})", w, w);
}

std::string group_line(const GroupVerdict& g) {
  switch (g.health) {
    case ec::GroupHealth::kIntact:
      return "intact";
    case ec::GroupHealth::kLocal:
      return "1 missing, rebuilt from its local parity";
    case ec::GroupHealth::kGlobal:
      return fmt::format("{} missing, rebuilt with global parity", g.missing);
    case ec::GroupHealth::kLost:
      break;
  }
  return fmt::format("{} missing, LOST", g.missing);
}

// ", each group 2 more" or ", groups can take 2, 1, 2 more" (intact words).
std::string groups_summary(const WordVerdict& w) {
  if (w.groups.empty() || !w.more) return "";
  std::vector<std::string> each;
  for (const GroupVerdict& g : w.groups) each.push_back(tolerance_text(g.more, "", ""));
  if (std::all_of(each.begin(), each.end(), [&](const std::string& s) { return s == each[0]; }))
    return ", each group " + each[0];
  return ", groups can take " + fmt::format("{}", fmt::join(each, ", "));
}

std::string spares_text(const ec::Layout& l, const WordVerdict& w) {
  return l.spares() ? fmt::format("; spares ready {} of {}", w.spares_ready, l.spares()) : "";
}

// An intact word after its name: "intact, can take 2 more failures, each group 2 more".
std::string intact_text(const ec::Layout& l, const WordVerdict& w) {
  return fmt::format("intact, can take {}{}{}\n", tolerance_text(w.more, "failure", "failures"), groups_summary(w),
                     spares_text(l, w));
}

std::string degraded_text(const ec::Layout& l, const WordVerdict& w) {
  const std::string more = w.recoverable ? "can take " + tolerance_text(w.more, "failure", "failures") : "LOST";
  std::string out = fmt::format("{}: degraded, {} of {} chunks missing, {}{}\n", word_name(l, w.word), w.missing,
                                l.stripe_width(), more, spares_text(l, w));
  for (const GroupVerdict& g : w.groups) {
    out += fmt::format("  group {}: {}", g.group, group_line(g));
    out += g.more ? "; can take " + tolerance_text(g.more, "", "") + "\n" : "\n";
  }
  if (l.global_parity()) out += fmt::format("  global parity: {} of {} missing\n", w.missing_global, l.global_parity());
  return out;
}

// Every word; a run of intact words alike (a layout without --ha, a word
// per box) as one line: "words 1-10 (boxes 1-10): intact, ...".
std::string words_text(const ec::Layout& l, const std::vector<WordVerdict>& words) {
  std::string out;
  for (size_t i = 0; i < words.size();) {
    const WordVerdict& w = words[i];
    if (w.degraded()) {
      out += degraded_text(l, w);
      ++i;
      continue;
    }
    const std::string body = intact_text(l, w);
    size_t j = i + 1;
    while (j < words.size() && !words[j].degraded() && intact_text(l, words[j]) == body) ++j;
    const uint32_t last = words[j - 1].word;
    out += j - i == 1 ? word_name(l, w.word) + ": " + body
                      : fmt::format("words {0}-{1} (boxes {0}-{1}): {2}", w.word, last, body);
    i = j;
  }
  return out;
}

std::string boxes_text(const ec::Layout& l, const Verdict& v) {
  if (v.boxes_down.empty()) return "boxes down: none\n";
  std::string out;
  for (uint32_t b : v.boxes_down) {
    out += fmt::format("box {} down: all {} of its members failed; ", b, l.box_members(b).size());
    if (!l.ha()) {
      out += fmt::format("word {}'s stripes are lost (without --ha a box holds whole stripes)\n", b);
    } else if (v.recoverable) {
      out += "a box failure, which --ha tolerates: every stripe is still recoverable\n";
    } else {
      out += "a box failure with --ha, and more failed: stripes are lost\n";
    }
  }
  return out;
}

std::string lost_list(const Verdict& v) {
  std::vector<std::string> lost;
  for (const WordVerdict& w : v.words) {
    for (const GroupVerdict& g : w.groups)
      if (g.health == ec::GroupHealth::kLost) lost.push_back(fmt::format("word {} group {}", w.word, g.group));
    if (!w.recoverable && std::none_of(w.groups.begin(), w.groups.end(), [](const GroupVerdict& g) {
          return g.health == ec::GroupHealth::kLost;
        }))
      lost.push_back(fmt::format("word {}", w.word));
  }
  return fmt::format("{}", fmt::join(lost, ", "));
}

Json more_json(const std::optional<Tolerance>& t) { return t ? Json(t->more) : Json(nullptr); }
bool exact(const std::optional<Tolerance>& t) { return t && !t->at_least; }

Json word_json(const ec::Layout& l, const WordVerdict& w) {
  Json j;
  j["word"] = w.word;
  j["box"] = l.ha() ? Json(nullptr) : Json(w.word);
  j["recoverable"] = w.recoverable;
  j["missing"] = w.missing;
  j["missing_global"] = w.missing_global;
  j["spares_ready"] = w.spares_ready;
  j["more_failures"] = more_json(w.more);
  j["more_failures_exact"] = exact(w.more);
  Json degraded = Json::array(), groups = Json::array();
  for (const GroupVerdict& g : w.groups) {
    if (g.health != ec::GroupHealth::kIntact) degraded.push_back(g.group);
    groups.push_back({{"group", g.group},
                      {"health", ec::to_string(g.health)},
                      {"missing", g.missing},
                      {"more_failures", more_json(g.more)},
                      {"more_failures_exact", exact(g.more)}});
  }
  j["degraded_groups"] = std::move(degraded);
  j["groups"] = std::move(groups);
  return j;
}

Json member_json(const MemberStatus& m, uint32_t word) {
  Json j;
  j["index"] = m.index;
  j["box"] = m.box;
  j["word"] = word;
  j["role"] = ec::to_string(m.role);
  j["group"] = m.group == ec::kNoGroup ? Json(nullptr) : Json(m.group);
  j["state"] = to_string(m.state);
  j["table_state"] = m.table_state.empty() ? Json(nullptr) : Json(m.table_state);
  j["stands_for"] = m.stands_for ? Json(*m.stands_for) : Json(nullptr);
  j["bytes"] = m.bytes;
  j["errors"] = m.errors;
  j["first_bytes"] = hex_string(m.first_bytes);
  j["rebuild_fraction"] = m.state == State::kRebuilding ? json_number(m.rebuild_fraction) : Json(nullptr);
  return j;
}

}  // namespace

Result<MemberReport> build_member_report(const ec::Layout& layout, std::span<const MemberStatus> members,
                                         const JudgeOptions& options) {
  auto verdict = judge_members(layout, members, options);
  VBLK_RETURN_IF_ERROR(verdict.status());
  std::vector<MemberStatus> by_index(members.begin(), members.end());
  std::sort(by_index.begin(), by_index.end(), [](const auto& a, const auto& b) { return a.index < b.index; });
  return MemberReport{layout, std::move(by_index), std::move(*verdict)};
}

std::string first_bytes_text(const MemberStatus& m) { return fmt::format("{:02x}", fmt::join(m.first_bytes, " ")); }

std::string state_text(const MemberStatus& m) {
  if (!m.table_state.empty()) return fmt::format("{} ({})", to_string(m.state), m.table_state);
  if (m.stands_for && m.state == State::kOnline) return fmt::format("online (for {})", *m.stands_for);
  if (m.state != State::kRebuilding) return to_string(m.state);
  return fmt::format("rebuilding {:.0f}%", std::clamp(m.rebuild_fraction, 0.0, 1.0) * 100);
}

std::string tolerance_text(const std::optional<Tolerance>& t, const char* one, const char* many) {
  if (!t) return "nothing";
  const std::string count = t->at_least ? fmt::format("at least {}", t->more) : t->more == 0 ? "no" : std::to_string(t->more);
  const std::string unit = t->more == 1 ? one : many;
  return count + " more" + (unit.empty() ? "" : " " + unit);
}

std::string members_text(const MemberReport& r) {
  const ec::Layout& l = r.layout;
  std::string out = "layout: " + l.describe() + "\n";
  out += fmt::format("{:>5}  {:>3}  {:>4}  {:<13}  {:>5}  {:<15}  {:>12}  {:>6}  {}\n", "index", "box", "word", "role",
                     "group", "state", "bytes", "errors", "first bytes");
  for (const MemberStatus& m : r.members) {
    out += fmt::format("{:>5}  {:>3}  {:>4}  {:<13}  {:>5}  {:<15}  {:>12}  {:>6}  {}\n", m.index, m.box,
                       l.member(m.index).word, ec::to_string(m.role),
                       m.group == ec::kNoGroup ? "-" : std::to_string(m.group), state_text(m), m.bytes, m.errors,
                       first_bytes_text(m));
  }
  return out + verdict_text(r);
}

std::string verdict_headline(const Verdict& v) {
  std::string out = v.recoverable ? "verdict: recoverable" : "verdict: DATA LOSS: " + lost_list(v) + " lost";
  return out + fmt::format("; {} failed, {} rebuilding", plural(v.failed_members, "member", "members"),
                           v.rebuilding_members);
}

std::string tolerance_line(const Verdict& v) {
  if (!v.recoverable) return "the member set has lost data: nothing more to lose";
  return fmt::format("the member set can take {} (in its weakest word) and {}",
                     tolerance_text(v.more, "failure", "failures"), tolerance_text(v.more_boxes, "box", "boxes"));
}

std::string verdict_text(const MemberReport& r) {
  const Verdict& v = r.verdict;
  std::string out = verdict_headline(v) + "\n";
  out += words_text(r.layout, v.words);
  return out + boxes_text(r.layout, v) + tolerance_line(v) + "\n";
}

Json members_json(const MemberReport& r) {
  const ec::Layout& l = r.layout;
  const Verdict& v = r.verdict;
  Json layout;
  layout["data_members"] = l.data_members();
  layout["group_size"] = l.group_size();
  layout["global_parity"] = l.global_parity();
  layout["spares"] = l.spares();
  layout["boxes"] = l.boxes();
  layout["ha"] = l.ha();
  layout["members"] = l.member_count();
  layout["words"] = l.words();
  layout["describe"] = l.describe();
  Json members = Json::array(), words = Json::array();
  for (const MemberStatus& m : r.members) members.push_back(member_json(m, l.member(m.index).word));
  for (const WordVerdict& w : v.words) words.push_back(word_json(l, w));
  Json verdict;
  verdict["recoverable"] = v.recoverable;
  verdict["failed_members"] = v.failed_members;
  verdict["rebuilding_members"] = v.rebuilding_members;
  verdict["more_failures"] = more_json(v.more);
  verdict["more_failures_exact"] = exact(v.more);
  verdict["boxes_down"] = v.boxes_down;
  verdict["box_failure"] = v.boxes_down.empty() ? "none" : v.ha && v.recoverable ? "tolerated" : "data lost";
  verdict["more_boxes"] = more_json(v.more_boxes);
  verdict["more_boxes_exact"] = exact(v.more_boxes);
  verdict["words"] = std::move(words);
  Json j;
  j["layout"] = std::move(layout);
  j["members"] = std::move(members);
  j["verdict"] = std::move(verdict);
  return j;
}

}  // namespace vblk::report
