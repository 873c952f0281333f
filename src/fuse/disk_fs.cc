// FUSE low-level callbacks for the single-file disk. See disk_fs.h.
#define FUSE_USE_VERSION 312
#include "fuse/disk_fs.h"

#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <linux/falloc.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <new>
#include <string>
#include <vector>

#include "live/control.h"

namespace vblk::fuse {

using live::Caller;
using live::Control;
using live::ControlOptions;
namespace {

constexpr fuse_ino_t kRootIno = FUSE_ROOT_ID;
constexpr fuse_ino_t kDiskIno = 2;
// Nothing about the namespace ever changes: let the kernel cache it.
constexpr double kForever = 86400.0 * 365;
constexpr uint32_t kMaxRequest = 1u << 20;

DiskFs& fs_of(fuse_req_t req) { return *static_cast<DiskFs*>(fuse_req_userdata(req)); }

// Runs a callback body; no exception may cross into libfuse.
template <typename Fn>
void guarded(fuse_req_t req, const char* op, Fn&& fn) {
  try {
    fn();
  } catch (const std::bad_alloc&) {
    spdlog::error("{}: out of memory", op);
    fuse_reply_err(req, ENOMEM);
  } catch (const std::exception& e) {
    spdlog::error("{}: {}", op, e.what());
    fuse_reply_err(req, EIO);
  } catch (...) {
    spdlog::error("{}: unknown exception", op);
    fuse_reply_err(req, EIO);
  }
}

struct stat make_attr(DiskFs& fs, fuse_ino_t ino) {
  struct stat st {};
  st.st_ino = ino;
  st.st_uid = fs.options().uid;
  st.st_gid = fs.options().gid;
  st.st_atime = st.st_mtime = st.st_ctime = fs.start_time();
  if (ino == kRootIno) {
    st.st_mode = S_IFDIR | 0755;
    st.st_nlink = 2;
  } else {
    st.st_mode = S_IFREG | (fs.options().read_only ? 0444 : 0644);
    st.st_nlink = 1;
    st.st_size = static_cast<off_t>(fs.driver().size_bytes());
    st.st_blksize = static_cast<blksize_t>(fs.driver().block_size());
    // Allocated size: what the blocks holding data would take uncompressed.
    DeviceStats ds = fs.driver().device_stats();
    st.st_blocks = static_cast<blkcnt_t>((ds.used_blocks + ds.bad_blocks) * fs.driver().block_size() / 512);
  }
  return st;
}

void reply_status(fuse_req_t req, const Status& s) { fuse_reply_err(req, s.to_errno()); }

// Sets plain fields only: nothing here can throw (libfuse calls it from C,
// where an exception would end the process).
void op_init(void* userdata, fuse_conn_info* conn) noexcept {
  DiskFs& fs = *static_cast<DiskFs*>(userdata);
  conn->max_write = kMaxRequest;
  conn->max_readahead = kMaxRequest;
  conn->max_read = fs.options().max_read;
  conn->max_background = 64;
  conn->congestion_threshold = 48;
  // The kernel must not cache writes in front of the daemon: fsync has to
  // reach the image, and a loop device above must not deadlock on us.
  conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
  if (conn->capable & FUSE_CAP_ASYNC_DIO) conn->want |= FUSE_CAP_ASYNC_DIO;
  if (conn->capable & FUSE_CAP_PARALLEL_DIROPS) conn->want |= FUSE_CAP_PARALLEL_DIROPS;
}

void op_lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  guarded(req, "lookup", [&] {
    DiskFs& fs = fs_of(req);
    if (parent != kRootIno || fs.options().file_name != name) return (void)fuse_reply_err(req, ENOENT);
    fuse_entry_param e{};
    e.ino = kDiskIno;
    e.attr = make_attr(fs, kDiskIno);
    e.attr_timeout = 0;  // st_blocks changes as data is written
    e.entry_timeout = kForever;
    fuse_reply_entry(req, &e);
  });
}

void op_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  guarded(req, "getattr", [&] {
    if (ino != kRootIno && ino != kDiskIno) return (void)fuse_reply_err(req, ENOENT);
    struct stat st = make_attr(fs_of(req), ino);
    fuse_reply_attr(req, &st, ino == kRootIno ? kForever : 0);
  });
}

void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set, fuse_file_info*) {
  guarded(req, "setattr", [&] {
    DiskFs& fs = fs_of(req);
    if (ino != kRootIno && ino != kDiskIno) return (void)fuse_reply_err(req, ENOENT);
    if ((to_set & FUSE_SET_ATTR_SIZE) &&
        (ino != kDiskIno || static_cast<uint64_t>(attr->st_size) != fs.driver().size_bytes())) {
      // Truncation and growth are refused: the size changes only by a resize
      // through the control interface (vblk-format --resize MOUNTPOINT).
      spdlog::warn("refusing to change the size of the disk file to {} bytes", attr->st_size);
      return (void)fuse_reply_err(req, EPERM);
    }
    // Mode, owner and times are fixed as well; accept and ignore them so
    // tools that touch the file do not fail.
    struct stat st = make_attr(fs, ino);
    fuse_reply_attr(req, &st, 0);
  });
}

void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info*) {
  guarded(req, "readdir", [&] {
    if (ino != kRootIno) return (void)fuse_reply_err(req, ENOTDIR);
    DiskFs& fs = fs_of(req);
    std::vector<char> buf(size);
    size_t used = 0;
    const char* names[] = {".", "..", fs.options().file_name.c_str()};
    const fuse_ino_t inos[] = {kRootIno, kRootIno, kDiskIno};
    for (off_t i = off; i < 3; ++i) {
      struct stat st {};
      st.st_ino = inos[i];
      st.st_mode = i < 2 ? S_IFDIR : S_IFREG;
      size_t need = fuse_add_direntry(req, buf.data() + used, size - used, names[i], &st, i + 1);
      if (need > size - used) break;
      used += need;
    }
    fuse_reply_buf(req, buf.data(), used);
  });
}

void op_open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  guarded(req, "open", [&] {
    DiskFs& fs = fs_of(req);
    if (ino != kDiskIno) return (void)fuse_reply_err(req, EISDIR);
    if (fs.options().read_only && (fi->flags & O_ACCMODE) != O_RDONLY) return (void)fuse_reply_err(req, EROFS);
    if (fi->flags & O_TRUNC) return (void)fuse_reply_err(req, EPERM);
    fi->direct_io = fs.options().direct_io ? 1 : 0;
    fi->keep_cache = 0;
    fi->nonseekable = 0;
    fuse_reply_open(req, fi);
  });
}

void op_read(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info*) {
  guarded(req, "read", [&] {
    if (off < 0) return (void)fuse_reply_err(req, EINVAL);
    thread_local std::vector<uint8_t> buf;
    buf.resize(size);
    auto n = fs_of(req).driver().read(static_cast<uint64_t>(off), buf);
    if (!n) return reply_status(req, n.status());
    fuse_reply_buf(req, reinterpret_cast<const char*>(buf.data()), *n);
  });
}

void op_write(fuse_req_t req, fuse_ino_t, const char* data, size_t size, off_t off, fuse_file_info*) {
  guarded(req, "write", [&] {
    if (off < 0) return (void)fuse_reply_err(req, EINVAL);
    if (fs_of(req).options().read_only) return (void)fuse_reply_err(req, EROFS);
    auto n = fs_of(req).driver().write(static_cast<uint64_t>(off),
                                       {reinterpret_cast<const uint8_t*>(data), size});
    if (!n) return reply_status(req, n.status());
    fuse_reply_write(req, *n);
  });
}

void op_fsync(fuse_req_t req, fuse_ino_t, int, fuse_file_info*) {
  guarded(req, "fsync", [&] { reply_status(req, fs_of(req).driver().flush()); });
}

void op_flush(fuse_req_t req, fuse_ino_t, fuse_file_info*) {
  // close(2) promises no durability; fsync does.
  fuse_reply_err(req, 0);
}

void op_release(fuse_req_t req, fuse_ino_t, fuse_file_info*) { fuse_reply_err(req, 0); }

void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len, fuse_file_info*) {
  guarded(req, "fallocate", [&] {
    DiskFs& fs = fs_of(req);
    if (ino != kDiskIno) return (void)fuse_reply_err(req, EISDIR);
    if (off < 0 || len <= 0) return (void)fuse_reply_err(req, EINVAL);
    const uint64_t size = fs.driver().size_bytes();
    const uint64_t start = static_cast<uint64_t>(off);
    uint64_t length = static_cast<uint64_t>(len);
    const bool keep_size = mode & FALLOC_FL_KEEP_SIZE;
    mode &= ~FALLOC_FL_KEEP_SIZE;
    if (start > size || length > size - start) {
      if (!keep_size) return (void)fuse_reply_err(req, EFBIG);  // would grow the disk
      length = start >= size ? 0 : size - start;
    }
    if (mode == 0) return (void)fuse_reply_err(req, 0);  // every byte already exists
    if (mode != FALLOC_FL_PUNCH_HOLE && mode != FALLOC_FL_ZERO_RANGE) return (void)fuse_reply_err(req, EOPNOTSUPP);
    if (fs.options().read_only) return (void)fuse_reply_err(req, EROFS);
    if (mode == FALLOC_FL_PUNCH_HOLE && !keep_size) return (void)fuse_reply_err(req, EINVAL);
    // Both read back as zeros: whole blocks are trimmed, edges zero-filled.
    reply_status(req, length ? fs.driver().trim(start, length) : Status::ok());
  });
}

void op_lseek(fuse_req_t req, fuse_ino_t, off_t off, int whence, fuse_file_info*) {
  guarded(req, "lseek", [&] {
    DiskFs& fs = fs_of(req);
    const uint64_t size = fs.driver().size_bytes();
    if (whence != SEEK_DATA && whence != SEEK_HOLE) return (void)fuse_reply_lseek(req, off);
    if (off < 0 || static_cast<uint64_t>(off) >= size) return (void)fuse_reply_err(req, ENXIO);
    // Data = USED or BAD blocks; holes = FREE or TRIMMED (they read zeros).
    auto at = fs.driver().seek(static_cast<uint64_t>(off), whence == SEEK_DATA);
    if (!at) return reply_status(req, at.status());
    if (!*at) return (void)fuse_reply_err(req, ENXIO);
    fuse_reply_lseek(req, static_cast<off_t>(**at));
  });
}

void op_statfs(fuse_req_t req, fuse_ino_t) {
  guarded(req, "statfs", [&] {
    DiskFs& fs = fs_of(req);
    DeviceStats ds = fs.driver().device_stats();
    struct statvfs st {};
    st.f_bsize = fs.driver().block_size();
    st.f_frsize = fs.driver().block_size();
    st.f_blocks = fs.driver().block_count();
    st.f_bfree = ds.free_blocks + ds.trimmed_blocks;
    st.f_bavail = st.f_bfree;
    st.f_files = 2;
    st.f_ffree = 0;
    st.f_namemax = 255;
    fuse_reply_statfs(req, &st);
  });
}

// ---- extended attributes: the live control interface (control.h) --------

Caller caller_of(fuse_req_t req) {
  const fuse_ctx* ctx = fuse_req_ctx(req);
  return Caller{ctx->uid, ctx->pid};
}

// getxattr's protocol: size 0 asks for the length; otherwise the value must
// fit in size bytes (ERANGE if not).
void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
  guarded(req, "getxattr", [&] {
    spdlog::trace("getxattr {} size={}", name, size);
    Control* control = fs_of(req).options().control;
    if (ino != kRootIno && ino != kDiskIno) return (void)fuse_reply_err(req, ENOENT);
    if (control == nullptr) return (void)fuse_reply_err(req, ENODATA);
    std::string value;
    if (int err = control->get(caller_of(req), name, size == 0, &value); err != 0) {
      return (void)fuse_reply_err(req, err);
    }
    if (size == 0) return (void)fuse_reply_xattr(req, value.size());
    if (value.size() > size) return (void)fuse_reply_err(req, ERANGE);
    fuse_reply_buf(req, value.data(), value.size());
  });
}

void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  guarded(req, "listxattr", [&] {
    Control* control = fs_of(req).options().control;
    if (ino != kRootIno && ino != kDiskIno) return (void)fuse_reply_err(req, ENOENT);
    const std::string names = control == nullptr ? std::string() : control->names();
    if (size == 0) return (void)fuse_reply_xattr(req, names.size());
    if (names.size() > size) return (void)fuse_reply_err(req, ERANGE);
    fuse_reply_buf(req, names.data(), names.size());
  });
}

void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char* name, const char* value, size_t size, int) {
  guarded(req, "setxattr", [&] {
    Control* control = fs_of(req).options().control;
    if (ino != kRootIno && ino != kDiskIno) return (void)fuse_reply_err(req, ENOENT);
    if (control == nullptr) return (void)fuse_reply_err(req, ENOTSUP);
    fuse_reply_err(req, control->set(caller_of(req), name, std::string_view(value, size)));
  });
}

void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char*) {
  if (ino != kRootIno && ino != kDiskIno) return (void)fuse_reply_err(req, ENOENT);
  fuse_reply_err(req, ENOTSUP);  // nothing here is removable
}

fuse_lowlevel_ops make_ops() {
  fuse_lowlevel_ops ops{};
  ops.init = op_init;
  ops.lookup = op_lookup;
  ops.getattr = op_getattr;
  ops.setattr = op_setattr;
  ops.readdir = op_readdir;
  ops.open = op_open;
  ops.read = op_read;
  ops.write = op_write;
  ops.fsync = op_fsync;
  ops.flush = op_flush;
  ops.release = op_release;
  ops.fallocate = op_fallocate;
  ops.lseek = op_lseek;
  ops.statfs = op_statfs;
  ops.getxattr = op_getxattr;
  ops.listxattr = op_listxattr;
  ops.setxattr = op_setxattr;
  ops.removexattr = op_removexattr;
  return ops;
}

}  // namespace

DiskFs::DiskFs(Driver& driver, DiskFsOptions opts) : driver_(driver), opts_(std::move(opts)), start_(std::time(nullptr)) {}

void DiskFs::size_changed(uint64_t old_bytes, uint64_t new_bytes) {
  fuse_session* se = session_.load();
  if (se == nullptr) return;
  const off_t from = static_cast<off_t>(std::min(old_bytes, new_bytes));
  const int rc = fuse_lowlevel_notify_inval_inode(se, kDiskIno, from, 0);
  // ENOENT: the kernel has not looked the file up yet, so caches nothing.
  if (rc != 0 && rc != -ENOENT)
    spdlog::warn("telling the kernel that {} is now {} bytes: {}", opts_.file_name, new_bytes, std::strerror(-rc));
}

const fuse_lowlevel_ops& DiskFs::ops() {
  static const fuse_lowlevel_ops ops = make_ops();
  return ops;
}

}  // namespace vblk::fuse
