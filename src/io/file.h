#pragma once
// File: the host-file interface the image store is written against, so tests
// can substitute an in-memory or crash-simulating file.
// Thread safety: read_at/write_at may run concurrently on disjoint ranges.

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "vblk/status.h"

namespace vblk::io {

class File {
 public:
  File() = default;
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  virtual ~File() = default;

  // Reads up to out.size() bytes at offset; fewer only at end of file.
  virtual Result<size_t> read_at(uint64_t offset, std::span<uint8_t> out) = 0;
  // Reads into the parts back to back from offset, as one read of their
  // concatenation; returns the bytes read, fewer only at end of file. The
  // default reads part by part; a POSIX file uses preadv, so a record's
  // header and payload come in one system call to different buffers.
  virtual Result<size_t> read_parts(uint64_t offset, std::span<const std::span<uint8_t>> parts);
  // Writes all of data at offset, extending the file if needed.
  virtual Status write_at(uint64_t offset, std::span<const uint8_t> data) = 0;
  // Writes the parts back to back at offset, as one write of their
  // concatenation. The default concatenates; a POSIX file uses pwritev, so
  // a record's payload is not copied into a buffer first.
  virtual Status write_parts(uint64_t offset, std::span<const std::span<const uint8_t>> parts);
  // Makes every completed write durable (fdatasync).
  virtual Status sync() = 0;
  // Deallocates [offset, offset+length); reads there then return zeros.
  virtual Status punch_hole(uint64_t offset, uint64_t length) = 0;
  virtual Result<uint64_t> size() = 0;
  // Bytes actually allocated on the host (st_blocks * 512 for POSIX files).
  virtual Result<uint64_t> allocated_bytes() = 0;
  virtual const std::string& name() const = 0;
};

enum class LockMode { kNone, kShared, kExclusive };

// Opens a host file. kExclusive/kShared take an OFD lock on byte 0 without
// waiting; a conflict returns Busy naming the holder's pid when known.
// `name` (default: path) is what the file calls itself in messages: a file
// built under a temporary name is named after the path it will take.
Result<std::unique_ptr<File>> open_posix_file(const std::string& path, bool writable, bool create_new,
                                              LockMode lock, const std::string& name = {});

// Takes the image lock on the file at `path` before it is replaced (renamed
// over, truncated, rewritten): exclusive, or shared when the file cannot be
// opened for writing. Hold the result until the replacement has the name,
// so no process opens the old file in between. Returns nullptr when nothing
// is at `path`; Busy naming the holder ("image is in use by process N
// (vblkfs) (it cannot be replaced while in use)") when a process has it
// open as an image, e.g. a vblkfs mount.
Result<std::unique_ptr<File>> lock_for_replace(const std::string& path);

// The process holding a lock on the file open as fd, or 0 when no holder is
// found (none, or its /proc entries cannot be read).
pid_t lock_holder_pid(int fd);

// Whether some open file description other than fd's holds the lock that
// open_posix_file takes (shared or exclusive): the file is open as an image
// (served, closing, or open in a tool). Unlike lock_holder_pid it needs no
// /proc access, so it answers for another user's process too. False when
// the lock cannot be queried.
bool lock_held(int fd);

}  // namespace vblk::io
