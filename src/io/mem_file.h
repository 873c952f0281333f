#pragma once
// MemFile: a host file held in memory, for tests and for opening a copy of
// an image without touching the original (the fuzz target's writable open).
//
// Reads past the end return fewer bytes, writes past the end extend the
// file with zeros in between, punch_hole zeroes a range without changing
// the size, sync does nothing. allocated_bytes() counts the 4 KiB pages
// that hold a nonzero byte, as a sparse host file would.
// Thread safety: every method may be called from many threads.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "io/file.h"
#include "util/mutex.h"

namespace vblk::io {

class MemFile final : public File {
 public:
  // Writes that would make the file larger than max_bytes fail with
  // NoSpace (an image from untrusted bytes must not make a test allocate
  // without bound).
  explicit MemFile(std::string name, std::vector<uint8_t> contents = {}, uint64_t max_bytes = uint64_t{1} << 36);

  Result<size_t> read_at(uint64_t offset, std::span<uint8_t> out) EXCLUDES(mu_) override;
  Status write_at(uint64_t offset, std::span<const uint8_t> data) EXCLUDES(mu_) override;
  Status sync() override { return Status::ok(); }
  Status punch_hole(uint64_t offset, uint64_t length) EXCLUDES(mu_) override;
  Result<uint64_t> size() EXCLUDES(mu_) override;
  Result<uint64_t> allocated_bytes() EXCLUDES(mu_) override;
  const std::string& name() const override { return name_; }

  // A copy of the whole file.
  std::vector<uint8_t> contents() const EXCLUDES(mu_);

 private:
  const std::string name_;
  const uint64_t max_bytes_;
  mutable Mutex mu_;
  std::vector<uint8_t> data_ GUARDED_BY(mu_);
};

// Applies one write or punch to a byte vector with MemFile's rules (shared
// by MemFile and the crash recorder's replay).
void apply_write(std::vector<uint8_t>& image, uint64_t offset, std::span<const uint8_t> data);
void apply_punch(std::vector<uint8_t>& image, uint64_t offset, uint64_t length);

}  // namespace vblk::io
