// vblkfs mount: check the arguments, then fork the daemon and return once
// it says the mount is usable or has failed. See mount.h.
//
// The pieces of a mount's life, one file each:
//   startup_report.h  the pipe on which the daemon says "OK" or why not;
//   closing_daemon.h  waiting for an unmounted daemon still closing the image;
//   serve.h           the daemon: open, mount, serve, flush and close;
//   daemon_log.h      where the daemon logs;
//   umount.cc         vblkfs umount.
// In the foreground (-f) the same moment is told to systemd instead
// (service_notify.h), for a Type=notify unit.
#include "fuse/mount.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include "fuse/closing_daemon.h"
#include "fuse/serve.h"
#include "fuse/startup_report.h"
#include "util/mountinfo.h"
#include "vblk/status.h"

namespace vblk::fuse {

unsigned default_max_threads() { return std::clamp(2 * std::thread::hardware_concurrency(), 4u, 256u); }

std::string refused_fuse_option(const std::vector<std::string>& fuse_options) {
  for (const std::string& opt : fuse_options)
    if (opt.rfind("fsname=", 0) == 0 || opt.rfind("subtype=", 0) == 0)
      return "-o " + opt + ": vblkfs sets fsname and subtype itself (the other tools find its mounts by them)";
  return "";
}

namespace {

Status check_mountpoint(const std::string& mp) {
  struct stat st;
  if (::stat(mp.c_str(), &st) != 0) return Status::from_errno(errno, mp);
  if (!S_ISDIR(st.st_mode)) return Status::invalid_argument(mp + ": mountpoint is not a directory");
  if (auto m = find_mount(mp); m && m->fstype == "fuse.vblkfs")
    return Status::busy(mp + ": already a vblkfs mount (of " + m->source + ")");
  if (::access(mp.c_str(), W_OK) != 0 && ::geteuid() != 0)
    return Status::from_errno(errno, mp + ": mountpoint not writable");
  return Status::ok();
}

// Forks the daemon, which serves in a new session, and waits for its
// start-up report. Returns the exit code.
int start_daemon(const MountOptions& o) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    std::perror("vblkfs: pipe");
    return 1;
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    std::perror("vblkfs: fork");
    return 1;
  }
  if (pid == 0) {
    ::close(fds[0]);
    ::setsid();
    StartupReport report(fds[1]);
    ::_exit(serve(o, report, true));
  }
  ::close(fds[1]);
  return await_startup_report(fds[0], pid, o.image);
}

}  // namespace

int run_mount(const MountOptions& in) {
  // An empty word, as systemd passes an unset ${IMAGE}, would fail realpath
  // with a message that names nothing.
  for (const auto& [value, name] : {std::pair{&in.image, "IMAGE"}, std::pair{&in.mountpoint, "MOUNTPOINT"}}) {
    if (value->empty()) {
      std::fprintf(stderr, "vblkfs: %s is empty\n", name);
      return 2;
    }
  }
  MountOptions o = in;
  o.image = real_path(in.image);
  if (o.image.empty()) {
    std::fprintf(stderr, "vblkfs: %s: %s\n", in.image.c_str(), std::strerror(errno));
    return 1;
  }
  o.mountpoint = real_path(in.mountpoint);
  if (o.mountpoint.empty()) {
    std::fprintf(stderr, "vblkfs: %s: %s\n", in.mountpoint.c_str(), std::strerror(errno));
    return 1;
  }
  if (Status s = check_mountpoint(o.mountpoint); !s) {
    std::fprintf(stderr, "vblkfs: %s\n", s.message().c_str());
    return 1;
  }
  if (o.file_name.empty() || o.file_name.find('/') != std::string::npos || o.file_name == "." || o.file_name == "..") {
    std::fprintf(stderr, "vblkfs: --name %s: not a valid file name\n", o.file_name.c_str());
    return 2;
  }
  // Long enough for a daemon to write back a large dirty cache.
  wait_for_closing_daemon(o.image, std::chrono::seconds(30));
  if (o.foreground) {
    StartupReport report(-1);
    return serve(o, report, false);
  }
  return start_daemon(o);
}

}  // namespace vblk::fuse
