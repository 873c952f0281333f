#pragma once
// MemDevice: an in-memory reference BlockDevice.
//
// Blocks live in a sparse map (block -> state and data); a block absent from
// the map is FREE and reads zeros. A block written with all zeros is USED,
// counted in zero_blocks and stores no payload, like the image device. There
// is no compression: stored_bytes is block_size for every non-zero USED
// block, so it is also the reference for compression_ratio == 1. Nothing is
// persistent: flush() only checks that the device is usable. host_file_bytes
// and host_file_size are 0 (there is no host file).
//
// Policy choices the BlockDevice contract leaves open:
//   - trim_blocks over a range that holds BAD blocks succeeds and leaves them
//     BAD ("BAD stays BAD"); read and write of such a range fail whole.
//   - set_bad(..., false) turns BAD blocks TRIMMED and leaves the others alone.
// Thread safety: every method is safe to call concurrently; one mutex
// serializes them, so each block reads back whole.

#include <cstdint>
#include <memory>
#include <span>

#include "vblk/block_device.h"

namespace vblk {

class MemDevice final : public BlockDevice {
 public:
  // REQUIRES: block_size is a power of two in [512, 65536];
  //           block_count * block_size fits in uint64_t.
  MemDevice(uint32_t block_size, uint64_t block_count);
  ~MemDevice() override;

  uint32_t block_size() const override { return block_size_; }
  uint64_t block_count() const override { return block_count_; }

  // OutOfRange for a range beyond the device, InvalidArgument for a buffer
  // that is not count * block_size bytes, BadBlock (naming the first BAD
  // block) when the range touches a BAD block. On failure nothing changes.
  Status read_blocks(uint64_t first, uint64_t count, std::span<uint8_t> out) override;
  // data.size() must be a multiple of block_size (else InvalidArgument).
  Status write_blocks(uint64_t first, std::span<const uint8_t> data) override;
  Status trim_blocks(uint64_t first, uint64_t count) override;
  Status flush() override { return Status::ok(); }
  DeviceStats stats() override;
  Result<BlockState> state(uint64_t block) override;
  // fn is called without the device mutex held, so it may call back in.
  Status state_runs(uint64_t first, uint64_t count, const StateRunFn& fn) override;
  Status set_bad(uint64_t first, uint64_t count, bool bad) override;

 private:
  // The blocks and their counters under the mutex (mem_device.cc, where
  // the thread-safety annotations say what it guards).
  struct Contents;

  Status check_io(uint64_t first, uint64_t count, size_t bytes) const;

  const uint32_t block_size_;
  const uint64_t block_count_;
  const std::unique_ptr<Contents> contents_;
};

}  // namespace vblk
