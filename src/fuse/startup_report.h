#pragma once
// The start-up pipe between `vblkfs mount` and the daemon it forks. The
// daemon writes one line into it: "OK" once the mount is usable, or "ERR "
// and the error. The parent prints the error (or nothing) and exits, so
// `vblkfs mount` returns exactly when the mount is usable, and nothing is
// left mounted when it fails.
#include <sys/types.h>

#include <string>

#include "util/mutex.h"

namespace vblk::fuse {

// The daemon's side. Thread safety: every method may be called from any
// thread; the probe thread and the session's end race to report, and only
// the first outcome counts.
class StartupReport {
 public:
  // fd: the pipe's write end, which the report closes once it has been
  // written; -1 in the foreground, where a failure is printed on stderr
  // ("vblkfs: message") and success says nothing.
  explicit StartupReport(int fd) : fd_(fd) {}
  StartupReport(const StartupReport&) = delete;
  StartupReport& operator=(const StartupReport&) = delete;

  void fail(const std::string& msg) { send("ERR " + msg); }
  // Returns false if a failure was reported first.
  bool ok() { return send("OK"); }
  // Whether ok() came first.
  bool succeeded() EXCLUDES(mu_);

 private:
  bool send(const std::string& msg) EXCLUDES(mu_);

  Mutex mu_;
  int fd_ GUARDED_BY(mu_);
  bool done_ GUARDED_BY(mu_) = false;
  bool succeeded_ GUARDED_BY(mu_) = false;
};

// The parent's side: reads the daemon `pid`'s line from fd (the read end,
// which it closes). Returns 0 on "OK"; otherwise prints why on stderr, the
// daemon's error or, when it wrote none, its exit status, and returns 1.
int await_startup_report(int fd, pid_t pid, const std::string& image);

}  // namespace vblk::fuse
