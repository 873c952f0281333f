#pragma once
// BlockDevice: block operations only. A device has a fixed block size and
// block count and knows nothing of byte offsets, files or compression.
//
// Contract for every implementation:
//   - `first` and `count` address whole blocks; REQUIRES first + count <=
//     block_count() (violations return OutOfRange, they never crash).
//   - Buffers are exactly count * block_size() bytes (else InvalidArgument).
//   - A request touching a BAD block fails whole with BadBlock and changes
//     nothing; other failures (IoError, NoSpace, Corruption) name the block.
//   - flush() makes every write that returned OK before it durable.
// Thread safety: implementations are safe for concurrent calls from many
// threads; ordering between overlapping concurrent requests is unspecified
// (as on real hardware), but each block reads back whole, never torn.

#include <cstdint>
#include <memory>
#include <span>

#include "vblk/block_state.h"
#include "vblk/block_stats.h"
#include "vblk/status.h"

namespace vblk {

class BlockDevice {
 public:
  BlockDevice() = default;
  BlockDevice(const BlockDevice&) = delete;
  BlockDevice& operator=(const BlockDevice&) = delete;
  virtual ~BlockDevice() = default;

  virtual uint32_t block_size() const = 0;
  virtual uint64_t block_count() const = 0;

  virtual Status read_blocks(uint64_t first, uint64_t count, std::span<uint8_t> out) = 0;
  virtual Status write_blocks(uint64_t first, std::span<const uint8_t> data) = 0;
  // FREE stays FREE, BAD stays BAD, everything else becomes TRIMMED.
  virtual Status trim_blocks(uint64_t first, uint64_t count) = 0;
  virtual Status flush() = 0;
  virtual DeviceStats stats() = 0;
  virtual Result<BlockState> state(uint64_t block) = 0;
  // Enumerates states of [first, first+count) as runs.
  virtual Status state_runs(uint64_t first, uint64_t count, const StateRunFn& fn) = 0;
  // Marks blocks BAD (bad=true) or clears the mark (the block reads zeros,
  // state TRIMMED). Persistent where the device is.
  virtual Status set_bad(uint64_t first, uint64_t count, bool bad) = 0;

  // Single-block conveniences over the range calls.
  Status read_block(uint64_t block, std::span<uint8_t> out) { return read_blocks(block, 1, out); }
  Status write_block(uint64_t block, std::span<const uint8_t> data) { return write_blocks(block, data); }
  Status trim_block(uint64_t block) { return trim_blocks(block, 1); }
};

// Forwards every call to another device, so a decorator overrides only what
// it changes. Owns the wrapped device.
class DeviceWrapper : public BlockDevice {
 public:
  explicit DeviceWrapper(std::unique_ptr<BlockDevice> target) : target_(std::move(target)) {}
  uint32_t block_size() const override { return target_->block_size(); }
  uint64_t block_count() const override { return target_->block_count(); }
  Status read_blocks(uint64_t first, uint64_t count, std::span<uint8_t> out) override {
    return target_->read_blocks(first, count, out);
  }
  Status write_blocks(uint64_t first, std::span<const uint8_t> data) override {
    return target_->write_blocks(first, data);
  }
  Status trim_blocks(uint64_t first, uint64_t count) override { return target_->trim_blocks(first, count); }
  Status flush() override { return target_->flush(); }
  DeviceStats stats() override { return target_->stats(); }
  Result<BlockState> state(uint64_t block) override { return target_->state(block); }
  Status state_runs(uint64_t first, uint64_t count, const StateRunFn& fn) override {
    return target_->state_runs(first, count, fn);
  }
  Status set_bad(uint64_t first, uint64_t count, bool bad) override { return target_->set_bad(first, count, bad); }
  BlockDevice& target() { return *target_; }

 private:
  std::unique_ptr<BlockDevice> target_;
};

// Checks a block range against a device: OutOfRange naming the range, or OK.
Status check_block_range(const BlockDevice& dev, uint64_t first, uint64_t count);

}  // namespace vblk
