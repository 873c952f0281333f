#include "io/file.h"

namespace vblk::io {

Status File::write_parts(uint64_t offset, std::span<const std::span<const uint8_t>> parts) {
  std::vector<uint8_t> all;
  for (auto p : parts) all.insert(all.end(), p.begin(), p.end());
  return write_at(offset, all);
}

}  // namespace vblk::io
