#pragma once
// TempOutput: a file built under a temporary name in the directory of the
// file it is to become (".OUT.vblk-export-XXXXXX"), renamed to that name
// only once complete and synced, and removed if it never is: a failed or
// interrupted export leaves nothing under OUT's name, and an OUT being
// replaced stays whole until the rename.
// Thread safety: none.

#include <string>

#include "vblk/status.h"

namespace vblk::transfer {

class TempOutput {
 public:
  TempOutput() = default;
  TempOutput(const TempOutput&) = delete;
  TempOutput& operator=(const TempOutput&) = delete;
  ~TempOutput();  // removes the file unless committed

  // Creates the file beside `out`, mode 0666 less the umask. Errors name
  // `out`: "OUT: cannot create a file in DIR: cause".
  Status create(const std::string& out);
  int fd() const { return fd_; }
  // Syncs the file, renames it to `out` and syncs the directory.
  Status commit(const std::string& out);

 private:
  int fd_ = -1;
  std::string path_;  // empty once renamed
  std::string dir_;
};

}  // namespace vblk::transfer
