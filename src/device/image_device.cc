#include "vblk/image_device.h"

#include <vector>

namespace vblk {

Result<std::unique_ptr<ImageDevice>> ImageDevice::open(const std::string& path, const OpenOptions& opts) {
  auto store = ImageStore::open(path, opts);
  if (!store) return store.status();
  return std::make_unique<ImageDevice>(std::move(*store));
}

Status ImageDevice::read_blocks(uint64_t first, uint64_t count, std::span<uint8_t> out) {
  if (out.size() != count * block_size()) return Status::invalid_argument("read buffer size mismatch");
  return store_->read_blocks(first, count, out);
}

Status ImageDevice::write_blocks(uint64_t first, std::span<const uint8_t> data) {
  if (data.size() % block_size()) return Status::invalid_argument("write buffer is not whole blocks");
  return store_->write_blocks(first, data);
}

Status ImageDevice::trim_blocks(uint64_t first, uint64_t count) { return store_->trim_blocks(first, count); }

Result<uint64_t> ImageDevice::corrupt_block(uint64_t block) {
  // A record may hold a run of blocks; damaging it would break them all.
  // Rewrite the block alone first, so the damage is this block's only.
  auto l = store_->locate(block);
  if (!l) return l.status();
  if (l->record_blocks > 1) {
    std::vector<uint8_t> data(store_->block_size());
    VBLK_RETURN_IF_ERROR(store_->read_blocks(block, 1, data).with_prefix("reading it to store it alone"));
    VBLK_RETURN_IF_ERROR(store_->write_blocks(block, data).with_prefix("storing it alone"));
    l = store_->locate(block);
    if (!l) return l.status();
    if (l->record_offset == 0) return Status::invalid_argument("it holds only zeros, which are not stored");
  }
  VBLK_RETURN_IF_ERROR(store_->corrupt_block(block));
  return l->record_offset;
}

Result<PowerCutReport> ImageDevice::power_cut(bool then_power_on) {
  auto cut = store_->power_cut();
  if (!cut) return cut.status();
  if (then_power_on) VBLK_RETURN_IF_ERROR(store_->power_on());
  return *cut;
}

Status ImageDevice::add_fault_rule(const FaultRule& rule) {
  return Status::not_supported("'" + to_string(rule) + "': an image keeps no runtime fault rules (a FaultDevice does)");
}

}  // namespace vblk
