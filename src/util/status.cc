#include "vblk/status.h"

#include <cerrno>
#include <cstring>

namespace vblk {

const char* to_string(Status::Code code) {
  switch (code) {
    case Status::Code::kOk: return "OK";
    case Status::Code::kInvalidArgument: return "invalid argument";
    case Status::Code::kOutOfRange: return "out of range";
    case Status::Code::kNotFound: return "not found";
    case Status::Code::kCorruption: return "corruption";
    case Status::Code::kIoError: return "I/O error";
    case Status::Code::kBadBlock: return "bad block";
    case Status::Code::kNoSpace: return "no space";
    case Status::Code::kBusy: return "busy";
    case Status::Code::kNotSupported: return "not supported";
    case Status::Code::kReadOnly: return "read-only";
    case Status::Code::kPoweredOff: return "powered off";
  }
  return "unknown";
}

Status Status::from_errno(int err, const std::string& what) {
  std::string msg = what + ": " + std::strerror(err);
  switch (err) {
    case ENOSPC:
    case EDQUOT: return no_space(std::move(msg));
    case ENOENT: return not_found(std::move(msg));
    case EROFS: return read_only(std::move(msg));
    default: return io_error(std::move(msg));
  }
}

Status Status::with_prefix(const std::string& prefix) const {
  if (is_ok()) return *this;
  return Status(code_, prefix + ": " + message_);
}

std::string Status::to_string() const {
  if (is_ok()) return "OK";
  return std::string(vblk::to_string(code_)) + ": " + message_;
}

int Status::to_errno() const {
  switch (code_) {
    case Code::kOk: return 0;
    case Code::kInvalidArgument: return EINVAL;
    case Code::kOutOfRange: return EFBIG;
    case Code::kNotFound: return ENOENT;
    case Code::kCorruption:
    case Code::kIoError:
    case Code::kBadBlock:
    case Code::kPoweredOff: return EIO;
    case Code::kNoSpace: return ENOSPC;
    case Code::kBusy: return EBUSY;
    case Code::kNotSupported: return ENOTSUP;
    case Code::kReadOnly: return EROFS;
  }
  return EIO;
}

}  // namespace vblk
