// A served member set's rebuilds on a daemon thread. See rebuilder.h.
#include "live/rebuilder.h"

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

namespace vblk::live {

using store::MemberBackend;

std::string refusal_name(MemberBackend::RebuildRefusal r) {
  switch (r) {
    case MemberBackend::RebuildRefusal::kNone: return "";
    case MemberBackend::RebuildRefusal::kNothingToRebuild: return "nothing_to_rebuild";
    case MemberBackend::RebuildRefusal::kNoFreeSpare: return "no_free_spare";
    case MemberBackend::RebuildRefusal::kLost: return "lost";
  }
  return "";
}

std::string rebuild_outcome_text(const MemberBackend::RebuildOutcome& o) {
  std::string text;
  for (const MemberBackend::RebuildReport& r : o.rebuilt) {
    std::string from;
    for (uint32_t m : r.read_from) from += (from.empty() ? "" : ",") + std::to_string(m);
    text += fmt::format("member {} rebuilt {}: {} rows{}, read {} bytes from members {}, wrote {} bytes, {:.3f} s; "
                        "member {} is {}\n",
                        r.member, r.in_place ? "in place" : "onto spare " + std::to_string(r.onto), r.rows,
                        r.resumed_from ? fmt::format(" (resumed at row {})", r.resumed_from) : std::string(),
                        r.bytes_read, from.empty() ? "-" : from, r.bytes_written, r.seconds, r.member,
                        format::to_string(r.member_state));
  }
  if (o.stopped) text += "stopped: the next rebuild resumes where this one got to\n";
  for (const std::string& line : o.refused) text += line + "\n";
  if (!text.empty()) text.pop_back();
  return text;
}

Json rebuild_outcome_json(const MemberBackend::RebuildOutcome& o) {
  Json rebuilt = Json::array();
  for (const MemberBackend::RebuildReport& r : o.rebuilt) {
    Json j;
    j["member"] = r.member;
    j["onto"] = r.onto;
    j["in_place"] = r.in_place;
    j["word"] = r.word;
    j["chunk"] = r.chunk;
    j["resumed_from_row"] = r.resumed_from;
    j["rows"] = r.rows;
    j["read_from"] = r.read_from;
    j["bytes_read"] = r.bytes_read;
    j["bytes_written"] = r.bytes_written;
    j["seconds"] = json_number(r.seconds);
    j["member_state"] = format::to_string(r.member_state);
    rebuilt.push_back(std::move(j));
  }
  Json j;
  j["rebuilt"] = std::move(rebuilt);
  j["refused"] = o.refused;
  const std::string refusal = refusal_name(o.refusal);
  j["refusal"] = refusal.empty() ? Json(nullptr) : Json(refusal);
  j["stopped"] = o.stopped;
  j["message"] = rebuild_outcome_text(o);
  return j;
}

Rebuilder::Rebuilder(MemberBackend& backend, std::string name, bool auto_rebuild)
    : backend_(backend), name_(std::move(name)), auto_(auto_rebuild), thread_([this] { run(); }) {}

Rebuilder::~Rebuilder() { stop(); }

std::pair<uint64_t, bool> Rebuilder::start(uint64_t max_rate) {
  MutexLock lock(mu_);
  if (running_ || requested_) return {runs_ + (running_ ? 0 : 1), false};
  requested_ = true;
  requested_rate_ = max_rate;
  wake_.notify_all();
  return {runs_ + 1, true};
}

Json Rebuilder::status() const {
  MutexLock lock(mu_);
  Json j;
  j["running"] = running_ || requested_;
  j["id"] = runs_ + (requested_ && !running_ ? 1 : 0);
  j["auto_rebuild"] = auto_;
  j["progress"] = running_ ? progress_ : Json(nullptr);
  j["last"] = last_.is_null() ? Json(nullptr) : last_;
  return j;
}

void Rebuilder::stop() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
    wake_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

void Rebuilder::run() {
  for (;;) {
    uint64_t id = 0;
    uint64_t rate = 0;
    {
      MutexLock lock(mu_);
      // Auto-rebuild looks once a second; a request wakes it at once.
      wake_.wait_for(mu_, std::chrono::seconds(1), [this]() REQUIRES(mu_) { return stopping_ || requested_; });
      if (stopping_) return;
      if (!requested_) {
        if (!auto_) continue;
        bool due = false;
        uint64_t generation = 0;
        {
          MutexUnlock unlock(mu_);
          due = backend_.rebuild_due();
          generation = backend_.member_table().generation;
        }
        if (stopping_) return;
        if (!requested_ && (!due || generation == refused_generation_)) continue;
        if (!requested_) spdlog::info("{}: a member failed and a spare is free: rebuilding (auto-rebuild)", name_);
      }
      rate = requested_ ? requested_rate_ : 0;  // auto-rebuild: no cap
      requested_ = false;
      running_ = true;
      id = ++runs_;
      progress_ = nullptr;
    }
    rebuild_once(id, rate);
  }
}

void Rebuilder::rebuild_once(uint64_t id, uint64_t max_rate) {
  const auto began = std::chrono::steady_clock::now();
  uint64_t steps = 0;
  auto outcome = backend_.rebuild([&](const MemberBackend::RebuildProgress& p) {
    MutexLock lock(mu_);
    progress_ = Json{{"member", p.member}, {"onto", p.onto}, {"rows_done", p.rows_done}, {"rows_total", p.rows_total},
                     {"chunk_size", backend_.chunk_size()}};
    if (max_rate > 0) {
      // Rest until the rows written so far fit the rate (stop() wakes it).
      const double bytes = double(++steps) * MemberBackend::kRebuildStepRows * backend_.chunk_size();
      const auto due = began + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                   std::chrono::duration<double>(bytes / double(max_rate)));
      wake_.wait_until(mu_, due, [this]() REQUIRES(mu_) { return stopping_; });
    }
    return !stopping_;
  });
  Json last;
  last["id"] = id;
  if (outcome) {
    last.update(rebuild_outcome_json(*outcome));
    if (!outcome->rebuilt.empty() || outcome->stopped) {
      spdlog::info("{}: rebuild {}: {}", name_, id, rebuild_outcome_text(*outcome));
    } else {
      spdlog::warn("{}: rebuild {}: {}", name_, id, rebuild_outcome_text(*outcome));
    }
  } else {
    spdlog::error("{}: rebuild {} failed: {}", name_, id, outcome.status().to_string());
    last["error"] = outcome.status().message();
  }
  const bool refused = !outcome || (outcome->rebuilt.empty() && !outcome->stopped);
  const uint64_t generation = backend_.member_table().generation;
  MutexLock lock(mu_);
  if (refused) refused_generation_ = generation;
  running_ = false;
  last_ = std::move(last);
}

}  // namespace vblk::live
