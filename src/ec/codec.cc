// Encoding and running repair plans (plans are made in repair_plan.cc).
#include "ec/codec.h"

#include <isa-l.h>

#include <cassert>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

namespace vblk::ec {

namespace {

std::string num(uint64_t v) { return std::to_string(v); }

// ISA-L takes mutable pointers for its sources; it never writes them.
uint8_t* source(std::span<const uint8_t> s) { return const_cast<uint8_t*>(s.data()); }

// dst = XOR of srcs. xor_gen wants at least two sources.
void xor_into(std::vector<uint8_t*>& srcs, uint8_t* dst, uint32_t len) {
  if (srcs.size() == 1) {
    std::memcpy(dst, srcs[0], len);
    return;
  }
  srcs.push_back(dst);
  [[maybe_unused]] const int rc =
      xor_gen(static_cast<int>(srcs.size()), static_cast<int>(len), reinterpret_cast<void**>(srcs.data()));
  // Invariant: xor_gen fails only for fewer than 3 vectors.
  assert(rc == 0);
  srcs.pop_back();
}

struct FreeDeleter {
  void operator()(uint8_t* p) const { std::free(p); }
};

}  // namespace

// gf_gen_rs_matrix(D + P + 1, D) is D identity rows, then rows whose
// entry j is (2^r)^j for r = 0, 1, ...: row r = 0 is all ones, the sum of
// the local rows, so the global rows are r = 1..P.
Codec::Codec(const Layout& layout, uint32_t chunk_size) : layout_(layout), chunk_size_(chunk_size) {
  const uint32_t d = layout.data_members(), p = layout.global_parity();
  std::vector<uint8_t> rs(size_t{d + p + 1} * d);
  gf_gen_rs_matrix(rs.data(), static_cast<int>(d + p + 1), static_cast<int>(d));
  global_rows_.assign(rs.begin() + size_t{d + 1} * d, rs.end());
  global_tables_.resize(size_t{32} * d * p);
  if (p) ec_init_tables(static_cast<int>(d), static_cast<int>(p), global_rows_.data(), global_tables_.data());
}

Result<Codec> Codec::create(const Layout& layout, uint32_t chunk_size) {
  if (chunk_size == 0 || chunk_size % kChunkAlign)
    return Status::invalid_argument("chunk size " + num(chunk_size) + ": must be a positive multiple of " +
                                    num(kChunkAlign));
  if (chunk_size > INT32_MAX) return Status::invalid_argument("chunk size " + num(chunk_size) + ": too large");
  return Codec(layout, chunk_size);
}

uint8_t Codec::coefficient(uint32_t row, uint32_t data) const {
  const uint32_t d = layout_.data_members();
  switch (layout_.chunk_role(row)) {
    case Role::kData:
      return row == data ? 1 : 0;
    case Role::kLocalParity:
      return layout_.chunk_group(data) == layout_.chunk_group(row) ? 1 : 0;
    default:
      return global_rows_[size_t{row - layout_.global_chunk(0)} * d + data];
  }
}

Status Codec::check_buffer(std::span<const uint8_t> b, const char* what, uint32_t index) const {
  if (b.size() != chunk_size_)
    return Status::invalid_argument(std::string(what) + " " + num(index) + ": " + num(b.size()) +
                                    " bytes, not the chunk size " + num(chunk_size_));
  if (reinterpret_cast<uintptr_t>(b.data()) % kChunkAlign)
    return Status::invalid_argument(std::string(what) + " " + num(index) + ": not aligned to " + num(kChunkAlign) +
                                    " bytes");
  return Status::ok();
}

Status Codec::encode(std::span<const std::span<const uint8_t>> data, std::span<const std::span<uint8_t>> parity) const {
  const uint32_t d = layout_.data_members(), groups = layout_.groups(), p = layout_.global_parity();
  if (data.size() != d || parity.size() != groups + p)
    return Status::invalid_argument("encode: " + num(data.size()) + " data and " + num(parity.size()) +
                                    " parity chunks, not " + num(d) + " and " + num(groups + p));
  for (uint32_t i = 0; i < d; ++i) VBLK_RETURN_IF_ERROR(check_buffer(data[i], "data chunk", i));
  for (uint32_t i = 0; i < groups + p; ++i) VBLK_RETURN_IF_ERROR(check_buffer(parity[i], "parity chunk", i));
  std::vector<uint8_t*> srcs;
  for (uint32_t g = 0; g < groups; ++g) {
    srcs.clear();
    for (uint32_t c = layout_.group_begin(g); c < layout_.group_end(g); ++c) srcs.push_back(source(data[c]));
    xor_into(srcs, parity[g].data(), chunk_size_);
  }
  if (p == 0) return Status::ok();
  srcs.clear();
  for (const auto& c : data) srcs.push_back(source(c));
  std::vector<uint8_t*> dst;
  for (uint32_t i = 0; i < p; ++i) dst.push_back(parity[groups + i].data());
  ec_encode_data(static_cast<int>(chunk_size_), static_cast<int>(d), static_cast<int>(p),
                 const_cast<uint8_t*>(global_tables_.data()), srcs.data(), dst.data());
  return Status::ok();
}

Status Codec::reconstruct(const RepairPlan& plan, std::span<const std::span<const uint8_t>> chunks,
                          std::span<const std::span<uint8_t>> out) const {
  if (plan.width_ != width() || plan.steps_.size() != plan.wanted_.size())
    return Status::invalid_argument("reconstruct: the plan is not one of this codec's");
  if (chunks.size() != width() || out.size() != plan.wanted_.size())
    return Status::invalid_argument("reconstruct: " + num(chunks.size()) + " chunks and " + num(out.size()) +
                                    " outputs, not " + num(width()) + " and " + num(plan.wanted_.size()));
  for (uint32_t c : plan.reads_) VBLK_RETURN_IF_ERROR(check_buffer(chunks[c], "chunk", c));
  for (uint32_t i = 0; i < out.size(); ++i) VBLK_RETURN_IF_ERROR(check_buffer(out[i], "output", i));

  // Every data chunk the plan knows: read, or solved (into the output that
  // wants it, else into scratch).
  const uint32_t d = layout_.data_members();
  std::vector<uint8_t*> data(d, nullptr);
  for (uint32_t c : plan.reads_)
    if (c < d) data[c] = source(chunks[c]);
  std::unique_ptr<uint8_t, FreeDeleter> scratch;
  if (!plan.unknown_.empty()) {
    scratch.reset(static_cast<uint8_t*>(std::aligned_alloc(kChunkAlign, size_t{chunk_size_} * plan.unknown_.size())));
    if (!scratch) return Status::io_error("reconstruct: out of memory for " + num(plan.unknown_.size()) + " chunks");
    std::vector<uint8_t*> srcs, dst;
    for (uint32_t c : plan.sources_) srcs.push_back(source(chunks[c]));
    for (size_t u = 0; u < plan.unknown_.size(); ++u) {
      data[plan.unknown_[u]] = scratch.get() + u * chunk_size_;
      for (size_t w = 0; w < plan.wanted_.size(); ++w)
        if (plan.wanted_[w] == plan.unknown_[u]) data[plan.unknown_[u]] = out[w].data();
      dst.push_back(data[plan.unknown_[u]]);
    }
    ec_encode_data(static_cast<int>(chunk_size_), static_cast<int>(srcs.size()), static_cast<int>(dst.size()),
                   const_cast<uint8_t*>(plan.tables_.data()), srcs.data(), dst.data());
  }

  std::vector<uint8_t*> srcs;
  for (size_t w = 0; w < plan.wanted_.size(); ++w) {
    const uint32_t c = plan.wanted_[w];
    uint8_t* dst = out[w].data();
    srcs.clear();
    switch (plan.steps_[w]) {
      case RepairPlan::Step::kCopy:
        std::memcpy(dst, chunks[c].data(), chunk_size_);
        break;
      case RepairPlan::Step::kSolved:
        break;  // solved in place above
      case RepairPlan::Step::kXor:
        for (uint32_t s : plan.xor_of_[w]) srcs.push_back(source(chunks[s]));
        xor_into(srcs, dst, chunk_size_);
        break;
      case RepairPlan::Step::kLocalParity: {
        const uint32_t g = layout_.chunk_group(c);
        for (uint32_t i = layout_.group_begin(g); i < layout_.group_end(g); ++i) srcs.push_back(data[i]);
        xor_into(srcs, dst, chunk_size_);
        break;
      }
      case RepairPlan::Step::kGlobalParity: {
        const size_t row = c - layout_.global_chunk(0);
        ec_encode_data(static_cast<int>(chunk_size_), static_cast<int>(d), 1,
                       const_cast<uint8_t*>(global_tables_.data()) + 32 * d * row, data.data(), &dst);
        break;
      }
    }
  }
  return Status::ok();
}

std::vector<Recoverability> recoverable_members(const Codec& codec, std::span<const uint32_t> failed_members) {
  std::vector<Recoverability> out;
  for (uint32_t w = 0; w < codec.layout().words(); ++w)
    out.push_back(codec.recoverable(codec.layout().failed_chunks(w, failed_members)));
  return out;
}

}  // namespace vblk::ec
