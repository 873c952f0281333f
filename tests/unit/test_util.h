#pragma once
// Helpers shared by the unit tests: temp dirs and deterministic data.
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define VBLK_TEST_HAS_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VBLK_TEST_HAS_LSAN 1
#endif
#endif
#ifndef VBLK_TEST_HAS_LSAN
#define VBLK_TEST_HAS_LSAN 0
#endif
#if VBLK_TEST_HAS_LSAN
#include <sanitizer/lsan_interface.h>
#endif

namespace vblk::test {

// Under AddressSanitizer the tests that sweep many damage or cut points run
// 3-4 times slower; their strides are widened by this factor there, so the
// sanitized run checks memory safety on a third of the points in about the
// time the plain build takes for all of them.
inline constexpr uint64_t kSanitizedSweepThinning = VBLK_TEST_HAS_LSAN ? 3 : 1;

class TempDir {
 public:
  enum class Backing { kHostDefault, kMemory };
  // kMemory puts the directory on /dev/shm (when there is one): for tests
  // that write and sync hundreds of whole image copies, where waiting for
  // the host disk would be most of their time and none of what they test.
  explicit TempDir(Backing backing = Backing::kHostDefault) {
    std::filesystem::path base = std::filesystem::temp_directory_path();
    if (backing == Backing::kMemory && std::filesystem::is_directory("/dev/shm")) base = "/dev/shm";
    std::string tmpl = (base / "vblk-test-XXXXXX").string();
    // A failed mkdtemp returns null, which a string cannot take: say why.
    if (!::mkdtemp(tmpl.data())) throw std::system_error(errno, std::generic_category(), "mkdtemp " + tmpl);
    dir_ = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(dir_); }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }

 private:
  std::string dir_;
};

inline std::vector<uint8_t> random_bytes(size_t n, uint64_t seed) {
  std::vector<uint8_t> v(n);
  std::mt19937_64 rng(seed);
  for (size_t i = 0; i < n; i += 8) {
    uint64_t r = rng();
    for (size_t k = 0; k < 8 && i + k < n; ++k) v[i + k] = static_cast<uint8_t>(r >> (8 * k));
  }
  return v;
}

// Blocks each starting with its index and seed, so misplaced blocks show.
inline std::vector<uint8_t> pattern_blocks(size_t count, uint32_t bs, uint64_t seed) {
  auto v = random_bytes(count * bs, seed);
  for (size_t b = 0; b < count; ++b) {
    uint64_t tag = seed * 1000003 + b;
    for (int k = 0; k < 8; ++k) v[b * bs + k] = static_cast<uint8_t>(tag >> (8 * k));
  }
  return v;
}

// Half random, half a repeated byte: compresses to roughly 50%.
inline std::vector<uint8_t> half_compressible_blocks(size_t count, uint32_t bs, uint64_t seed) {
  auto v = random_bytes(count * bs, seed);
  for (size_t b = 0; b < count; ++b)
    for (size_t i = bs / 2; i < bs; ++i) v[b * bs + i] = static_cast<uint8_t>(seed + b);
  return v;
}

// `period` bytes of words drawn at random, repeated to fill n bytes: with a
// period of 32 KiB, text whose repeats a chained zstd frame finds across
// decode units and independent frames cannot (vblk(5), Compression unit).
inline std::vector<uint8_t> repeated_words(size_t n, size_t period, uint64_t seed) {
  static const char* const words[] = {"block", "device", "the",     "record", "segment", "checkpoint",
                                      "of",    "a",      "cleaner", "writes", "index",   "page"};
  std::mt19937_64 rng(seed);
  std::string unit;
  while (unit.size() < period) {
    unit += words[rng() % 12];
    unit += rng() % 9 ? " " : ".\n";
  }
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(unit[i % period]);
  return v;
}

// A whole file's bytes, and a file made of bytes (images copied and damaged).
inline std::vector<uint8_t> slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}
inline void spit(const std::string& path, const std::vector<uint8_t>& data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

inline bool all_zero(std::span<const uint8_t> s) {
  for (uint8_t c : s)
    if (c) return false;
  return true;
}

// Drops an object without running its destructor, as a crash would; the
// image lock (an OFD lock) is released by closing the descriptors it holds.
template <typename T>
void abandon(std::unique_ptr<T> p) {
  T* leaked = p.release();
#if VBLK_TEST_HAS_LSAN
  __lsan_ignore_object(leaked);  // the leak is the point: a crash frees nothing
#else
  (void)leaked;
#endif
  // Close every descriptor above stdio that refers to a regular file in a
  // vblk test directory: the leaked store's image file.
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    auto target = std::filesystem::read_symlink(e.path(), ec);
    if (!ec && target.string().find("vblk-test-") != std::string::npos)
      ::close(std::atoi(e.path().filename().c_str()));
  }
}

}  // namespace vblk::test
