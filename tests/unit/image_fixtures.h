#pragma once
// Images for the store's unit tests: one opened from a path, and a new one
// on a CrashRecorder (io/crash_file.h), for tests that cut or fault the
// host writes of a store: every write, punch and sync the store makes from
// its open on is logged, none before.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "io/crash_file.h"
#include "io/mem_file.h"
#include "store/store_impl.h"
#include "vblk/image_store.h"

namespace vblk::test {

// Opens the image at `path`: a test failure, and null, when it cannot be.
inline std::unique_ptr<ImageStore> open_image(const std::string& path, bool read_only = false) {
  OpenOptions o;
  o.read_only = read_only;
  auto s = ImageStore::open(path, o);
  EXPECT_TRUE(s.is_ok()) << s.status().to_string();
  return s.is_ok() ? std::move(*s) : nullptr;
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
