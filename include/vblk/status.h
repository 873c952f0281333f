#pragma once
// Status and Result<T>: how every fallible vblk call reports failure.
//
// Errors are values, not exceptions. A Status is either OK or carries a
// Code and a human-readable message that names the file, offset or block
// involved. Result<T> is a T or a non-OK Status. Both are cheap to move.
// Thread safety: values; no shared state.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace vblk {

class [[nodiscard]] Status {
 public:
  // Fixed numbers: they are printed by tools and mapped to errno in one place
  // (errno_for in status.cc).
  enum class Code : uint8_t {
    kOk = 0,
    kInvalidArgument = 1,  // caller's request is malformed (EINVAL)
    kOutOfRange = 2,       // beyond the end of the device (EFBIG / EINVAL)
    kNotFound = 3,         // missing file (ENOENT)
    kCorruption = 4,       // stored bytes fail validation (EIO)
    kIoError = 5,          // host I/O failed or a simulated transient failure (EIO)
    kBadBlock = 6,         // block is marked BAD (EIO)
    kNoSpace = 7,          // host filesystem full (ENOSPC)
    kBusy = 8,             // image locked by another process (EBUSY)
    kNotSupported = 9,     // unknown version / required feature (ENOTSUP)
    kReadOnly = 10,        // write to a read-only image (EROFS)
    kPoweredOff = 11,      // the device is off after a simulated power cut (EIO)
  };

  Status() = default;
  static Status ok() { return Status(); }
  static Status invalid_argument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
  static Status out_of_range(std::string m) { return {Code::kOutOfRange, std::move(m)}; }
  static Status not_found(std::string m) { return {Code::kNotFound, std::move(m)}; }
  static Status corruption(std::string m) { return {Code::kCorruption, std::move(m)}; }
  static Status io_error(std::string m) { return {Code::kIoError, std::move(m)}; }
  static Status bad_block(std::string m) { return {Code::kBadBlock, std::move(m)}; }
  static Status no_space(std::string m) { return {Code::kNoSpace, std::move(m)}; }
  static Status busy(std::string m) { return {Code::kBusy, std::move(m)}; }
  static Status not_supported(std::string m) { return {Code::kNotSupported, std::move(m)}; }
  static Status read_only(std::string m) { return {Code::kReadOnly, std::move(m)}; }
  static Status powered_off(std::string m) { return {Code::kPoweredOff, std::move(m)}; }
  // Builds a Status from a host errno: ENOSPC/EDQUOT -> kNoSpace,
  // ENOENT -> kNotFound, anything else -> kIoError. `what` names the
  // operation and file; the strerror text is appended.
  static Status from_errno(int err, const std::string& what);

  bool is_ok() const { return code_ == Code::kOk; }
  explicit operator bool() const { return is_ok(); }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  bool is_corruption() const { return code_ == Code::kCorruption; }
  bool is_io_error() const { return code_ == Code::kIoError; }
  bool is_bad_block() const { return code_ == Code::kBadBlock; }
  bool is_out_of_range() const { return code_ == Code::kOutOfRange; }
  bool is_powered_off() const { return code_ == Code::kPoweredOff; }

  // Returns a copy whose message is "<prefix>: <message>".
  Status with_prefix(const std::string& prefix) const;
  // "OK" or "<code name>: <message>".
  std::string to_string() const;
  // The single errno mapping used at the FUSE edge (positive errno; 0 for OK).
  int to_errno() const;

 private:
  Status(Code c, std::string m) : code_(c), message_(std::move(m)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

const char* to_string(Status::Code code);

// A T or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}           // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {}   // NOLINT: implicit by design
  bool is_ok() const { return value_.has_value(); }
  explicit operator bool() const { return is_ok(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() { return *value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace vblk

// Propagates a non-OK Status to the caller.
#define VBLK_RETURN_IF_ERROR(expr)                 \
  do {                                             \
    ::vblk::Status vblk_status_ = (expr);          \
    if (!vblk_status_.is_ok()) return vblk_status_; \
  } while (0)
