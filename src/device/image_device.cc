#include "vblk/image_device.h"

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

}  // namespace vblk
