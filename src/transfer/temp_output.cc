#include "transfer/temp_output.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

namespace vblk::transfer {

TempOutput::~TempOutput() {
  if (fd_ >= 0) ::close(fd_);
  if (!path_.empty()) ::unlink(path_.c_str());
}

Status TempOutput::create(const std::string& out) {
  const size_t slash = out.rfind('/');
  dir_ = slash == std::string::npos ? "." : (slash == 0 ? "/" : out.substr(0, slash));
  const std::string base = slash == std::string::npos ? out : out.substr(slash + 1);
  const std::string templ =
      (slash == std::string::npos ? std::string() : out.substr(0, slash + 1)) + "." + base + ".vblk-export-XXXXXX";
  std::vector<char> name(templ.begin(), templ.end());
  name.push_back('\0');
  fd_ = ::mkstemp(name.data());
  if (fd_ < 0) return Status::from_errno(errno, out + ": cannot create a file in " + dir_);
  path_ = name.data();
  const mode_t mask = ::umask(0);
  ::umask(mask);
  if (::fchmod(fd_, 0666 & ~mask) != 0) return Status::from_errno(errno, out + ": chmod");
  return Status::ok();
}

Status TempOutput::commit(const std::string& out) {
  if (::fdatasync(fd_) != 0) return Status::from_errno(errno, out + ": sync");
  const int closed = ::close(fd_);
  fd_ = -1;
  if (closed != 0) return Status::from_errno(errno, out + ": close");
  if (::rename(path_.c_str(), out.c_str()) != 0) return Status::from_errno(errno, out + ": rename");
  path_.clear();
  const int dfd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
  return Status::ok();
}

}  // namespace vblk::transfer
