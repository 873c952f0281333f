#include "transfer/raw_output.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace vblk::transfer {

FdOutput::FdOutput(int fd, std::string name, bool sparse, uint64_t base, Cancel cancel)
    : fd_(fd), name_(std::move(name)), sparse_(sparse), base_(base), cancel_(std::move(cancel)) {}

Status FdOutput::write(uint64_t offset, std::span<const uint8_t> data) {
  size_t done = 0;
  while (done < data.size()) {
    if (cancel_ && cancel_()) return Status::io_error(name_ + ": interrupted");
    const ssize_t r =
        sparse_ ? ::pwrite(fd_, data.data() + done, data.size() - done, static_cast<off_t>(base_ + offset + done))
                : ::write(fd_, data.data() + done, data.size() - done);
    if (r < 0) {
      if (errno == EINTR) continue;
      return Status::from_errno(errno, name_ + ": write at offset " + std::to_string(offset + done));
    }
    done += static_cast<size_t>(r);
  }
  return Status::ok();
}

Status FdOutput::finish(uint64_t capacity) {
  if (!sparse_) return Status::ok();
  const uint64_t end = base_ + capacity;
  if (::ftruncate(fd_, static_cast<off_t>(end)) != 0)
    return Status::from_errno(errno, name_ + ": cannot set the size to " + std::to_string(end));
  // Leave a shared file offset (stdout) after the disk, as a stream would.
  if (::lseek(fd_, static_cast<off_t>(end), SEEK_SET) < 0) return Status::from_errno(errno, name_ + ": seek");
  return Status::ok();
}

std::optional<uint64_t> hole_base(int fd) {
  struct stat st {};
  const int flags = ::fcntl(fd, F_GETFL);
  const off_t base = ::lseek(fd, 0, SEEK_CUR);
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || flags < 0 || (flags & O_APPEND) || base < 0 || st.st_size > base)
    return std::nullopt;
  return static_cast<uint64_t>(base);
}

}  // namespace vblk::transfer
