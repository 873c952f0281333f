#include "io/file.h"

namespace vblk::io {

Result<size_t> File::read_parts(uint64_t offset, std::span<const std::span<uint8_t>> parts) {
  size_t done = 0;
  for (auto p : parts) {
    if (p.empty()) continue;  // an empty span may have no buffer at all
    auto n = read_at(offset + done, p);
    if (!n) return n.status();
    done += *n;
    if (*n < p.size()) break;
  }
  return done;
}

Status File::write_parts(uint64_t offset, std::span<const std::span<const uint8_t>> parts) {
  std::vector<uint8_t> all;
  for (auto p : parts) all.insert(all.end(), p.begin(), p.end());
  return write_at(offset, all);
}

}  // namespace vblk::io
