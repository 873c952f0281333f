// Syncing a member set (vblk(5), MEMBER SETS, Writing without a write hole):
// the open row's data made durable on every member, then the parity of the
// open row as far as it was filled, in the tail slot the last sync did not
// use, then IMAGE.
//
// sync() waits for the members' fdatasyncs without holding mu_, so writers
// go on appending while the disk works, as they do over a single file
// (holding it made every write wait for every member's sync: a third of
// the sequential write rate). What a sync promises is what had been
// appended when it began: the tail it writes is the parity of the open row
// as it was filled then, computed then under mu_, and written only once
// that data is durable. Appends made meanwhile lie past its fill, as
// appends made after a sync always do; the next sync covers them.
#include <cstring>

#include "store/member_backend.h"

namespace vblk::store {

Result<MemberBackend::PreparedTail> MemberBackend::prepare_tail() {
  // The parity of the open row as far as it is filled (zeros past the
  // fill), or of nothing when no row is open: the slot says which row it
  // covers, and every other row's parity is at its place.
  const ec::Layout& l = layout();
  const uint32_t parity = l.groups() + l.global_parity();
  PreparedTail t;
  for (uint32_t p = 0; p < parity; ++p) t.parity.emplace_back(format::kTailHeaderSize + chunk_);
  if (!open_.active) return t;
  t.open = true;
  t.seg = open_.seg;
  t.row = open_.row;
  t.fill = open_.fill;
  t.stripe = stripe_of(open_.seg, open_.row);
  AlignedBytes masked(row_bytes());
  std::memcpy(masked.data(), open_.buf.data(), open_.fill);
  std::vector<std::span<const uint8_t>> data;
  std::vector<std::span<uint8_t>> outs;
  for (uint32_t d = 0; d < l.data_members(); ++d) data.push_back(masked.span().subspan(size_t{d} * chunk_, chunk_));
  for (auto& o : t.parity) outs.push_back(o.span().subspan(format::kTailHeaderSize));
  VBLK_RETURN_IF_ERROR(codec_.encode(data, outs));
  return t;
}

Status MemberBackend::put_tail(PreparedTail& prepared) {
  const ec::Layout& l = layout();
  format::TailSlot t;
  t.seq = tail_seq_ + 1;
  t.segment = prepared.open ? prepared.seg : format::kNoSegment;
  t.row = prepared.row;
  t.fill = prepared.fill;
  const int slot = static_cast<int>(t.seq % 2);
  // The slot of the words that hold no open row: the same for every one of
  // their parity members.
  AlignedBytes none_slot;
  if (prepared.open && l.words() > 1) {
    format::TailSlot none = t;
    none.segment = format::kNoSegment;
    none_slot = AlignedBytes(format::kTailHeaderSize + chunk_);
    none.parity_hash = format::hash64(none_slot.data() + format::kTailHeaderSize, chunk_);
    format::encode_tail_slot(none, std::span<uint8_t, 64>(none_slot.data(), 64));
  }
  for (uint32_t p = 0; p < prepared.parity.size(); ++p) {
    AlignedBytes& out = prepared.parity[p];
    t.parity_hash = format::hash64(out.data() + format::kTailHeaderSize, chunk_);
    format::encode_tail_slot(t, std::span<uint8_t, 64>(out.data(), 64));
    // Every word's parity members: the slot is the image's, not a stripe's.
    for (uint32_t w = 0; w < l.words(); ++w) {
      for (uint32_t m : tail_members(w, l.data_members() + p)) {
        if (prepared.open && w != l.word_of_stripe(prepared.stripe)) {
          // Other words hold no open row: their slot says so.
          if (live(m)) VBLK_RETURN_IF_ERROR(write_member(m, format::tail_slot_offset(chunk_, slot), none_slot.span()));
          continue;
        }
        if (live(m))
          VBLK_RETURN_IF_ERROR(write_member(m, format::tail_slot_offset(chunk_, slot), out.span()));
        else
          mark_skipped(m);
      }
    }
  }
  tail_seq_ = t.seq;
  return prepared.open ? word_writable(word_of(prepared.stripe)) : Status::ok();
}

std::vector<uint32_t> MemberBackend::members_to_sync(bool parity_only) const {
  std::vector<uint32_t> out;
  for (uint32_t m = 0; m < files_.size(); ++m) {
    // Spares standing for no one hold nothing; a spare standing in has its
    // position's role.
    const uint32_t position = position_of(m);
    if (!live(m) || position == format::kNoMember) continue;
    if (parity_only && layout().member(position).role == ec::Role::kData) continue;
    out.push_back(m);
  }
  return out;
}

std::vector<std::pair<uint32_t, Status>> MemberBackend::sync_files(const std::vector<uint32_t>& members) {
  // files_ never changes after construction; a file's sync may run beside
  // writes to it from other threads.
  std::vector<std::pair<uint32_t, Status>> failed;
  for (uint32_t m : members)
    if (Status s = files_[m]->sync(); !s) failed.emplace_back(m, std::move(s));
  return failed;
}

Status MemberBackend::after_sync_files(const std::vector<std::pair<uint32_t, Status>>& failed) {
  for (const auto& [m, s] : failed) mark_failed(m, s.message());
  // A member that failed its sync may have lost what it held since the
  // last one: the rows it is part of must still be rebuildable.
  for (uint32_t w = 0; w < layout().words(); ++w) VBLK_RETURN_IF_ERROR(word_writable(w));
  return Status::ok();
}

Status MemberBackend::sync_members(bool parity_only) {
  return after_sync_files(sync_files(members_to_sync(parity_only)));
}

Status MemberBackend::sync() {
  // One sync at a time: a tail never covers less than the one before it.
  MutexLock one_at_a_time(sync_mu_);
  std::vector<uint32_t> members;
  std::optional<PreparedTail> tail;
  uint64_t tail_seq = 0;
  {
    MutexLock lock(mu_);
    if (!deferred_) return deferred_;
    VBLK_RETURN_IF_ERROR(resume_tail_row());
    // 1. The open row's data so far, and every completed row (written when
    //    it completed), made durable.
    VBLK_RETURN_IF_ERROR(write_dirty());
    members = members_to_sync(false);
    if (tail_due_ && !read_only_) {
      auto t = prepare_tail();
      if (!t) return t.status();
      tail = std::move(*t);
      tail_due_ = false;  // appends from now on set it again
    }
    tail_seq = tail_seq_;
  }
  auto failed = sync_files(members);
  std::vector<uint32_t> parity_members;
  {
    MutexLock lock(mu_);
    Status s = after_sync_files(failed);
    // 2. Only then the parity of the open row as it was, in the slot the
    //    previous sync did not use; unless a sync under mu_ (a rebuild's)
    //    wrote one meanwhile, of a later state.
    if (s && tail && tail_seq_ == tail_seq) {
      s = put_tail(*tail);
      parity_members = members_to_sync(true);
    }
    if (!s) {
      if (tail) tail_due_ = true;
      return s;
    }
  }
  if (!parity_members.empty()) {
    failed = sync_files(parity_members);
    MutexLock lock(mu_);
    if (Status s = after_sync_files(failed); !s) {
      tail_due_ = true;
      return s;
    }
  }
  // 3. The header area last: a checkpoint written before this sync names
  //    records the members now hold.
  return image_->sync();
}

Status MemberBackend::sync_locked() {
  if (!deferred_) return deferred_;
  VBLK_RETURN_IF_ERROR(resume_tail_row());
  VBLK_RETURN_IF_ERROR(write_dirty());
  VBLK_RETURN_IF_ERROR(sync_members(false));
  if (tail_due_ && !read_only_) {
    auto t = prepare_tail();
    if (!t) return t.status();
    VBLK_RETURN_IF_ERROR(put_tail(*t));
    VBLK_RETURN_IF_ERROR(sync_members(true));
    tail_due_ = false;
  }
  return image_->sync();
}

}  // namespace vblk::store
