// Adds FOPEN_PARALLEL_DIRECT_WRITES to OPEN replies and
// FUSE_DIRECT_IO_ALLOW_MMAP to the INIT reply. See protocol_hooks.h.
#define FUSE_USE_VERSION 312
#include "fuse/protocol_hooks.h"

#include <fuse_lowlevel.h>
#include <linux/fuse.h>
#include <spdlog/spdlog.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstring>
#include <unordered_set>

#include "util/mutex.h"

#ifndef FOPEN_PARALLEL_DIRECT_WRITES
#define FOPEN_PARALLEL_DIRECT_WRITES (1 << 6)  // linux/fuse.h 7.38
#endif
#ifndef FUSE_DIRECT_IO_ALLOW_MMAP
#define FUSE_DIRECT_IO_ALLOW_MMAP (1ULL << 36)  // linux/fuse.h 7.39
#endif
#ifndef FUSE_INIT_EXT
#define FUSE_INIT_EXT (1 << 30)
#endif

namespace vblk::fuse {

namespace {

// OPEN requests read but not yet answered, by unique id. Opens are rare, so
// one mutex is enough; every other request costs one header check on read
// and one lookup of an (almost always empty) set on reply.
Mutex open_mu;
std::unordered_set<uint64_t> opens_pending GUARDED_BY(open_mu);

// The INIT request, read once before any other: its unique id, and whether
// the kernel offered shared mmap of direct-I/O files.
std::atomic<uint64_t> init_unique{0};
std::atomic<bool> init_offers_mmap{false};
std::atomic<bool> mmap_allowed{false};

void note_init(const void* buf, size_t len) {
  fuse_in_header in;
  std::memcpy(&in, buf, sizeof in);
  fuse_init_in arg{};
  std::memcpy(&arg, static_cast<const char*>(buf) + sizeof in, std::min(sizeof arg, len - sizeof in));
  const uint64_t flags = arg.flags | ((arg.flags & FUSE_INIT_EXT) ? static_cast<uint64_t>(arg.flags2) << 32 : 0);
  init_offers_mmap = (flags & FUSE_DIRECT_IO_ALLOW_MMAP) != 0;
  init_unique = in.unique;
}

// The INIT reply with FUSE_DIRECT_IO_ALLOW_MMAP added, when the kernel
// offered it and the reply has room for flags2.
ssize_t write_init_reply(int fd, iovec* iov, int count) {
  init_unique = 0;
  fuse_out_header out;
  std::memcpy(&out, iov[0].iov_base, sizeof out);
  constexpr size_t kFlags2End = offsetof(fuse_init_out, flags2) + sizeof(uint32_t);
  if (!init_offers_mmap)
    spdlog::info("this kernel does not offer shared mmap of direct-I/O files (Linux 6.6 and later do): "
                 "mmap(MAP_SHARED) of the disk file fails with ENODEV");
  if (!init_offers_mmap || out.error != 0 || count != 2 || iov[1].iov_len < kFlags2End ||
      iov[1].iov_len > sizeof(fuse_init_out))
    return ::writev(fd, iov, count);
  fuse_init_out reply{};
  std::memcpy(&reply, iov[1].iov_base, iov[1].iov_len);
  reply.flags |= FUSE_INIT_EXT;
  reply.flags2 |= static_cast<uint32_t>(FUSE_DIRECT_IO_ALLOW_MMAP >> 32);
  iovec tagged[2] = {iov[0], {&reply, iov[1].iov_len}};
  const ssize_t n = ::writev(fd, tagged, 2);
  if (n >= 0) mmap_allowed = true;
  spdlog::debug("INIT reply: shared mmap of the disk file {}", n >= 0 ? "allowed" : "not set");
  return n;
}

ssize_t read_request(int fd, void* buf, size_t len, void*) {
  const ssize_t n = ::read(fd, buf, len);
  // (On failure return at once: libfuse looks at errno.)
  if (n >= static_cast<ssize_t>(sizeof(fuse_in_header))) {
    fuse_in_header in;
    std::memcpy(&in, buf, sizeof in);
    if (in.opcode == FUSE_INIT) note_init(buf, static_cast<size_t>(n));
    if (in.opcode == FUSE_OPEN) {
      MutexLock lock(open_mu);
      opens_pending.insert(in.unique);
    }
  }
  return n;
}

ssize_t write_reply(int fd, iovec* iov, int count, void*) {
  fuse_out_header out;
  std::memcpy(&out, iov[0].iov_base, sizeof out);
  if (out.unique != 0 && out.unique == init_unique) return write_init_reply(fd, iov, count);
  bool open_reply = false;
  if (out.unique != 0) {  // 0: a notification, not a reply
    MutexLock lock(open_mu);
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

bool install_protocol_hooks(fuse_session* se) {
  static const fuse_custom_io io{.writev = write_reply, .read = read_request, .splice_receive = nullptr,
                                 .splice_send = nullptr};
  return fuse_session_custom_io(se, &io, fuse_session_fd(se)) == 0;
}

bool shared_mmap_allowed() { return mmap_allowed; }

}  // namespace vblk::fuse
