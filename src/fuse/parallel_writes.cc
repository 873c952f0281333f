// Adds FOPEN_PARALLEL_DIRECT_WRITES to OPEN replies. See parallel_writes.h.
#define FUSE_USE_VERSION 312
#include "fuse/parallel_writes.h"

#include <fuse_lowlevel.h>
#include <linux/fuse.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstring>
#include <mutex>
#include <unordered_set>

#ifndef FOPEN_PARALLEL_DIRECT_WRITES
#define FOPEN_PARALLEL_DIRECT_WRITES (1 << 6)  // linux/fuse.h 7.38
#endif

namespace vblk::fuse {

namespace {

// OPEN requests read but not yet answered, by unique id. Opens are rare, so
// one mutex is enough; every other request costs one header check on read
// and one lookup of an (almost always empty) set on reply.
std::mutex open_mu;
std::unordered_set<uint64_t> opens_pending;

ssize_t read_request(int fd, void* buf, size_t len, void*) {
  const ssize_t n = ::read(fd, buf, len);
  // (On failure return at once: libfuse looks at errno.)
  if (n >= static_cast<ssize_t>(sizeof(fuse_in_header))) {
    fuse_in_header in;
    std::memcpy(&in, buf, sizeof in);
    if (in.opcode == FUSE_OPEN) {
      std::lock_guard lock(open_mu);
      opens_pending.insert(in.unique);
    }
  }
  return n;
}

ssize_t write_reply(int fd, iovec* iov, int count, void*) {
  fuse_out_header out;
  std::memcpy(&out, iov[0].iov_base, sizeof out);
  bool open_reply = false;
  if (out.unique != 0) {  // 0: a notification, not a reply
    std::lock_guard lock(open_mu);
    open_reply = opens_pending.erase(out.unique) > 0;
  }
  // libfuse sends an OPEN reply as the header and one fuse_open_out.
  if (!open_reply || out.error != 0 || count != 2 || iov[1].iov_len != sizeof(fuse_open_out))
    return ::writev(fd, iov, count);
  fuse_open_out reply;
  std::memcpy(&reply, iov[1].iov_base, sizeof reply);
  // Parallel writes are a direct-I/O feature: the kernel's cached write
  // path keeps its own locking whatever the bit says.
  if (reply.open_flags & FOPEN_DIRECT_IO) reply.open_flags |= FOPEN_PARALLEL_DIRECT_WRITES;
  iovec tagged[2] = {iov[0], {&reply, sizeof reply}};
  return ::writev(fd, tagged, 2);
}

}  // namespace

bool allow_parallel_direct_writes(fuse_session* se) {
  static const fuse_custom_io io{.writev = write_reply, .read = read_request, .splice_receive = nullptr,
                                 .splice_send = nullptr};
  return fuse_session_custom_io(se, &io, fuse_session_fd(se)) == 0;
}

}  // namespace vblk::fuse
