// Planning a rebuild: which chunks to read and the decode matrix of the
// joint solve (codec.h describes the method); and what a failure set
// leaves (recoverable). The only GF(2^8) arithmetic is ISA-L's:
// gf_invert_matrix, and gf_mul for the product of the inverse with the
// rows' known columns, as ISA-L's own examples build decode matrices.
#include <isa-l.h>

#include <algorithm>
#include <string>

#include "ec/codec.h"
#include "ec/subsets.h"

namespace vblk::ec {

namespace {

std::string num(uint64_t v) { return std::to_string(v); }

}  // namespace

const char* to_string(GroupHealth health) {
  switch (health) {
    case GroupHealth::kIntact:
      return "intact";
    case GroupHealth::kLocal:
      return "local";
    case GroupHealth::kGlobal:
      return "global";
    case GroupHealth::kLost:
      return "lost";
  }
  return "unknown";
}

bool Recoverability::ok() const {
  if (failed_global && !solvable) return false;
  return std::none_of(groups.begin(), groups.end(), [](GroupHealth h) { return h == GroupHealth::kLost; });
}

// The joint solve: unknown data columns, the parity rows used for them,
// and the inverse of those rows restricted to the unknown columns.
struct Codec::Solve {
  std::vector<uint32_t> unknown;
  std::vector<uint32_t> rows;
  std::vector<uint8_t> inverse;  // m x m
};

bool Codec::find_solve(const ChunkSet& available, Solve& solve) const {
  const Layout& l = layout_;
  solve = Solve{};
  for (uint32_t c = 0; c < l.data_members(); ++c)
    if (!available[c]) solve.unknown.push_back(c);
  const uint32_t m = static_cast<uint32_t>(solve.unknown.size());
  if (m == 0) return true;
  for (uint32_t g = 0; g < l.groups(); ++g) {
    const bool has_unknown =
        std::any_of(solve.unknown.begin(), solve.unknown.end(), [&](uint32_t u) { return l.chunk_group(u) == g; });
    if (has_unknown && available[l.local_chunk(g)]) solve.rows.push_back(l.local_chunk(g));
  }
  std::vector<uint32_t> globals;
  for (uint32_t p = 0; p < l.global_parity(); ++p)
    if (available[l.global_chunk(p)]) globals.push_back(l.global_chunk(p));
  const uint32_t locals = static_cast<uint32_t>(solve.rows.size());
  const uint32_t need = m - locals;
  if (need > globals.size()) return false;
  // Local rows have disjoint supports, so they are independent and some
  // basis of the available rows contains them all: trying every subset of
  // `need` global rows beside them finds one whenever one exists.
  std::vector<uint32_t> pick(need);
  for (uint32_t i = 0; i < need; ++i) pick[i] = i;
  std::vector<uint8_t> a(size_t{m} * m);
  solve.inverse.resize(size_t{m} * m);
  do {
    solve.rows.resize(locals);
    for (uint32_t i : pick) solve.rows.push_back(globals[i]);
    for (uint32_t r = 0; r < m; ++r)
      for (uint32_t u = 0; u < m; ++u) a[size_t{r} * m + u] = coefficient(solve.rows[r], solve.unknown[u]);
    if (gf_invert_matrix(a.data(), solve.inverse.data(), static_cast<int>(m)) == 0) return true;
  } while (next_subset(pick, static_cast<uint32_t>(globals.size())));
  return false;
}

// Sources: the solve's rows, then every known data column they touch. The
// decode matrix maps them to the unknowns: x = inv * (rows - B * known) =
// [inv | inv * B] * sources (minus is plus in GF(2^8)).
void Codec::build_decoder(const Solve& solve, RepairPlan& plan) const {
  const uint32_t m = static_cast<uint32_t>(solve.unknown.size());
  plan.unknown_ = solve.unknown;
  plan.sources_ = solve.rows;
  std::vector<uint32_t> known;
  for (uint32_t c = 0; c < layout_.data_members(); ++c) {
    if (std::binary_search(solve.unknown.begin(), solve.unknown.end(), c)) continue;
    const bool touched =
        std::any_of(solve.rows.begin(), solve.rows.end(), [&](uint32_t r) { return coefficient(r, c) != 0; });
    if (touched) known.push_back(c);
  }
  plan.sources_.insert(plan.sources_.end(), known.begin(), known.end());
  const size_t k = plan.sources_.size();
  std::vector<uint8_t> decode(m * k, 0);
  for (uint32_t i = 0; i < m; ++i) {
    for (uint32_t j = 0; j < m; ++j) decode[i * k + j] = solve.inverse[size_t{i} * m + j];
    for (size_t t = 0; t < known.size(); ++t) {
      uint8_t sum = 0;
      for (uint32_t j = 0; j < m; ++j)
        sum ^= gf_mul(solve.inverse[size_t{i} * m + j], coefficient(solve.rows[j], known[t]));
      decode[i * k + m + t] = sum;
    }
  }
  plan.tables_.resize(32 * k * m);
  ec_init_tables(static_cast<int>(k), static_cast<int>(m), decode.data(), plan.tables_.data());
}

Recoverability Codec::recoverable(const ChunkSet& failed) const {
  const Layout& l = layout_;
  Recoverability r;
  Solve solve;
  r.solvable = find_solve(~failed, solve);
  for (uint32_t p = 0; p < l.global_parity(); ++p) r.failed_global += failed[l.global_chunk(p)];
  for (uint32_t g = 0; g < l.groups(); ++g) {
    uint32_t missing = failed[l.local_chunk(g)];
    for (uint32_t c = l.group_begin(g); c < l.group_end(g); ++c) missing += failed[c];
    r.groups.push_back(missing == 0   ? GroupHealth::kIntact
                       : missing == 1 ? GroupHealth::kLocal
                       : r.solvable   ? GroupHealth::kGlobal
                                      : GroupHealth::kLost);
  }
  return r;
}

// The wanted chunks that neither are there nor are the one missing chunk
// of their group: the joint solve, then local or global parity encoded
// again from the data it completes.
void Codec::plan_global(const ChunkSet& available, RepairPlan& plan) const {
  Solve solve;
  find_solve(available, solve);  // the caller checked that it exists
  if (!solve.unknown.empty()) build_decoder(solve, plan);
  std::vector<uint32_t> reads = plan.sources_;
  for (size_t w = 0; w < plan.wanted_.size(); ++w) {
    const uint32_t c = plan.wanted_[w];
    if (available[c]) continue;
    if (c < layout_.data_members()) {
      plan.steps_[w] = RepairPlan::Step::kSolved;  // solved along with the rest
      plan.xor_of_[w].clear();
      continue;
    }
    if (plan.steps_[w] == RepairPlan::Step::kXor) continue;
    const bool local = layout_.chunk_role(c) == Role::kLocalParity;
    plan.steps_[w] = local ? RepairPlan::Step::kLocalParity : RepairPlan::Step::kGlobalParity;
    const uint32_t g = local ? layout_.chunk_group(c) : 0;
    const uint32_t begin = local ? layout_.group_begin(g) : 0;
    const uint32_t end = local ? layout_.group_end(g) : layout_.data_members();
    for (uint32_t i = begin; i < end; ++i)
      if (available[i]) reads.push_back(i);
  }
  plan.reads_.insert(plan.reads_.end(), reads.begin(), reads.end());
}

Result<RepairPlan> Codec::plan(const ChunkSet& available, std::span<const uint32_t> wanted) const {
  const Layout& l = layout_;
  RepairPlan plan;
  plan.width_ = width();
  ChunkSet seen;
  for (uint32_t c : wanted) {
    if (c >= width()) return Status::invalid_argument("chunk " + num(c) + ": the stripe has " + num(width()));
    if (seen[c]) return Status::invalid_argument("chunk " + num(c) + " wanted twice");
    seen.set(c);
  }
  plan.wanted_.assign(wanted.begin(), wanted.end());
  plan.steps_.assign(wanted.size(), RepairPlan::Step::kCopy);
  plan.xor_of_.resize(wanted.size());
  const Recoverability health = recoverable(~available & ChunkSet().set() >> (kMaxStripeWidth - width()));
  for (size_t w = 0; w < wanted.size(); ++w) {
    const uint32_t c = wanted[w];
    if (available[c]) {
      plan.reads_.push_back(c);
      continue;
    }
    const uint32_t g = l.chunk_group(c);
    if (g != kNoGroup && health.groups[g] == GroupHealth::kLocal) {
      plan.steps_[w] = RepairPlan::Step::kXor;
      for (uint32_t i = l.group_begin(g); i < l.group_end(g); ++i)
        if (i != c) plan.xor_of_[w].push_back(i);
      if (c != l.local_chunk(g)) plan.xor_of_[w].push_back(l.local_chunk(g));
      plan.reads_.insert(plan.reads_.end(), plan.xor_of_[w].begin(), plan.xor_of_[w].end());
      continue;
    }
    if (!health.solvable) {
      const std::string which = g == kNoGroup ? "global parity " + num(c - l.global_chunk(0)) : "group " + num(g);
      return Status::io_error("chunk " + num(c) + " lost: " + which + " cannot be rebuilt from the chunks left");
    }
    plan.uses_global_ = true;
  }
  if (plan.uses_global_) plan_global(available, plan);
  std::sort(plan.reads_.begin(), plan.reads_.end());
  plan.reads_.erase(std::unique(plan.reads_.begin(), plan.reads_.end()), plan.reads_.end());
  return plan;
}

}  // namespace vblk::ec
