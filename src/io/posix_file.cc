#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <climits>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "io/file.h"

namespace vblk::io {
namespace {

// The iovecs of a preadv/pwritev over parts, advanced past what each call
// moved. Every record read and write comes here: no heap allocation for the
// usual few parts.
class Iovecs {
 public:
  template <typename Byte>
  explicit Iovecs(std::span<const std::span<Byte>> parts) {
    if (parts.size() > std::size(small_)) {
      large_.resize(parts.size());
      iov_ = large_.data();
    }
    for (auto p : parts) {
      if (p.empty()) continue;
      iov_[count_++] = {const_cast<uint8_t*>(p.data()), p.size()};
      total_ += p.size();
    }
  }
  size_t total() const { return total_; }
  const iovec* next() const { return iov_ + first_; }
  int next_count() const { return static_cast<int>(std::min<size_t>(count_ - first_, IOV_MAX)); }
  // Skips n bytes moved: whole iovecs, then part of the next one.
  void skip(size_t n) {
    while (n > 0 && first_ < count_) {
      if (n >= iov_[first_].iov_len) {
        n -= iov_[first_].iov_len;
        ++first_;
      } else {
        iov_[first_].iov_base = static_cast<uint8_t*>(iov_[first_].iov_base) + n;
        iov_[first_].iov_len -= n;
        n = 0;
      }
    }
  }

 private:
  iovec small_[4];
  std::vector<iovec> large_;
  iovec* iov_ = small_;
  size_t count_ = 0, first_ = 0, total_ = 0;
};

class PosixFile final : public File {
 public:
  PosixFile(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}
  ~PosixFile() override { ::close(fd_); }

  Result<size_t> read_at(uint64_t offset, std::span<uint8_t> out) override {
    const std::span<uint8_t> whole[1] = {out};
    return read_parts(offset, whole);
  }

  Result<size_t> read_parts(uint64_t offset, std::span<const std::span<uint8_t>> parts) override {
    Iovecs iov(parts);
    size_t done = 0;
    while (done < iov.total()) {
      ssize_t n = ::preadv(fd_, iov.next(), iov.next_count(), static_cast<off_t>(offset + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return Status::from_errno(errno, name_ + ": read at offset " + std::to_string(offset + done));
      }
      if (n == 0) break;  // end of file
      done += static_cast<size_t>(n);
      iov.skip(static_cast<size_t>(n));
    }
    return done;
  }

  Status write_at(uint64_t offset, std::span<const uint8_t> data) override {
    const std::span<const uint8_t> whole[1] = {data};
    return write_parts(offset, whole);
  }

  Status write_parts(uint64_t offset, std::span<const std::span<const uint8_t>> parts) override {
    Iovecs iov(parts);
    size_t done = 0;
    while (done < iov.total()) {
      ssize_t n = ::pwritev(fd_, iov.next(), iov.next_count(), static_cast<off_t>(offset + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return Status::from_errno(errno, name_ + ": write at offset " + std::to_string(offset + done));
      }
      done += static_cast<size_t>(n);
      iov.skip(static_cast<size_t>(n));
    }
    return Status::ok();
  }

  Status sync() override {
    if (::fdatasync(fd_) != 0) return Status::from_errno(errno, name_ + ": fdatasync");
    return Status::ok();
  }

  Status punch_hole(uint64_t offset, uint64_t length) override {
    if (::fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                    static_cast<off_t>(length)) == 0)
      return Status::ok();
    if (errno == EOPNOTSUPP || errno == ENOSYS) {
      // Host filesystem cannot punch: write zeros so stale records cannot be
      // mistaken for live ones; space is then not returned to the host.
      std::vector<uint8_t> zeros(std::min<uint64_t>(length, 1 << 20));
      for (uint64_t done = 0; done < length;) {
        uint64_t n = std::min<uint64_t>(zeros.size(), length - done);
        VBLK_RETURN_IF_ERROR(write_at(offset + done, {zeros.data(), n}));
        done += n;
      }
      return Status::ok();
    }
    return Status::from_errno(errno, name_ + ": punch hole at offset " + std::to_string(offset));
  }

  Result<uint64_t> size() override {
    struct stat st;
    if (::fstat(fd_, &st) != 0) return Status::from_errno(errno, name_ + ": stat");
    return static_cast<uint64_t>(st.st_size);
  }

  Result<uint64_t> allocated_bytes() override {
    struct stat st;
    if (::fstat(fd_, &st) != 0) return Status::from_errno(errno, name_ + ": stat");
    return static_cast<uint64_t>(st.st_blocks) * 512;
  }

  const std::string& name() const override { return name_; }

 private:
  int fd_;
  std::string name_;
};

// True when a /proc/locks-style line describes a lock (not a waiter) on inode `ino`.
bool lock_line_matches(const std::string& line, ino_t ino, long* pid) {
  std::istringstream in(line);
  std::string id, kind, adv, mode, pid_s, dev;
  if (!(in >> id >> kind)) return false;
  if (kind == "->") return false;  // a waiter, not the holder
  if (!(in >> adv >> mode >> pid_s >> dev)) return false;
  auto last = dev.rfind(':');
  if (last == std::string::npos || std::strtoull(dev.c_str() + last + 1, nullptr, 10) != ino) return false;
  *pid = std::strtol(pid_s.c_str(), nullptr, 10);
  return true;
}

// The pid holding a lock on the file. /proc/locks shows pid -1 for OFD
// locks, so the holder is found through the "lock:" lines of
// /proc/PID/fdinfo. 0 when unknown.
pid_t lock_holder_pid(const struct stat& st) {
  long pid = 0;
  {
    std::ifstream locks("/proc/locks");
    std::string line;
    while (std::getline(locks, line) && !lock_line_matches(line, st.st_ino, &pid)) pid = 0;
  }
  if (pid > 0) return static_cast<pid_t>(pid);
  std::error_code ec;
  for (const auto& proc : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = proc.path().filename();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    std::error_code ec2;
    for (const auto& fdinfo : std::filesystem::directory_iterator(proc.path() / "fdinfo", ec2)) {
      std::ifstream in(fdinfo.path());
      std::string line;
      long ignored;
      while (std::getline(in, line))
        if (line.rfind("lock:", 0) == 0 && lock_line_matches(line.substr(5), st.st_ino, &ignored))
          return static_cast<pid_t>(std::stol(name));
    }
  }
  return 0;
}

// Names the process holding a lock on the file: "process 123 (vblkfs)".
// Empty when unknown.
std::string lock_holder(const struct stat& st) {
  const pid_t pid = lock_holder_pid(st);
  if (pid <= 0) return {};
  std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
  std::string cmd;
  std::getline(comm, cmd);
  return "process " + std::to_string(pid) + (cmd.empty() ? "" : " (" + cmd + ")");
}

// Takes the image lock (vblk(5), LOCKING) on fd without waiting. A conflict
// is Busy naming the holder; `refusal` says what cannot be done meanwhile.
Status lock_file(int fd, const struct stat& st, const std::string& path, LockMode lock, const char* refusal) {
  struct flock fl {};
  fl.l_type = lock == LockMode::kExclusive ? F_WRLCK : F_RDLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = 0;
  fl.l_len = 1;
  if (::fcntl(fd, F_OFD_SETLK, &fl) == 0) return Status::ok();
  int err = errno;
  if (err != EAGAIN && err != EACCES) return Status::from_errno(err, path + ": lock");
  std::string holder = lock_holder(st);
  return Status::busy(path + ": image is in use by " + (holder.empty() ? std::string("another process") : holder) +
                      refusal);
}

struct OpenedFd {
  int fd = -1;
  struct stat st {};
};

// Opens path (refusing a directory) and locks it as `lock` asks. Errors
// name `shown`: the file the user named, when path is a temporary name
// standing in for it.
Result<OpenedFd> open_locked(const std::string& path, const std::string& shown, int flags, LockMode lock,
                             const char* refusal) {
  OpenedFd o;
  o.fd = ::open(path.c_str(), flags | O_CLOEXEC, 0644);
  if (o.fd < 0) {
    int err = errno;
    if (err == EEXIST) return Status::invalid_argument(shown + ": file exists (use --force to overwrite)");
    return Status::from_errno(err, shown);
  }
  Status s;
  if (::fstat(o.fd, &o.st) != 0) {
    s = Status::from_errno(errno, shown + ": stat");
  } else if (S_ISDIR(o.st.st_mode)) {
    s = Status::invalid_argument(shown + ": is a directory, not an image file");
  } else if (lock != LockMode::kNone) {
    s = lock_file(o.fd, o.st, shown, lock, refusal);
  }
  if (!s) {
    ::close(o.fd);
    return s;
  }
  return o;
}

}  // namespace

Result<std::unique_ptr<File>> open_posix_file(const std::string& path, bool writable, bool create_new,
                                              LockMode lock, const std::string& name) {
  int flags = (writable ? O_RDWR : O_RDONLY) | (create_new ? O_CREAT | O_EXCL : 0);
  const char* refusal = lock == LockMode::kExclusive ? " (it cannot have two writers)" : " for writing";
  const std::string& shown = name.empty() ? path : name;
  auto o = open_locked(path, shown, flags, lock, refusal);
  if (!o) return o.status();
  return std::unique_ptr<File>(new PosixFile(o->fd, shown));
}

Result<std::unique_ptr<File>> lock_for_replace(const std::string& path) {
  // The exclusive lock needs a file open for writing; a file we may only
  // read still gets the shared lock, which a writer's lock refuses.
  const bool writable = ::access(path.c_str(), W_OK) == 0;
  auto o = open_locked(path, path, writable ? O_RDWR : O_RDONLY, writable ? LockMode::kExclusive : LockMode::kShared,
                       " (it cannot be replaced while in use)");
  if (!o) {
    if (o.status().code() == Status::Code::kNotFound) return std::unique_ptr<File>();
    return o.status();
  }
  return std::unique_ptr<File>(new PosixFile(o->fd, path));
}

pid_t lock_holder_pid(int fd) {
  struct stat st;
  return ::fstat(fd, &st) == 0 ? lock_holder_pid(st) : 0;
}

bool lock_held(int fd) {
  // A write lock conflicts with both modes, so asking for one finds either.
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_len = 1;
  return ::fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
}

}  // namespace vblk::io
