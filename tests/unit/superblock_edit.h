#pragma once
// Rewrites the superblock of a closed image, for tests of images written
// by other versions (features cleared, for instance).
#include <gtest/gtest.h>

#include <array>
#include <functional>
#include <string>

#include "format/format.h"
#include "io/file.h"

namespace vblk::test {

inline ::testing::AssertionResult edit_superblock(const std::string& path,
                                                  const std::function<void(format::Superblock&)>& edit) {
  auto file = io::open_posix_file(path, true, false, io::LockMode::kNone);
  if (!file.is_ok()) return ::testing::AssertionFailure() << file.status().to_string();
  std::array<uint8_t, format::kSuperblockSize> bytes;
  if (Status s = (*file)->read_at(0, bytes).status(); !s) return ::testing::AssertionFailure() << s.to_string();
  auto sb = format::decode_superblock(bytes, path);
  if (!sb.is_ok()) return ::testing::AssertionFailure() << sb.status().to_string();
  edit(*sb);
  format::encode_superblock(*sb, bytes);
  if (Status s = (*file)->write_at(0, bytes); !s) return ::testing::AssertionFailure() << s.to_string();
  return ::testing::AssertionSuccess();
}

}  // namespace vblk::test
