// MemberBackend::heal: a record that fails its checksum on a member set.
// A member can return wrong bytes without an error (a bad sector remapped,
// a stray write): the stripe's parity still says what they were. Each data
// chunk the record touches is in turn taken as the wrong one and rebuilt
// from the rest of its stripe; then each pair of them (both rebuilt
// together when they share a stripe and the code can rebuild the two).
// The first candidate with which the record passes its own checksum wins:
// its chunks are written again on their members, which count an error.
// When none passes, the read fails as it did: healing never returns bytes
// the record's checksum has not accepted.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <map>

#include "store/member_backend.h"

namespace vblk::store {

Status MemberBackend::heal(uint64_t seg, uint32_t pos, std::span<uint8_t> out, const RecordCheck& check) {
  MutexLock lock(mu_);
  const std::string where = name() + ": segment " + std::to_string(seg) + " offset " + std::to_string(pos);
  if (pos >= segment_size_ || out.size() > segment_size_ - pos)
    return Status::invalid_argument(where + ": a record past the end of the segment");

  std::vector<uint8_t> base(out.size());
  std::vector<HealPiece> pieces;
  VBLK_RETURN_IF_ERROR(gather_heal_pieces(seg, pos, base, pieces));
  // A candidate: some pieces' chunks rebuilt from the rest of their stripes.
  std::map<size_t, AlignedBytes> single;  // by piece: rebuilt on its own
  auto rebuilt_alone = [&](size_t i) REQUIRES(mu_) -> const AlignedBytes* {
    auto it = single.find(i);
    if (it == single.end()) {
      AlignedBytes b(chunk_);
      if (!rebuild_chunk(seg, pieces[i].row, pieces[i].chunk, b.span())) b = AlignedBytes();
      it = single.emplace(i, std::move(b)).first;
    }
    return it->second.size() ? &it->second : nullptr;
  };
  std::vector<uint8_t> trial(out.size());
  // Only chunks the record covers are written back: their bytes are what
  // passed the check.
  auto try_candidate = [&](std::span<const size_t> which, std::span<const AlignedBytes* const> chunks) {
    std::memcpy(trial.data(), base.data(), base.size());
    for (size_t k = 0; k < which.size(); ++k) {
      const HealPiece& pc = pieces[which[k]];
      std::memcpy(trial.data() + pc.at, chunks[k]->data() + pc.in_chunk, pc.length);
    }
    return check(trial);
  };

  std::vector<size_t> healed;
  std::vector<const AlignedBytes*> healed_chunks;
  for (size_t i = 0; i < pieces.size() && healed.empty(); ++i) {
    const AlignedBytes* b = rebuilt_alone(i);
    const size_t which[1] = {i};
    const AlignedBytes* chunks[1] = {b};
    if (b && try_candidate(which, chunks)) healed.assign({i}), healed_chunks.assign({b});
  }
  // Two wrong chunks: a piece's chunk with another data chunk of its stripe
  // (the record need not touch it: its rebuild reads it), rebuilt together
  // where the code can rebuild the two; or two pieces in different rows.
  AlignedBytes pair[2];
  const uint32_t d_count = layout().data_members();
  for (size_t i = 0; i < pieces.size() && healed.empty(); ++i) {
    const HealPiece& pi = pieces[i];
    for (uint32_t other = 0; other < d_count && healed.empty(); ++other) {
      if (other == pi.chunk || !live(member_of(stripe_of(seg, pi.row), other))) continue;
      pair[0] = AlignedBytes(chunk_);
      pair[1] = AlignedBytes(chunk_);
      const uint32_t wanted[2] = {pi.chunk, other};
      const std::span<uint8_t> outs[2] = {pair[0].span(), pair[1].span()};
      if (!rebuild_chunks(seg, pi.row, wanted, outs)) continue;  // beyond what the code rebuilds
      // The other chunk's bytes in the record, if it touches it, too.
      std::vector<size_t> which = {i};
      std::vector<const AlignedBytes*> chunks = {&pair[0]};
      for (size_t j = 0; j < pieces.size(); ++j)
        if (pieces[j].row == pi.row && pieces[j].chunk == other) which.push_back(j), chunks.push_back(&pair[1]);
      if (try_candidate(which, chunks)) healed = which, healed_chunks = chunks;
    }
    for (size_t j = i + 1; j < pieces.size() && healed.empty(); ++j) {
      if (pieces[j].row == pi.row) continue;  // above
      const AlignedBytes* chunks[2] = {rebuilt_alone(i), rebuilt_alone(j)};
      const size_t which[2] = {i, j};
      if (chunks[0] && chunks[1] && try_candidate(which, chunks))
        healed.assign({i, j}), healed_chunks.assign({chunks[0], chunks[1]});
    }
  }
  if (healed.empty())
    return Status::corruption(where + ": the record fails its checksum, and no data chunk rebuilt from parity "
                              "makes it pass");

  std::memcpy(out.data(), trial.data(), trial.size());
  for (size_t k = 0; k < healed.size(); ++k)
    VBLK_RETURN_IF_ERROR(write_back_healed(seg, pieces[healed[k]], *healed_chunks[k]));
  if (Status s = persist_table(); !s)
    spdlog::error("{}: could not record the members' error counts: {}", name(), s.to_string());
  return Status::ok();
}

// The record as the members hold it, and the chunks it touches that a
// member holds (the open row is served from memory: nothing to heal).
Status MemberBackend::gather_heal_pieces(uint64_t seg, uint32_t pos, std::span<uint8_t> base,
                                         std::vector<HealPiece>& pieces) {
  for (size_t done = 0; done < base.size();) {
    const uint32_t p = pos + static_cast<uint32_t>(done);
    const uint32_t row = p / row_bytes();
    const uint32_t at = p % row_bytes();
    const uint32_t chunk = at / chunk_;
    const uint32_t n = static_cast<uint32_t>(std::min<size_t>(base.size() - done, chunk_ - at % chunk_));
    const std::span<uint8_t> dst(base.data() + done, n);
    if (open_.active && open_.seg == seg && open_.row == row) {
      std::memcpy(dst.data(), open_.buf.data() + at, n);
    } else {
      VBLK_RETURN_IF_ERROR(read_data_chunk(seg, row, chunk, at % chunk_, dst));
      if (live(member_of(stripe_of(seg, row), chunk))) pieces.push_back(HealPiece{row, chunk, done, at % chunk_, n});
    }
    done += n;
  }
  return Status::ok();
}

// The healed chunk of pc written again on its member (the bytes the record
// covers: what passed the check), and its error counted.
Status MemberBackend::write_back_healed(uint64_t seg, const HealPiece& pc, const AlignedBytes& chunk) {
  const uint64_t stripe = stripe_of(seg, pc.row);
  const uint32_t m = member_of(stripe, pc.chunk);
  format::MemberEntry& e = table_.members[m];
  e.errors++;
  // The row the tail slots cover holds acknowledged bytes only up to its
  // fill: only those are written back.
  uint32_t length = chunk_;
  if (tail_.valid && tail_.seg == seg && tail_.row == pc.row) {
    const uint64_t begin = uint64_t{pc.chunk} * chunk_;
    length = tail_.fill > begin ? static_cast<uint32_t>(std::min<uint64_t>(tail_.fill - begin, chunk_)) : 0;
  }
  if (!read_only_ && length > 0)
    VBLK_RETURN_IF_ERROR(write_member(m, chunk_offset(stripe), chunk.span().first(length)));
  spdlog::warn("{}: member {} ({}) held wrong bytes in segment {} row {} (a record failed its checksum); "
               "rebuilt from parity{}",
               name(), m, e.name, seg, pc.row, read_only_ ? " (read-only: not written back)" : " and written back");
  return Status::ok();
}

}  // namespace vblk::store
