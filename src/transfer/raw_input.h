#pragma once
// RawInput: where an import reads a raw disk. A file (or block device) is
// read at any offset and may say where its holes are; a stream (standard
// input, a pipe, a character device) is read once, in order, and holds
// exactly the bytes it was announced to hold. FdInput is the one over a
// file descriptor; tests substitute their own.
// Thread safety: none; one import reads one input.

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "transfer/transfer.h"
#include "vblk/status.h"

namespace vblk::transfer {

class RawInput {
 public:
  RawInput() = default;
  RawInput(const RawInput&) = delete;
  RawInput& operator=(const RawInput&) = delete;
  virtual ~RawInput() = default;

  // How failures name it: as given (RAW, or "-" for standard input).
  virtual const std::string& name() const = 0;
  // How progress and stream messages call it ("standard input" for "-").
  virtual const std::string& shown() const = 0;
  virtual bool stream() const = 0;
  // The disk's bytes: a file's size; for a stream, the bytes it must hold.
  virtual uint64_t size() const = 0;
  // The first offset at or after `offset` that may hold data (the bytes
  // between read as zeros), `offset` itself when that is not known, or
  // nullopt when only a hole remains. A stream: `offset`.
  virtual std::optional<uint64_t> next_data(uint64_t offset) = 0;
  // Reads up to out.size() bytes at `offset` (a stream: its next bytes;
  // `offset` is where they are, for messages). Returns fewer only at the
  // end of the input, or when cancelled. Errors name the input and the
  // offset: "NAME: read at offset N: cause".
  virtual Result<size_t> read(uint64_t offset, std::span<uint8_t> out) = 0;
};

// An input on a file descriptor, which stays the caller's. A file is read
// with pread, holes found with SEEK_DATA where the host filesystem has it.
// A stream is read with read(2) after poll(), which a signal interrupts
// whatever SA_RESTART says, looking at `cancel` at least every 100 ms: a
// stalled writer never makes a cancel wait for it.
class FdInput final : public RawInput {
 public:
  FdInput(int fd, std::string name, bool stream, uint64_t size, Cancel cancel = {});

  const std::string& name() const override { return name_; }
  const std::string& shown() const override { return shown_; }
  bool stream() const override { return stream_; }
  uint64_t size() const override { return size_; }
  std::optional<uint64_t> next_data(uint64_t offset) override;
  Result<size_t> read(uint64_t offset, std::span<uint8_t> out) override;

 private:
  Result<size_t> read_file(uint64_t offset, std::span<uint8_t> out);
  Result<size_t> read_stream(uint64_t offset, std::span<uint8_t> out);
  bool cancelled() const { return cancel_ && cancel_(); }

  int fd_;
  std::string name_;
  std::string shown_;
  bool stream_;
  uint64_t size_;
  Cancel cancel_;
  bool seek_data_;  // SEEK_DATA works here (until it fails otherwise than at the end)
};

}  // namespace vblk::transfer
