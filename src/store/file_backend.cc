#include "store/file_backend.h"

#include <algorithm>
#include <vector>

namespace vblk::store {

Result<size_t> FileBackend::read_header(uint64_t offset, std::span<uint8_t> out) { return file_->read_at(offset, out); }

Status FileBackend::write_header(uint64_t offset, std::span<const uint8_t> data) {
  return file_->write_at(offset, data);
}

void FileBackend::set_geometry(const format::Superblock& sb) {
  data_start_ = sb.data_start;
  segment_size_ = sb.segment_size;
}

Result<size_t> FileBackend::read(uint64_t seg, uint32_t pos, std::span<const std::span<uint8_t>> parts) {
  const uint64_t at = start_of(seg) + pos;
  size_t room = pos < segment_size_ ? segment_size_ - pos : 0;
  size_t wanted = 0;
  for (std::span<uint8_t> p : parts) wanted += p.size();
  // Every read of a block comes here: the common case passes the parts on
  // as they are, without copying the list.
  if (wanted <= room) return parts.size() == 1 ? file_->read_at(at, parts[0]) : file_->read_parts(at, parts);
  // Never past the segment's end: a damaged length must not read the next
  // segment's bytes as this one's.
  std::vector<std::span<uint8_t>> clamped;
  for (std::span<uint8_t> p : parts) {
    const size_t n = std::min(p.size(), room);
    if (n) clamped.push_back(p.first(n));
    room -= n;
  }
  if (clamped.empty()) return size_t{0};
  return file_->read_parts(at, clamped);
}

Status FileBackend::append(uint64_t seg, uint32_t pos, std::span<const std::span<const uint8_t>> parts) {
  return file_->write_parts(start_of(seg) + pos, parts);
}

Status FileBackend::overwrite(uint64_t seg, uint32_t pos, std::span<const uint8_t> data) {
  return file_->write_at(start_of(seg) + pos, data);
}

Status FileBackend::discard(uint64_t seg, uint32_t pos, uint32_t length) {
  return file_->punch_hole(start_of(seg) + pos, length);
}

Status FileBackend::release(uint64_t seg) { return file_->punch_hole(start_of(seg), segment_size_); }

Result<BackendSpace> FileBackend::space() {
  BackendSpace s;
  auto allocated = file_->allocated_bytes();
  if (!allocated) return allocated.status();
  auto size = file_->size();
  if (!size) return size.status();
  s.allocated_bytes = *allocated;
  s.apparent_bytes = *size;
  return s;
}

}  // namespace vblk::store
