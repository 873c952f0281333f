#pragma once
// Mount lifecycle of vblkfs: daemonize, open the image, mount, serve,
// and on any exit path (unmount, SIGTERM, SIGINT, SIGHUP) flush and close.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vblk::fuse {

// Worker threads by default: twice the CPUs, at least 4. More threads than
// that only contend for the store's lock and the CPUs (the figures: bench/
// README.md, "Figures behind design choices").
unsigned default_max_threads();

// The names --log-level takes.
inline constexpr std::array<std::string_view, 7> kLogLevels = {"trace", "debug", "info", "warn",
                                                               "error", "critical", "off"};

struct MountOptions {
  std::string image;
  std::string mountpoint;
  std::string file_name = "disk";
  bool read_only = false;
  bool foreground = false;
  bool allow_other = false;
  bool direct_io = true;
  uint64_t cache_bytes = 64ull << 20;  // decompressed-block read cache
  bool compress_at_write = false;       // OpenOptions::defer_compression off
  bool auto_rebuild = true;             // a member set rebuilds onto a free spare by itself
  std::string log_level = "info";
  std::string log_file;                 // empty: stderr in the foreground, syslog as a daemon
  bool syslog = false;                  // also log to syslog
  std::vector<std::string> fuse_options;  // extra -o options for the kernel
  unsigned max_threads = default_max_threads();
};

// Runs the daemon. Without `foreground` it returns in the parent as soon as
// the mount is usable (exit code 0) or has failed (message on stderr, 1).
int run_mount(const MountOptions& opts);

// The -o option vblkfs refuses, as "-o OPTION: why", or "" when all are
// accepted: fsname= and subtype=, which vblkfs sets itself (vblkfs umount,
// vblk-inspect and vblk-inject find its mounts by type fuse.vblkfs).
std::string refused_fuse_option(const std::vector<std::string>& fuse_options);

// What run_umount did, for vblkfs umount --json.
struct UmountReport {
  std::string mountpoint;   // its real path
  std::string image;        // the image the mount served
  bool fusermount = false;  // unmounted through fusermount3 -u (not root)
  double seconds = 0;       // from the start until the image was released
};

// Unmounts a vblkfs mountpoint and waits up to timeout_s for the daemon to
// flush and release the image. Returns an exit code; messages on stderr;
// on success fills *report when given.
int run_umount(const std::string& mountpoint, int timeout_s, UmountReport* report = nullptr);

}  // namespace vblk::fuse
