#include "io/mem_file.h"

#include <algorithm>
#include <cstring>

namespace vblk::io {

void apply_write(std::vector<uint8_t>& image, uint64_t offset, std::span<const uint8_t> data) {
  if (data.empty()) return;
  if (offset + data.size() > image.size()) image.resize(offset + data.size(), 0);
  std::memcpy(image.data() + offset, data.data(), data.size());
}

void apply_punch(std::vector<uint8_t>& image, uint64_t offset, uint64_t length) {
  if (offset >= image.size()) return;
  uint64_t end = std::min<uint64_t>(image.size(), offset + std::min(length, image.size() - offset));
  std::fill(image.begin() + static_cast<ptrdiff_t>(offset), image.begin() + static_cast<ptrdiff_t>(end), 0);
}

MemFile::MemFile(std::string name, std::vector<uint8_t> contents, uint64_t max_bytes)
    : name_(std::move(name)), max_bytes_(max_bytes), data_(std::move(contents)) {}

Result<size_t> MemFile::read_at(uint64_t offset, std::span<uint8_t> out) {
  MutexLock lock(mu_);
  if (offset >= data_.size()) return size_t{0};
  size_t n = static_cast<size_t>(std::min<uint64_t>(out.size(), data_.size() - offset));
  if (n) std::memcpy(out.data(), data_.data() + offset, n);  // out may be empty, with no buffer
  return n;
}

Status MemFile::write_at(uint64_t offset, std::span<const uint8_t> data) {
  if (offset > max_bytes_ || data.size() > max_bytes_ - offset)
    return Status::no_space(name_ + ": write at offset " + std::to_string(offset) + " beyond the in-memory file's limit");
  MutexLock lock(mu_);
  apply_write(data_, offset, data);
  return Status::ok();
}

Status MemFile::punch_hole(uint64_t offset, uint64_t length) {
  MutexLock lock(mu_);
  apply_punch(data_, offset, length);
  return Status::ok();
}

Result<uint64_t> MemFile::size() {
  MutexLock lock(mu_);
  return static_cast<uint64_t>(data_.size());
}

Result<uint64_t> MemFile::allocated_bytes() {
  MutexLock lock(mu_);
  uint64_t bytes = 0;
  for (size_t at = 0; at < data_.size(); at += 4096) {
    size_t end = std::min(data_.size(), at + 4096);
    if (std::any_of(data_.begin() + static_cast<ptrdiff_t>(at), data_.begin() + static_cast<ptrdiff_t>(end),
                    [](uint8_t c) { return c != 0; }))
      bytes += 4096;
  }
  return bytes;
}

std::vector<uint8_t> MemFile::contents() const {
  MutexLock lock(mu_);
  return data_;
}

}  // namespace vblk::io
