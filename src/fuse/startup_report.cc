// Both ends of the start-up pipe. See startup_report.h.
#include "fuse/startup_report.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

namespace vblk::fuse {

bool StartupReport::succeeded() {
  MutexLock lock(mu_);
  return succeeded_;
}

bool StartupReport::send(const std::string& msg) {
  MutexLock lock(mu_);
  if (done_) return false;
  done_ = true;
  succeeded_ = msg == "OK";
  if (fd_ < 0) {
    if (msg != "OK") std::fprintf(stderr, "vblkfs: %s\n", msg.substr(4).c_str());
    return true;
  }
  std::string line = msg + "\n";
  (void)!::write(fd_, line.data(), line.size());
  ::close(fd_);
  fd_ = -1;
  return true;
}

int await_startup_report(int fd, pid_t pid, const std::string& image) {
  std::string reply;
  char buf[512];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0) reply.append(buf, static_cast<size_t>(n));
  ::close(fd);
  if (reply.rfind("OK", 0) == 0) return 0;
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (reply.rfind("ERR ", 0) == 0) {
    while (!reply.empty() && reply.back() == '\n') reply.pop_back();
    std::fprintf(stderr, "vblkfs: %s\n", reply.c_str() + 4);
  } else {
    std::fprintf(stderr, "vblkfs: the daemon for %s exited before the mount was ready (status %d)\n", image.c_str(),
                 status);
  }
  return 1;
}

}  // namespace vblk::fuse
