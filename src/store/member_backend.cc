// MemberBackend: the segment calls and the write path (the open row, the
// completed rows, sync and the tail slots). Reading and rebuilding are in
// member_rows.cc, member states and the table in member_states.cc.
#include "store/member_backend.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace vblk::store {

void AlignedBytes::Free::operator()(uint8_t* p) const { std::free(p); }

AlignedBytes::AlignedBytes(size_t n)
    : p_(static_cast<uint8_t*>(std::aligned_alloc(ec::kChunkAlign, format::align_up(n, ec::kChunkAlign)))), n_(n) {
  std::memset(p_.get(), 0, n);
}

MemberBackend::MemberBackend(std::unique_ptr<io::File> image, format::MemberTable table, int table_slot,
                             ec::Codec codec, std::vector<std::unique_ptr<io::File>> files, bool read_only)
    : image_(std::move(image)),
      codec_(std::move(codec)),
      chunk_(table.chunk_size),
      member_data_start_(format::member_data_start(table.chunk_size)),
      files_(std::move(files)),
      read_only_(read_only),
      table_(std::move(table)),
      table_slot_(table_slot) {}

Result<std::unique_ptr<MemberBackend>> MemberBackend::make(std::unique_ptr<io::File> image, format::MemberTable table,
                                                           int table_slot,
                                                           std::vector<std::unique_ptr<io::File>> files,
                                                           std::vector<std::string> causes, bool read_only) {
  const std::string name = image->name();
  auto layout = ec::decode_layout(table.layout);
  if (!layout) return layout.status().with_prefix(name + ": member table");
  if (table.members.size() != layout->member_count() || files.size() != table.members.size() ||
      causes.size() != files.size())
    return Status::corruption(name + ": member table lists " + std::to_string(table.members.size()) +
                              " members, its layout has " + std::to_string(layout->member_count()));
  auto codec = ec::Codec::create(*layout, table.chunk_size);
  if (!codec) return codec.status().with_prefix(name + ": member table");
  std::unique_ptr<MemberBackend> b(
      new MemberBackend(std::move(image), std::move(table), table_slot, std::move(*codec), std::move(files), read_only));
  MutexLock lock(b->mu_);
  b->remap();
  for (uint32_t m = 0; m < b->files_.size(); ++m)
    if (!b->files_[m] && b->live(m)) b->mark_failed(m, causes[m]);
  VBLK_RETURN_IF_ERROR(b->load_tail());
  return b;
}

Result<size_t> MemberBackend::read_header(uint64_t offset, std::span<uint8_t> out) {
  return image_->read_at(offset, out);
}

Status MemberBackend::write_header(uint64_t offset, std::span<const uint8_t> data) {
  return image_->write_at(offset, data);
}

void MemberBackend::set_geometry(const format::Superblock& sb) {
  MutexLock lock(mu_);
  data_start_ = sb.data_start;
  segment_size_ = sb.segment_size;
  rows_per_seg_ = static_cast<uint32_t>((uint64_t{segment_size_} + row_bytes() - 1) / row_bytes());
  // Where the segments end: past the last chunk any member holds, and past
  // the row the tail slots cover (its data may be on a failed member only).
  const uint32_t words = layout().words();
  if (tail_.valid) end_segments_ = std::max(end_segments_, tail_.seg + 1);
  for (uint32_t m = 0; m < files_.size(); ++m) {
    const uint32_t position = position_of(m);
    if (!live(m) || position == format::kNoMember) continue;
    auto size = files_[m]->size();
    if (!size || *size <= member_data_start_) continue;
    const uint64_t chunks = (*size - member_data_start_ + chunk_ - 1) / chunk_;
    const uint64_t last_stripe = (chunks - 1) * words + layout().member(position).word;
    end_segments_ = std::max(end_segments_, last_stripe / rows_per_seg_ + 1);
  }
}

uint32_t MemberBackend::row_end(uint32_t row) const {
  const uint64_t begin = uint64_t{row} * row_bytes();
  return static_cast<uint32_t>(std::min<uint64_t>(row_bytes(), segment_size_ - begin));
}

uint64_t MemberBackend::chunk_offset(uint64_t stripe) const {
  return member_data_start_ + (stripe / layout().words()) * chunk_;
}

// ---- the open row ----------------------------------------------------------

Status MemberBackend::start_row(uint64_t seg, uint32_t row, uint32_t at) {
  if (open_.buf.size() != row_bytes()) open_.buf = AlignedBytes(row_bytes());
  std::memset(open_.buf.data(), 0, open_.buf.size());
  if (at > 0) {
    // Appending in the middle of a row already written (the log head of a
    // reopened image): the row as the members hold it, its parity to be
    // written when it completes.
    VBLK_RETURN_IF_ERROR(read_row_range(seg, row, 0, open_.buf.span().first(row_end(row))));
  }
  open_.active = true;
  open_.seg = seg;
  open_.row = row;
  open_.fill = at;
  open_.dirty_from = open_.dirty_to = at;
  return Status::ok();
}

Status MemberBackend::resume_tail_row() {
  // The row the tail slots cover becomes the open row of a writable image:
  // whatever is appended next, its parity is written from memory.
  if (read_only_ || !tail_.valid || open_.active) return Status::ok();
  VBLK_RETURN_IF_ERROR(start_row(tail_.seg, tail_.row, row_end(tail_.row)));
  open_.fill = tail_.fill;
  open_.dirty_from = open_.dirty_to = tail_.fill;
  tail_.valid = false;
  return Status::ok();
}

Status MemberBackend::write_dirty() {
  if (!open_.active || open_.dirty_from >= open_.dirty_to) return Status::ok();
  const uint64_t stripe = stripe_of(open_.seg, open_.row);
  uint32_t at = open_.dirty_from;
  while (at < open_.dirty_to) {
    const uint32_t d = at / chunk_;
    const uint32_t n = std::min(open_.dirty_to, (d + 1) * chunk_) - at;
    const uint32_t m = member_of(stripe, d);
    if (live(m)) {
      VBLK_RETURN_IF_ERROR(write_member(m, chunk_offset(stripe) + at % chunk_, {open_.buf.data() + at, n}));
    } else {
      mark_skipped(m);
    }
    at += n;
  }
  open_.dirty_from = open_.dirty_to = 0;
  return word_writable(word_of(stripe));
}

Status MemberBackend::write_parity_chunks(uint64_t stripe, std::span<const uint8_t> row) {
  const ec::Layout& l = layout();
  const uint32_t parity = l.groups() + l.global_parity();
  std::vector<AlignedBytes> out;
  std::vector<std::span<const uint8_t>> data;
  std::vector<std::span<uint8_t>> outs;
  for (uint32_t d = 0; d < l.data_members(); ++d) data.push_back(row.subspan(size_t{d} * chunk_, chunk_));
  for (uint32_t p = 0; p < parity; ++p) out.emplace_back(chunk_);
  for (auto& o : out) outs.push_back(o.span());
  VBLK_RETURN_IF_ERROR(codec_.encode(data, outs));
  for (uint32_t p = 0; p < parity; ++p) {
    const uint32_t m = member_of(stripe, l.data_members() + p);
    if (live(m))
      VBLK_RETURN_IF_ERROR(write_member(m, chunk_offset(stripe), out[p].span()));
    else
      mark_skipped(m);
  }
  return word_writable(word_of(stripe));
}

Status MemberBackend::complete_row() {
  // Everything from the first byte not yet written to the row's end (zeros
  // past the fill), so that the data members hold exactly what the parity
  // is computed from, then the parity at its place.
  const uint32_t from = open_.dirty_from < open_.dirty_to ? std::min(open_.dirty_from, open_.fill) : open_.fill;
  open_.dirty_from = from;
  open_.dirty_to = row_end(open_.row);
  VBLK_RETURN_IF_ERROR(write_dirty());
  VBLK_RETURN_IF_ERROR(write_parity_chunks(stripe_of(open_.seg, open_.row), open_.buf.span()));
  open_.active = false;
  tail_due_ = true;
  return Status::ok();
}

Status MemberBackend::append(uint64_t seg, uint32_t pos, std::span<const std::span<const uint8_t>> parts) {
  MutexLock lock(mu_);
  if (!deferred_) return deferred_;
  VBLK_RETURN_IF_ERROR(resume_tail_row());
  for (std::span<const uint8_t> part : parts) {
    size_t done = 0;
    while (done < part.size()) {
      const uint32_t row = pos / row_bytes();
      const uint32_t at = pos % row_bytes();
      if (pos >= segment_size_)
        return Status::invalid_argument(name() + ": append past the end of segment " + std::to_string(seg));
      if (!open_.active || open_.seg != seg || open_.row != row) {
        if (open_.active) VBLK_RETURN_IF_ERROR(complete_row());
        VBLK_RETURN_IF_ERROR(start_row(seg, row, at));
      }
      const uint32_t n = static_cast<uint32_t>(std::min<size_t>(part.size() - done, row_end(row) - at));
      std::memcpy(open_.buf.data() + at, part.data() + done, n);
      if (open_.dirty_from >= open_.dirty_to) open_.dirty_from = at;
      open_.dirty_from = std::min(open_.dirty_from, at);
      open_.dirty_to = std::max(open_.dirty_to, at + n);
      open_.fill = at + n;
      tail_due_ = true;
      done += n;
      pos += n;
      end_segments_ = std::max(end_segments_, seg + 1);
      if (open_.fill == row_end(row)) VBLK_RETURN_IF_ERROR(complete_row());
    }
  }
  return Status::ok();
}

void MemberBackend::seal(uint64_t seg) {
  MutexLock lock(mu_);
  if (!open_.active || open_.seg != seg) return;
  if (Status s = complete_row(); !s && deferred_) deferred_ = s;
}

Status MemberBackend::patch_row(uint64_t seg, uint32_t row, uint32_t at, std::span<const uint8_t> data) {
  if (open_.active && open_.seg == seg && open_.row == row) {
    std::memcpy(open_.buf.data() + at, data.data(), data.size());
    if (open_.dirty_from >= open_.dirty_to) open_.dirty_from = at;
    open_.dirty_from = std::min<uint32_t>(open_.dirty_from, at);
    open_.dirty_to = std::max<uint32_t>(open_.dirty_to, at + static_cast<uint32_t>(data.size()));
    tail_due_ = true;
    return Status::ok();
  }
  // A completed row: read it whole (rebuilding what is missing), change
  // it, write the changed data and all of its parity again.
  AlignedBytes buf(row_bytes());
  VBLK_RETURN_IF_ERROR(read_row_range(seg, row, 0, buf.span().first(row_end(row))));
  std::memcpy(buf.data() + at, data.data(), data.size());
  const uint64_t stripe = stripe_of(seg, row);
  for (uint32_t d = at / chunk_; d * chunk_ < at + data.size(); ++d) {
    const uint32_t m = member_of(stripe, d);
    if (live(m))
      VBLK_RETURN_IF_ERROR(write_member(m, chunk_offset(stripe), buf.span().subspan(size_t{d} * chunk_, chunk_)));
    else
      mark_skipped(m);
  }
  return write_parity_chunks(stripe, buf.span());
}

Status MemberBackend::overwrite(uint64_t seg, uint32_t pos, std::span<const uint8_t> data) {
  MutexLock lock(mu_);
  VBLK_RETURN_IF_ERROR(resume_tail_row());
  if (uint64_t{pos} + data.size() > segment_size_)
    return Status::invalid_argument(name() + ": overwrite past the end of segment " + std::to_string(seg));
  while (!data.empty()) {
    const uint32_t row = pos / row_bytes();
    const uint32_t at = pos % row_bytes();
    const size_t n = std::min<size_t>(data.size(), row_end(row) - at);
    VBLK_RETURN_IF_ERROR(patch_row(seg, row, at, data.first(n)));
    data = data.subspan(n);
    pos += static_cast<uint32_t>(n);
  }
  return Status::ok();
}

Status MemberBackend::discard(uint64_t seg, uint32_t pos, uint32_t length) {
  // Zeros written like any other bytes: a hole punched in one member only
  // would contradict the row's parity.
  std::vector<uint8_t> zeros(length);
  return overwrite(seg, pos, zeros);
}

Status MemberBackend::release(uint64_t seg) {
  MutexLock lock(mu_);
  if (open_.active && open_.seg == seg) open_.active = false;
  if (tail_.valid && tail_.seg == seg) tail_.valid = false;
  Status first;
  for (uint32_t row = 0; row < rows_per_seg_; ++row) {
    const uint64_t stripe = stripe_of(seg, row);
    for (uint32_t c = 0; c < layout().stripe_width(); ++c) {
      const uint32_t m = member_of(stripe, c);
      if (!live(m)) continue;
      if (Status s = files_[m]->punch_hole(chunk_offset(stripe), chunk_); !s && first) first = s;
    }
  }
  return first;
}

// ---- sync and the tail slots -------------------------------------------------

Status MemberBackend::write_member(uint32_t m, uint64_t offset, std::span<const uint8_t> data) {
  if (Status s = files_[m]->write_at(offset, data); !s) {
    mark_failed(m, s.message());
    mark_skipped(m);
  }
  return Status::ok();
}

Result<uint64_t> MemberBackend::end_of_data() {
  MutexLock lock(mu_);
  return data_start_ + end_segments_ * segment_size_;
}

Result<BackendSpace> MemberBackend::space() {
  MutexLock lock(mu_);
  BackendSpace s;
  auto add = [&](io::File& f) -> Status {
    auto allocated = f.allocated_bytes();
    if (!allocated) return allocated.status();
    auto size = f.size();
    if (!size) return size.status();
    s.allocated_bytes += *allocated;
    s.apparent_bytes += *size;
    return Status::ok();
  };
  VBLK_RETURN_IF_ERROR(add(*image_));
  for (uint32_t m = 0; m < files_.size(); ++m)
    if (files_[m] && live(m)) VBLK_RETURN_IF_ERROR(add(*files_[m]));
  return s;
}

}  // namespace vblk::store
