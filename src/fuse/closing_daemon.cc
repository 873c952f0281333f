// How a closing daemon is told from a live one. See closing_daemon.h.
#include "fuse/closing_daemon.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <thread>

#include "io/file.h"
#include "util/mountinfo.h"

namespace vblk::fuse {
namespace {

std::string comm_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/comm");
  std::string comm;
  std::getline(in, comm);
  return comm;
}

// A closing daemon is a vblkfs process with no vblkfs mount of the image
// left in its own mount namespace (/proc/PID/mountinfo: right in
// containers too). A daemon still starting up looks the same until it has
// mounted; waiting for it then ends in the usual "in use" error as soon as
// its mount appears.
bool closing_daemon(pid_t pid, const std::string& image) {
  if (pid <= 0 || comm_of(pid) != "vblkfs") return false;
  auto mounts = read_mountinfo("/proc/" + std::to_string(pid) + "/mountinfo");
  if (!mounts) return false;  // cannot tell: treat it as live
  return std::none_of(mounts->begin(), mounts->end(),
                      [&](const MountEntry& m) { return m.fstype == "fuse.vblkfs" && m.source == image; });
}

}  // namespace

void wait_for_closing_daemon(const std::string& image, std::chrono::seconds limit) {
  int fd = ::open(image.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  bool announced = false;
  while (io::lock_held(fd) && std::chrono::steady_clock::now() < deadline) {
    const pid_t holder = io::lock_holder_pid(fd);
    if (!closing_daemon(holder, image)) break;
    if (!announced) {
      std::fprintf(stderr, "vblkfs: %s: waiting up to %lld s for process %d (vblkfs), already unmounted, to close it\n",
                   image.c_str(), static_cast<long long>(limit.count()), static_cast<int>(holder));
      announced = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ::close(fd);
}

}  // namespace vblk::fuse
