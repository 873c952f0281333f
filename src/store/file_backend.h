#pragma once
// FileBackend: a single-file image (vblk(5)): the header area and the
// segments lie in one host file, at the addresses the format gives them.
// The file's lock (io::open_posix_file) is the image lock.

#include <memory>

#include "io/file.h"
#include "store/segment_backend.h"

namespace vblk::store {

class FileBackend final : public SegmentBackend {
 public:
  explicit FileBackend(std::unique_ptr<io::File> file) : owned_(std::move(file)), file_(owned_.get()) {}
  // Over a file the caller keeps (and must keep open while this lives).
  explicit FileBackend(io::File& file) : file_(&file) {}

  const std::string& name() const override { return file_->name(); }
  Result<size_t> read_header(uint64_t offset, std::span<uint8_t> out) override;
  Status write_header(uint64_t offset, std::span<const uint8_t> data) override;
  void set_geometry(const format::Superblock& sb) override;
  Result<size_t> read(uint64_t seg, uint32_t pos, std::span<const std::span<uint8_t>> parts) override;
  Status append(uint64_t seg, uint32_t pos, std::span<const std::span<const uint8_t>> parts) override;
  void seal(uint64_t) override {}
  Status overwrite(uint64_t seg, uint32_t pos, std::span<const uint8_t> data) override;
  Status discard(uint64_t seg, uint32_t pos, uint32_t length) override;
  Status release(uint64_t seg) override;
  Status sync() override { return file_->sync(); }
  Result<uint64_t> end_of_data() override { return file_->size(); }
  Result<BackendSpace> space() override;

 private:
  uint64_t start_of(uint64_t seg) const { return data_start_ + seg * segment_size_; }

  std::unique_ptr<io::File> owned_;
  io::File* file_;
  uint64_t data_start_ = 0;
  uint32_t segment_size_ = 0;
};

}  // namespace vblk::store
