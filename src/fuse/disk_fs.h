#pragma once
// DiskFs: the FUSE low-level filesystem that exposes one Driver as a single
// regular file in a directory. The only code that includes fuse_lowlevel.h,
// with serve.cc (the session) and the libfuse hooks (protocol_hooks.cc,
// libfuse_log.cc). Every callback catches every exception: nothing crosses
// the C boundary; std::bad_alloc becomes ENOMEM, anything else EIO.
//
//   ino 1: the mountpoint directory, holding exactly one entry
//   ino 2: the disk file, size = device capacity (changed only by a resize
//          through the control interface; truncate and growth are refused)
//
// Both inodes carry the live control interface as extended attributes
// (user.vblk.*, see control.h), when a Control is given.
//
// Errno mapping happens in one place, Status::to_errno (src/util/status.cc),
// and is documented in vblkfs(1).
// Thread safety: callbacks run concurrently on the session's worker threads;
// the Driver and the Control are thread safe and DiskFs holds no other
// mutable state.

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "vblk/driver.h"

struct fuse_lowlevel_ops;
struct fuse_session;

namespace vblk::live {
class Control;
}

namespace vblk::fuse {

using live::Control;

struct DiskFsOptions {
  std::string file_name = "disk";
  bool read_only = false;
  uid_t uid = 0;
  gid_t gid = 0;
  // Open the file with FOPEN_DIRECT_IO: no page cache in front of the
  // daemon, so a loop device stacked on the file cannot deadlock in
  // writeback and every fsync reaches the image. Off only for benchmarks.
  bool direct_io = true;
  // The max_read=N mount option, 0 without one: libfuse refuses the
  // kernel's INIT unless the init callback asks for the same.
  uint32_t max_read = 0;
  // The live control interface; null: no extended attributes.
  Control* control = nullptr;
};

class DiskFs {
 public:
  DiskFs(Driver& driver, DiskFsOptions opts);
  static const fuse_lowlevel_ops& ops();
  Driver& driver() { return driver_; }
  const DiskFsOptions& options() const { return opts_; }
  time_t start_time() const { return start_; }
  // The session the kernel's notifications go to; null before it exists.
  void set_session(fuse_session* se) { session_.store(se); }
  // The disk changed size (a resize): drops the kernel's cached attributes
  // of the disk file and its cached pages past the smaller end, so the next
  // stat (and losetup -c after it) sees the new size. Safe to call from a
  // request handler: the notification takes no lock that one holds.
  void size_changed(uint64_t old_bytes, uint64_t new_bytes);

 private:
  Driver& driver_;
  DiskFsOptions opts_;
  time_t start_;
  std::atomic<fuse_session*> session_{nullptr};
};

}  // namespace vblk::fuse
