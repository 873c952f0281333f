// MemberBackend: reading rows, and rebuilding the chunks of failed members
// from the rest of their stripe (ec::Codec's plan: the group when one is
// missing, the global parity when more).
#include <spdlog/spdlog.h>

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
  if (live(m) && read_member(m, chunk_offset(stripe) + off, out, tail_written(seg, row, chunk * chunk_ + off, out.size())))
    return Status::ok();
  AlignedBytes whole(chunk_);
  if (Status s = rebuild_chunk(seg, row, chunk, whole.span()); !s) {
    // Still live: its file was cut short here (read_member). Where the
    // others cannot rebuild it either, it reads as zeros past the end, as
    // a row never completed does; the records' checksums judge them.
    if (!live(m)) return s;
    std::memset(out.data(), 0, out.size());
    return Status::ok();
  }
  std::memcpy(out.data(), whole.data() + off, out.size());
  return Status::ok();
}

size_t MemberBackend::tail_written(uint64_t seg, uint32_t row, uint64_t at, size_t n) const {
  // The row the tail slots in force cover had its data up to the fill on
  // the data members before the slots were written.
  if (!tail_.valid || tail_.seg != seg || tail_.row != row || tail_.fill <= at) return 0;
  return static_cast<size_t>(std::min<uint64_t>(n, tail_.fill - at));
}

Status MemberBackend::read_member(uint32_t m, uint64_t offset, std::span<uint8_t> out, size_t written) {
  auto n = files_[m]->read_at(offset, out);
  if (!n) {
    // A read error counts against the member (vblk(5): the errors field)
    // before it is marked failed, which persists both.
    table_.members[m].errors++;
    mark_failed(m, n.status().message());
    return n.status();
  }
  if (*n < written || (*n < out.size() && cut_short(m, offset))) {
    // Not marked failed: a power cut leaves the same picture in rows
    // written after the last sync (a member's appends lost, the parity's
    // kept), and one row cut short says nothing of the member's others.
    Status s = Status::io_error(files_[m]->name() + ": ends at byte " + std::to_string(offset + *n) +
                                ", before chunks the rest of its stripe word holds (cut short)");
    if (cut_reported_.insert(m).second) spdlog::warn("{}: {}; rebuilding them from the others", name(), s.message());
    return s;
  }
  // Past the end of a member file: chunks never written (zeros).
  std::memset(out.data() + *n, 0, out.size() - *n);
  return Status::ok();
}

bool MemberBackend::cut_short(uint32_t m, uint64_t offset) {
  // A parity chunk at its place is written only once its row is complete,
  // after every data chunk of the row; so a parity member of the word
  // holding the chunk at this place (or a later one) means the row here
  // was complete and this member's chunk was written: its file lost it.
  // Rows never completed (the open row, the log's end) have no parity at
  // their place and read as zeros past the files' ends.
  const ec::Layout& l = layout();
  const uint64_t chunk_end = member_data_start_ + ((offset - member_data_start_) / chunk_ + 1) * chunk_;
  const uint32_t word = l.member(m).word;
  for (uint32_t c = l.data_members(); c < l.stripe_width(); ++c) {
    const uint32_t p = places_[l.member_of(word, c)].holder;  // a spare may hold the position
    if (p == m || !live(p)) continue;
    auto size = files_[p]->size();
    if (size && *size >= chunk_end) return true;
  }
  return false;
}

Status MemberBackend::rebuild_chunk(uint64_t seg, uint32_t row, uint32_t chunk, std::span<uint8_t> out) {
  const uint32_t wanted[1] = {chunk};
  const std::span<uint8_t> outs[1] = {out};
  return rebuild_chunks(seg, row, wanted, outs);
}

Status MemberBackend::rebuild_chunks(uint64_t seg, uint32_t row, std::span<const uint32_t> wanted,
                                     std::span<const std::span<uint8_t>> outs) {
  const uint64_t stripe = stripe_of(seg, row);
  const uint32_t width = layout().stripe_width();
  const uint32_t d_count = layout().data_members();
  // The row the tail slots cover: its parity is there, for its bytes up to
  // the fill; past it every data chunk counts as zeros.
  const bool from_tail = tail_.valid && tail_.seg == seg && tail_.row == row;
  const std::string where = "segment " + std::to_string(seg) + " row " + std::to_string(row);
  // Each pass either rebuilds the chunk or finds one more member it cannot
  // read: failed, or its file cut short before this row. When only the
  // members cut short stand in the way, a pass reads their chunks as
  // the zeros past their files' ends.
  ec::ChunkSet unreadable, cut;
  bool cut_as_zeros = false;
  for (uint32_t pass = 0; pass <= width + 1; ++pass) {
    ec::ChunkSet available;
    for (uint32_t c = 0; c < width; ++c) {
      const bool in_tail = c >= d_count && from_tail;
      available[c] = live(member_of(stripe, c)) && !unreadable[c] &&
                     (!in_tail || tail_.parity[c - d_count].size() > 0);
    }
    for (uint32_t c : wanted) available[c] = false;
    auto plan = codec_.plan(available, wanted);
    // Members found cut short on any pass (also on a zeros pass: the plan
    // then reads others) come back as zeros while that helps.
    if (!plan && (unreadable & cut).any()) {
      cut_as_zeros = true;
      unreadable &= ~cut;
      continue;
    }
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
      chunks[c] = bufs[c].span();
      if (cut_as_zeros && cut[c]) continue;
      // A data chunk past the segment's end (the last row's) was never
      // written: zeros, not read (its member's file may end before it).
      const int64_t in_row = c < d_count ? int64_t{row_end(row)} - int64_t{c} * chunk_ : int64_t{chunk_};
      const size_t len = static_cast<size_t>(std::clamp<int64_t>(in_row, 0, chunk_));
      const size_t written = c < d_count ? tail_written(seg, row, uint64_t{c} * chunk_, len) : 0;
      const uint32_t m = member_of(stripe, c);
      if (len > 0 && !read_member(m, chunk_offset(stripe), bufs[c].span().first(len), written)) {
        unreadable[c] = true;
        cut[c] = live(m);  // a read that failed marked the member failed
        failed = true;
        break;
      }
      if (from_tail && c < d_count) {
        const uint64_t begin = uint64_t{c} * chunk_;
        const uint64_t keep = tail_.fill > begin ? std::min<uint64_t>(tail_.fill - begin, chunk_) : 0;
        std::memset(bufs[c].data() + keep, 0, chunk_ - keep);
      }
    }
    if (failed) continue;
    return codec_.reconstruct(*plan, chunks, outs);
  }
  return lost(word_of(stripe), where);
}

std::string MemberBackend::position_label(uint32_t position) const {
  // The member file that failed is the holder: a spare standing in.
  const uint32_t holder = places_[position].holder;
  if (holder == format::kNoMember || holder == position) return std::to_string(position);
  return std::to_string(position) + " (on spare " + std::to_string(holder) + ")";
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
      list += (i == 0 ? "" : i + 1 == in_group.size() ? " and " : ", ") + position_label(in_group[i]);
    if (!causes.empty()) causes += "; ";
    causes += (in_group.size() == 1 ? "member " : "members ") + list + " of " +
              (l.words() > 1 ? "word " + std::to_string(word) + " " : std::string()) + "group " +
              std::to_string(g) + " failed";
  }
  if (causes.empty()) {
    std::string list;
    for (uint32_t m : failed)
      if (l.member(m).word == word) list += (list.empty() ? "" : ", ") + position_label(m);
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
