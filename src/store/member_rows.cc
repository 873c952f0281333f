// MemberBackend: reading rows, and rebuilding the chunks of failed members
// from the rest of their stripe (ec::Codec's plan: the group when one is
// missing, the global parity when more).
#include <algorithm>
#include <cstring>

#include "store/member_backend.h"

namespace vblk::store {

Result<size_t> MemberBackend::read(uint64_t seg, uint32_t pos, std::span<const std::span<uint8_t>> parts) {
  MutexLock lock(mu_);
  size_t total = 0;
  for (std::span<uint8_t> part : parts) {
    // Never past the segment's end.
    if (pos >= segment_size_) break;
    part = part.first(std::min<size_t>(part.size(), segment_size_ - pos));
    while (!part.empty()) {
      const uint32_t row = pos / row_bytes();
      const uint32_t at = pos % row_bytes();
      const size_t n = std::min<size_t>(part.size(), row_end(row) - at);
      if (open_.active && open_.seg == seg && open_.row == row) {
        // The open row is served from memory: it never depends on a member.
        std::memcpy(part.data(), open_.buf.data() + at, n);
      } else {
        VBLK_RETURN_IF_ERROR(read_row_range(seg, row, at, part.first(n)));
      }
      part = part.subspan(n);
      pos += static_cast<uint32_t>(n);
      total += n;
    }
  }
  return total;
}

Status MemberBackend::read_row_range(uint64_t seg, uint32_t row, uint32_t from, std::span<uint8_t> out) {
  while (!out.empty()) {
    const uint32_t d = from / chunk_;
    const uint32_t off = from % chunk_;
    const size_t n = std::min<size_t>(out.size(), chunk_ - off);
    VBLK_RETURN_IF_ERROR(read_data_chunk(seg, row, d, off, out.first(n)));
    out = out.subspan(n);
    from += static_cast<uint32_t>(n);
  }
  return Status::ok();
}

Status MemberBackend::read_data_chunk(uint64_t seg, uint32_t row, uint32_t chunk, uint32_t off,
                                      std::span<uint8_t> out) {
  const uint64_t stripe = stripe_of(seg, row);
  const uint32_t m = member_of(stripe, chunk);
  // A healthy read touches only the member holding the bytes.
  if (live(m) && read_member(m, chunk_offset(stripe) + off, out)) return Status::ok();
  AlignedBytes whole(chunk_);
  VBLK_RETURN_IF_ERROR(rebuild_chunk(seg, row, chunk, whole.span()));
  std::memcpy(out.data(), whole.data() + off, out.size());
  return Status::ok();
}

Status MemberBackend::read_member(uint32_t m, uint64_t offset, std::span<uint8_t> out) {
  auto n = files_[m]->read_at(offset, out);
  if (!n) {
    mark_failed(m, n.status().message());
    return n.status();
  }
  // Past the end of a member file: chunks never written (zeros).
  std::memset(out.data() + *n, 0, out.size() - *n);
  return Status::ok();
}

Status MemberBackend::rebuild_chunk(uint64_t seg, uint32_t row, uint32_t chunk, std::span<uint8_t> out) {
  const uint64_t stripe = stripe_of(seg, row);
  const uint32_t width = layout().stripe_width();
  const uint32_t d_count = layout().data_members();
  // The row the tail slots cover: its parity is there, for its bytes up to
  // the fill; past it every data chunk counts as zeros.
  const bool from_tail = tail_.valid && tail_.seg == seg && tail_.row == row;
  const std::string where = "segment " + std::to_string(seg) + " row " + std::to_string(row);
  // Each pass either rebuilds the chunk or finds one more failed member.
  for (uint32_t pass = 0; pass <= width; ++pass) {
    ec::ChunkSet available;
    for (uint32_t c = 0; c < width; ++c) {
      const bool in_tail = c >= d_count && from_tail;
      available[c] = live(member_of(stripe, c)) && (!in_tail || tail_.parity[c - d_count].size() > 0);
    }
    available[chunk] = false;
    const uint32_t wanted[1] = {chunk};
    auto plan = codec_.plan(available, wanted);
    if (!plan) return lost(word_of(stripe), where);
    std::vector<AlignedBytes> bufs(width);
    std::vector<std::span<const uint8_t>> chunks(width);
    bool failed = false;
    for (uint32_t c : plan->reads()) {
      if (c >= d_count && from_tail) {
        chunks[c] = tail_.parity[c - d_count].span();
        continue;
      }
      bufs[c] = AlignedBytes(chunk_);
      if (!read_member(member_of(stripe, c), chunk_offset(stripe), bufs[c].span())) {
        failed = true;
        break;
      }
      if (from_tail && c < d_count) {
        const uint64_t begin = uint64_t{c} * chunk_;
        const uint64_t keep = tail_.fill > begin ? std::min<uint64_t>(tail_.fill - begin, chunk_) : 0;
        std::memset(bufs[c].data() + keep, 0, chunk_ - keep);
      }
      chunks[c] = bufs[c].span();
    }
    if (failed) continue;
    const std::span<uint8_t> outs[1] = {out};
    return codec_.reconstruct(*plan, chunks, outs);
  }
  return lost(word_of(stripe), where);
}

Status MemberBackend::lost(uint32_t word, const std::string& where) const {
  const ec::Layout& l = layout();
  const std::vector<uint32_t> failed = failed_members();
  const ec::Recoverability r = codec_.recoverable(l.failed_chunks(word, failed));
  std::string causes;
  for (uint32_t g = 0; g < l.groups(); ++g) {
    if (r.group_ok(g)) continue;
    std::vector<uint32_t> in_group;
    for (uint32_t m : failed) {
      const ec::Member info = l.member(m);
      if (info.word == word && info.group == g) in_group.push_back(m);
    }
    std::string list;
    for (size_t i = 0; i < in_group.size(); ++i)
      list += (i == 0 ? "" : i + 1 == in_group.size() ? " and " : ", ") + std::to_string(in_group[i]);
    if (!causes.empty()) causes += "; ";
    causes += (in_group.size() == 1 ? "member " : "members ") + list + " of " +
              (l.words() > 1 ? "word " + std::to_string(word) + " " : std::string()) + "group " +
              std::to_string(g) + " failed";
  }
  if (causes.empty()) {
    std::string list;
    for (uint32_t m : failed)
      if (l.member(m).word == word) list += (list.empty() ? "" : ", ") + std::to_string(m);
    causes = "members " + list + " failed";
  }
  return Status::io_error(name() + ": " + where + ": " + causes + ": beyond what the parity can rebuild");
}

Status MemberBackend::word_writable(uint32_t word) const {
  const ec::Recoverability r = codec_.recoverable(layout().failed_chunks(word, failed_members()));
  if (r.ok()) return Status::ok();
  return lost(word, "writing");
}

}  // namespace vblk::store
