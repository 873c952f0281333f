#pragma once
// ImageDevice: the BlockDevice backed by a compressed image (ImageStore).
// Adds nothing but the adaptation; faults are layered on with FaultDevice.
// Its AdminInterface (vblk/admin_interface.h) answers from the store; an
// image has no runtime fault rules (they live in the FaultDevice above):
// it lists none and refuses to add one (NotSupported).
// Thread safety: as ImageStore, fully concurrent.

#include <memory>

#include "vblk/admin_interface.h"
#include "vblk/block_device.h"
#include "vblk/image_store.h"

namespace vblk {

class ImageDevice final : public BlockDevice, public AdminInterface {
 public:
  explicit ImageDevice(std::unique_ptr<ImageStore> store) : store_(std::move(store)) {}
  // Opens `path` with `opts` and wraps it.
  static Result<std::unique_ptr<ImageDevice>> open(const std::string& path, const OpenOptions& opts);

  uint32_t block_size() const override { return store_->block_size(); }
  uint64_t block_count() const override { return store_->block_count(); }
  Status read_blocks(uint64_t first, uint64_t count, std::span<uint8_t> out) override;
  Status write_blocks(uint64_t first, std::span<const uint8_t> data) override;
  Status trim_blocks(uint64_t first, uint64_t count) override;
  Status flush() override { return store_->flush(); }
  DeviceStats stats() override { return store_->stats(); }
  Result<BlockState> state(uint64_t block) override { return store_->state(block); }
  Status state_runs(uint64_t first, uint64_t count, const StateRunFn& fn) override {
    return store_->state_runs(first, count, fn);
  }
  Status set_bad(uint64_t first, uint64_t count, bool bad) override { return store_->set_bad(first, count, bad); }
  ImageStore& store() { return *store_; }

  // AdminInterface (block_count and set_bad above serve both).
  std::vector<std::pair<uint64_t, uint64_t>> bad_ranges() override { return store_->bad_ranges(); }
  Result<BlockLocation> locate(uint64_t block) override { return store_->locate(block); }
  Result<bool> stored_zero(uint64_t block) override { return store_->stored_zero(block); }
  Result<uint64_t> corrupt_block(uint64_t block) override;
  Result<PowerCutReport> power_cut(bool then_power_on) override;
  std::vector<FaultRule> fault_rules() override { return {}; }
  Status add_fault_rule(const FaultRule& rule) override;
  size_t cut_fault_rules(uint64_t, uint64_t, std::optional<FaultKind>) override { return 0; }
  void clear_fault_rules() override {}

 private:
  std::unique_ptr<ImageStore> store_;
};

}  // namespace vblk
