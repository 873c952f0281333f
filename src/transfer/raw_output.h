#pragma once
// RawOutput: where an export writes a raw disk. A sparse output (a regular
// file) takes writes at any offset and reads zeros where nothing was
// written, so zeros may be left as holes; a stream (a pipe, a block
// device, a terminal's redirection) takes every byte, in order.
// FdOutput is the one over a file descriptor; tests substitute their own.
// Thread safety: none; one transfer writes one output.

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "transfer/transfer.h"
#include "vblk/status.h"

namespace vblk::transfer {

class RawOutput {
 public:
  RawOutput() = default;
  RawOutput(const RawOutput&) = delete;
  RawOutput& operator=(const RawOutput&) = delete;
  virtual ~RawOutput() = default;

  // How failures name the output.
  virtual const std::string& name() const = 0;
  virtual bool sparse() const = 0;
  // Writes all of `data` at byte `offset` of the disk. REQUIRES for a
  // stream: offset is where the previous write ended (0 first). Errors
  // name the output and the disk offset: "NAME: write at offset N: cause".
  virtual Status write(uint64_t offset, std::span<const uint8_t> data) = 0;
  // Sparse: makes the output end where a disk of `capacity` bytes does,
  // past a trailing hole. A stream: nothing (its zeros were written).
  virtual Status finish(uint64_t capacity) = 0;
};

// An output on a file descriptor, which stays the caller's. Sparse: pwrite
// at base + offset, and ftruncate to base + capacity at the end (then the
// file offset is left there, as a stream would leave it). Otherwise
// write(2) in order. A write interrupted by a signal is resumed unless
// `cancel` says stop, and then fails with "NAME: interrupted".
class FdOutput final : public RawOutput {
 public:
  FdOutput(int fd, std::string name, bool sparse, uint64_t base, Cancel cancel = {});

  const std::string& name() const override { return name_; }
  bool sparse() const override { return sparse_; }
  Status write(uint64_t offset, std::span<const uint8_t> data) override;
  Status finish(uint64_t capacity) override;

 private:
  int fd_;
  std::string name_;
  bool sparse_;
  uint64_t base_;
  Cancel cancel_;
};

// Where a sparse FdOutput on `fd` may start: its current offset when fd is
// a regular file, not opened with O_APPEND, and empty beyond that offset
// (so holes read as zeros); nullopt when it must be written as a stream.
std::optional<uint64_t> hole_base(int fd);

}  // namespace vblk::transfer
