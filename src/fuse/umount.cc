// vblkfs umount: unmount, then wait for the daemon to let go of the image.
// See run_umount in mount.h.
#include <fcntl.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include "fuse/mount.h"
#include "io/file.h"
#include "util/mountinfo.h"

namespace vblk::fuse {
namespace {

// Runs `fusermount3 -u -- MOUNTPOINT` (argv, no shell: any character may
// be in a path). Returns "" on success, else why it failed.
std::string run_fusermount_unmount(const std::string& mountpoint) {
  std::vector<std::string> args = {"fusermount3", "-u", "--", mountpoint};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (int err = ::posix_spawnp(&pid, "fusermount3", nullptr, nullptr, argv.data(), environ); err != 0)
    return std::string("cannot run it: ") + std::strerror(err);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return std::string("waitpid: ") + std::strerror(errno);
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return "";
  return WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status)) : "killed by a signal";
}

// Unmounts mp: umount2 as root, else fusermount3 (which may unmount what
// this user mounted). Sets *fusermount when that is what did it. Returns
// an exit code; messages on stderr.
int unmount(const std::string& mp, bool* fusermount) {
  if (::umount2(mp.c_str(), 0) == 0) return 0;
  const int err = errno;
  if (err == EBUSY) {
    std::fprintf(stderr,
                 "vblkfs: %s: busy: the disk is still in use (a loop device attached, see `losetup -j %s/*`, "
                 "or a process with it open); nothing was unmounted\n",
                 mp.c_str(), mp.c_str());
    return 1;
  }
  if (err != EPERM) {
    std::fprintf(stderr, "vblkfs: %s: umount: %s\n", mp.c_str(), std::strerror(err));
    return 1;
  }
  if (std::string why = run_fusermount_unmount(mp); !why.empty()) {
    std::fprintf(stderr, "vblkfs: %s: fusermount3 -u: %s\n", mp.c_str(), why.c_str());
    return 1;
  }
  *fusermount = true;
  return 0;
}

}  // namespace

int run_umount(const std::string& mountpoint_in, int timeout_s, UmountReport* report) {
  const auto start = std::chrono::steady_clock::now();
  std::string mp = real_path(mountpoint_in);
  if (mp.empty()) {
    std::fprintf(stderr, "vblkfs: %s: %s\n", mountpoint_in.c_str(), std::strerror(errno));
    return 1;
  }
  auto m = find_mount(mp);
  if (!m || m->fstype != "fuse.vblkfs") {
    std::fprintf(stderr, "vblkfs: %s: not a vblkfs mountpoint\n", mp.c_str());
    return 1;
  }
  const std::string image = m->source;
  bool fusermount = false;
  if (unmount(mp, &fusermount) != 0) return 1;
  auto done = [&] {
    if (report != nullptr)
      *report = {mp, image, fusermount,
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()};
    return 0;
  };
  // The daemon holds a lock on the image until it has flushed and closed it.
  int fd = ::open(image.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return done();  // image gone: nothing left to wait for
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  while (io::lock_held(fd)) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::close(fd);
      std::fprintf(stderr, "vblkfs: %s: unmounted, but the daemon has not released %s after %d s\n", mp.c_str(),
                   image.c_str(), timeout_s);
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::close(fd);
  return done();
}

}  // namespace vblk::fuse
