// MemberBackend: what vblk-inspect shows of the members (member_info) and
// their files' bytes as they are (read_member_file).
#include <algorithm>

#include "store/member_backend.h"

namespace vblk::store {

std::vector<MemberBackend::MemberInfo> MemberBackend::member_info() const {
  MutexLock lock(mu_);
  std::vector<MemberInfo> out;
  for (uint32_t m = 0; m < table_.members.size(); ++m) {
    MemberInfo info;
    info.entry = table_.members[m];
    info.open = files_[m] != nullptr;
    if (info.open) {
      // A member that cannot say its size or bytes shows 0 and zeros: its
      // state (failed, as its reads fail) tells the rest.
      if (auto size = files_[m]->size()) info.bytes = *size;
      (void)files_[m]->read_at(member_data_start_, info.first_bytes);
    }
    out.push_back(std::move(info));
  }
  return out;
}

Result<size_t> MemberBackend::read_member_file(uint32_t m, uint64_t offset, std::span<uint8_t> out) const {
  if (m >= files_.size())
    return Status::invalid_argument(name() + ": no member " + std::to_string(m) + " (the image has " +
                                    std::to_string(files_.size()) + ")");
  MutexLock lock(mu_);
  if (!files_[m])
    return Status::invalid_argument(name() + ": member " + std::to_string(m) + " (" + table_.members[m].name +
                                    ") could not be opened");
  return files_[m]->read_at(offset, out);
}

std::array<uint8_t, format::kLayoutBytes> MemberBackend::layout_record() const {
  MutexLock lock(mu_);
  return table_.layout;
}

}  // namespace vblk::store
