#include "transfer/raw_input.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>

namespace vblk::transfer {
namespace {

// How often a read waiting on an idle stream looks at the cancel callback.
constexpr int kStreamPollMs = 100;

}  // namespace

FdInput::FdInput(int fd, std::string name, bool stream, uint64_t size, Cancel cancel)
    : fd_(fd),
      name_(std::move(name)),
      shown_(name_ == kStdio ? std::string("standard input") : name_),
      stream_(stream),
      size_(size),
      cancel_(std::move(cancel)),
      seek_data_(!stream) {}

std::optional<uint64_t> FdInput::next_data(uint64_t offset) {
  if (!seek_data_) return offset;
  const off_t data = ::lseek(fd_, static_cast<off_t>(offset), SEEK_DATA);
  if (data < 0 && errno == ENXIO) return std::nullopt;  // only a hole remains
  if (data < 0) {
    seek_data_ = false;  // not supported here: read everything
    return offset;
  }
  return static_cast<uint64_t>(data);
}

Result<size_t> FdInput::read(uint64_t offset, std::span<uint8_t> out) {
  return stream_ ? read_stream(offset, out) : read_file(offset, out);
}

Result<size_t> FdInput::read_file(uint64_t offset, std::span<uint8_t> out) {
  size_t got = 0;
  while (got < out.size()) {
    const ssize_t r = ::pread(fd_, out.data() + got, out.size() - got, static_cast<off_t>(offset + got));
    if (r < 0) {
      if (errno == EINTR && !cancelled()) continue;
      return Status::from_errno(errno, name_ + ": read at offset " + std::to_string(offset + got));
    }
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  return got;
}

Result<size_t> FdInput::read_stream(uint64_t offset, std::span<uint8_t> out) {
  size_t got = 0;
  while (got < out.size() && !cancelled()) {
    pollfd p{fd_, POLLIN, 0};
    const int ready = ::poll(&p, 1, kStreamPollMs);
    if (ready < 0 && errno != EINTR) return Status::from_errno(errno, shown_ + ": poll");
    if (ready <= 0) continue;
    const ssize_t r = ::read(fd_, out.data() + got, out.size() - got);
    if (r < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return Status::from_errno(errno, shown_ + ": read at offset " + std::to_string(offset + got));
    }
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  return got;
}

}  // namespace vblk::transfer
