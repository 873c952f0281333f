#pragma once
// Two FUSE protocol features libfuse 3.14 has no API for, which vblkfs sets
// itself: it reads and writes /dev/fuse through libfuse's custom I/O hooks,
// notes the unique id of the INIT request and of every OPEN request, and
// adds one bit to the reply to each. Nothing else is changed.
//
// Parallel direct writes (OPEN reply, FOPEN_PARALLEL_DIRECT_WRITES).
// Linux takes the FUSE file's inode lock for the whole of each synchronous
// direct write unless the open reply carries this bit (kernel 6.2 and
// later; older kernels ignore it). It is added when the reply opens the file
// for direct I/O.
// Why it matters: writers that wait for each write (pwrite from several
// threads, QEMU's aio=threads) otherwise reach the daemon one at a time.
// (The figures: bench/README.md, "Figures behind design choices".)
// Asynchronous direct I/O (libaio, a loop device with
// --direct-io=on) was already in flight in parallel: the kernel holds the
// lock only while it submits such a write.
// The driver serializes what must be (read-modify-write of a shared block,
// see driver.cc); writes to different blocks run at the same time.
//
// Shared mmap of a direct-I/O file (INIT reply, FUSE_DIRECT_IO_ALLOW_MMAP).
// The disk file is opened with FOPEN_DIRECT_IO, and without this flag the
// kernel refuses MAP_SHARED mappings of such files (ENODEV). With it
// (kernel 6.6 and later, which offer it in their INIT request; the bit is
// only set when offered) the kernel pages a shared mapping through the page
// cache and keeps read(2)/write(2) coherent with it: a direct read writes
// the dirty pages of its range back first, a direct write drops the cached
// pages of its range. Nothing else is cached: reads and writes, O_DIRECT or
// not (a loop device, QEMU with cache=none), still go straight to the
// daemon.

struct fuse_session;

namespace vblk::fuse {

// Installs the hooks on a mounted session, before its loop starts. One
// session per process (the state is process-wide). False if libfuse refused.
bool install_protocol_hooks(fuse_session* se);

// After INIT: whether the kernel accepted shared mmap of the disk file.
bool shared_mmap_allowed();

}  // namespace vblk::fuse
