#pragma once
// Images for the store's unit tests: one opened from a path, and a new one
// on a CrashRecorder (io/crash_file.h), for tests that cut or fault the
// host writes of a store: every write, punch and sync the store makes from
// its open on is logged, none before. And one of mixed content for the
// tests of what is built over the store (fault injection, block maps).
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "io/crash_file.h"
#include "io/mem_file.h"
#include "store/open.h"
#include "store/store_impl.h"
#include "test_util.h"
#include "vblk/image_store.h"

namespace vblk::test {

// Opens the image at `path`: a test failure, and null, when it cannot be.
inline std::unique_ptr<ImageStore> open_image(const std::string& path, const OpenOptions& o) {
  auto s = ImageStore::open(path, o);
  EXPECT_TRUE(s.is_ok()) << s.status().to_string();
  return s.is_ok() ? std::move(*s) : nullptr;
}
inline std::unique_ptr<ImageStore> open_image(const std::string& path, bool read_only = false) {
  OpenOptions o;
  o.read_only = read_only;
  return open_image(path, o);
}

// Creates an image at `path` of 256 blocks of 4096 bytes: blocks 0-63
// written in one call (one record) with repetitive text, which compresses
// well; 64-95 random bytes, which do not; the rest FREE. A fatal test
// failure when it cannot.
inline void make_text_and_random_image(const std::string& path) {
  constexpr uint32_t kBs = 4096;
  FormatOptions fo;
  fo.capacity_bytes = 256 * kBs;
  fo.segment_size = 1 << 20;
  ASSERT_TRUE(ImageStore::create(path, fo).is_ok());
  auto s = ImageStore::open(path, OpenOptions{});
  ASSERT_TRUE(s.is_ok());
  std::vector<uint8_t> text(64 * kBs);
  for (size_t i = 0; i < text.size(); ++i) text[i] = static_cast<uint8_t>("vblk block map "[i % 15]);
  ASSERT_TRUE((*s)->write_blocks(0, text).is_ok());
  ASSERT_TRUE((*s)->write_blocks(64, random_bytes(32 * kBs, 7)).is_ok());
  ASSERT_TRUE((*s)->close().is_ok());
}

struct RecordedImage {
  std::unique_ptr<io::CrashRecorder> recorder;
  std::unique_ptr<ImageStore> store;  // open on the recorder
};

// Formats an image named `name` with `format` in memory and opens it on a
// recorder with `open`. Errors carry the step that failed.
inline Result<RecordedImage> recorded_image(const std::string& name, const FormatOptions& format,
                                            const OpenOptions& open) {
  auto sb = store::superblock_for(name, format);
  if (!sb) return sb.status();
  io::MemFile base(name);
  VBLK_RETURN_IF_ERROR(store::write_empty_image(base, *sb));
  RecordedImage out;
  out.recorder = std::make_unique<io::CrashRecorder>(base.contents());
  auto opened = store::open_image_file(out.recorder->open(name), open);
  if (!opened) return opened.status();
  out.store = std::move(*opened);
  return out;
}

}  // namespace vblk::test
