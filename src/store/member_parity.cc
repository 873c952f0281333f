// MemberBackend::check_parity: every stripe row's parity recomputed from
// its data and compared with what the parity members hold. A mismatch with
// data that reads (and whose records verify, which the store's check says)
// means the parity is wrong: a rebuild that needed it would return wrong
// bytes. rewrite writes it again from the data.
#include <cstring>

#include "store/member_backend.h"

namespace vblk::store {

Result<MemberBackend::ParityReport> MemberBackend::check_parity(bool rewrite) {
  MutexLock lock(mu_);
  const ec::Layout& l = layout();
  const uint32_t d_count = l.data_members();
  const uint32_t parity = l.groups() + l.global_parity();
  ParityReport report;
  AlignedBytes row_buf(row_bytes());
  std::vector<AlignedBytes> expected, held;
  for (uint32_t p = 0; p < parity; ++p) expected.emplace_back(chunk_), held.emplace_back(chunk_);
  std::vector<std::span<const uint8_t>> data;
  std::vector<std::span<uint8_t>> outs;
  for (uint32_t d = 0; d < d_count; ++d) data.push_back(row_buf.span().subspan(size_t{d} * chunk_, chunk_));
  for (auto& e : expected) outs.push_back(e.span());

  for (uint64_t seg = 0; seg < end_segments_; ++seg) {
    for (uint32_t row = 0; row < rows_per_seg_; ++row) {
      // The open row's parity is written when it completes, or to the tail
      // slots by the next sync: nothing on the members to compare yet.
      if (open_.active && open_.seg == seg && open_.row == row) continue;
      const uint64_t stripe = stripe_of(seg, row);
      const bool tail = tail_.valid && tail_.seg == seg && tail_.row == row;
      std::memset(row_buf.data(), 0, row_buf.size());
      if (Status s = read_row_range(seg, row, 0, row_buf.span().first(row_end(row))); !s) {
        report.unreadable.push_back(s.message());
        continue;
      }
      // The tail slot's parity covers the row up to its fill, zeros past it.
      if (tail) std::memset(row_buf.data() + tail_.fill, 0, row_buf.size() - tail_.fill);
      VBLK_RETURN_IF_ERROR(codec_.encode(data, outs));
      report.rows_checked++;
      for (uint32_t p = 0; p < parity; ++p) {
        const uint32_t m = member_of(stripe, d_count + p);
        if (!live(m) || (tail && tail_.parity[p].size() == 0)) continue;
        std::span<const uint8_t> have;
        if (tail) {
          have = tail_.parity[p].span();
        } else {
          if (!read_member(m, chunk_offset(stripe), held[p].span())) continue;  // failed now: nothing to compare
          have = held[p].span();
        }
        if (std::memcmp(have.data(), expected[p].data(), chunk_) == 0) continue;
        ParityMismatch mm;
        mm.segment = seg;
        mm.row = row;
        mm.stripe = stripe;
        mm.chunk = d_count + p;
        mm.member = m;
        mm.tail = tail;
        // (The tail slot in force is the one the next sync does not write.)
        mm.offset = tail ? format::tail_slot_offset(chunk_, static_cast<int>(tail_seq_ % 2)) + format::kTailHeaderSize
                         : chunk_offset(stripe);
        if (rewrite && !tail && !read_only_) {
          VBLK_RETURN_IF_ERROR(write_member(m, chunk_offset(stripe), expected[p].span()));
          mm.rewritten = live(m);
        }
        report.mismatches.push_back(mm);
      }
    }
  }
  if (rewrite && !read_only_) VBLK_RETURN_IF_ERROR(sync_members(true));
  return report;
}

}  // namespace vblk::store
