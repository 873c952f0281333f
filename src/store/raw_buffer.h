#pragma once
// A byte buffer whose resize() leaves new bytes uninitialized: buffers that
// are about to be filled by a read or by zstd need no zeroing first (on a
// random 4 KiB read, zeroing the record's buffers took 7% of the daemon).
// A class of its own rather than std::vector with a no-op construct():
// below -O2 the vector still ran its per-byte construct loop, which took a
// quarter of the sanitized crash test.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

namespace vblk::store {

class RawBuffer {
 public:
  RawBuffer() = default;
  RawBuffer(RawBuffer&&) noexcept = default;
  RawBuffer& operator=(RawBuffer&&) noexcept = default;

  // Keeps the first min(size(), n) bytes, as std::vector::resize does.
  void resize(size_t n) {
    if (n > capacity_) {
      std::unique_ptr<uint8_t[]> bigger(new uint8_t[n]);  // default-initialized: not zeroed
      if (size_) std::memcpy(bigger.get(), bytes_.get(), size_);
      bytes_ = std::move(bigger);
      capacity_ = n;
    }
    size_ = n;
  }
  // [first, last) is contiguous (pointers or a contiguous container's iterators).
  template <typename It>
  void assign(It first, It last) {
    const uint8_t* from = std::to_address(first);
    resize(static_cast<size_t>(std::to_address(last) - from));
    if (size_) std::memcpy(bytes_.get(), from, size_);
  }

  uint8_t* data() { return bytes_.get(); }
  const uint8_t* data() const { return bytes_.get(); }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  uint8_t* begin() { return data(); }
  uint8_t* end() { return data() + size_; }
  const uint8_t* begin() const { return data(); }
  const uint8_t* end() const { return data() + size_; }

 private:
  std::unique_ptr<uint8_t[]> bytes_;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

}  // namespace vblk::store
