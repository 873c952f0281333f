// The plugin's configuration and life cycle: which images it serves, and
// opening and closing them.
//
// config/config_complete only find the images (image= or dir=). get_ready,
// still in the process that nbdkit started, checks that no other process
// holds any of them, so a second server fails at once, naming the holder,
// even before nbdkit daemonizes. The stacks are opened in after_fork: the
// store runs threads, which would not survive nbdkit's fork into the
// background. cleanup (all connections closed, nbdkit exiting) flushes,
// saves the fault rules and closes every image, which releases its lock.
//
// Live control. Each image gets the same live::Control as a vblkfs mount
// (statistics, maps, fault commands, scrub), answered on the unix socket
// IMAGE.ctl (live/socket.h), which vblk-inspect and vblk-inject find from
// the image path. It is bound in after_fork, once the stack is open, and
// removed in cleanup before the image is closed. A socket that cannot be
// set up is logged and the image served without it.
#include <dirent.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>

#include "format/format.h"
#include "io/file.h"
#include "nbd/nbdkit_log.h"
#include "nbd/plugin.h"

namespace vblk::nbd {
namespace {

// Whether `path` is a regular file that starts with an image's magic.
bool looks_like_image(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  std::array<uint8_t, format::kSuperMagic.size()> magic{};
  const bool yes =
      ::pread(fd, magic.data(), magic.size(), 0) == static_cast<ssize_t>(magic.size()) && magic == format::kSuperMagic;
  ::close(fd);
  return yes;
}

std::string base_name(const std::string& path) { return path.substr(path.find_last_of('/') + 1); }

int vblk_config(const char* key, const char* value) {
  return guarded("config", [&] {
    const std::string k = key;
    if (k == "image" || k == "dir") {
      std::string& target = k == "image" ? config.image : config.dir;
      if (!config.image.empty() || !config.dir.empty()) {
        nbdkit_error("give one image= or one dir=, not both or twice");
        return -1;
      }
      char* real = nbdkit_realpath(value);  // logs the error itself
      if (!real) return -1;
      target = real;
      std::free(real);
      return 0;
    }
    if (k == "readonly" || k == "auto_rebuild") {
      const int r = nbdkit_parse_bool(value);
      if (r < 0) return -1;
      (k == "readonly" ? config.read_only : config.auto_rebuild) = r == 1;
      return 0;
    }
    nbdkit_error("unknown parameter '%s' (expected image=, dir=, readonly= or auto_rebuild=)", key);
    return -1;
  });
}

int vblk_config_complete() {
  return guarded("config_complete", [&] {
    if (!config.image.empty()) {
      config.exports.push_back(Export{base_name(config.image), config.image, nullptr, nullptr, nullptr});
      return 0;
    }
    if (config.dir.empty()) {
      nbdkit_error("no image: give image=PATH (or just PATH) or dir=DIR");
      return -1;
    }
    DIR* d = ::opendir(config.dir.c_str());
    if (!d) {
      nbdkit_error("%s: %s", config.dir.c_str(), std::strerror(errno));
      return -1;
    }
    while (dirent* e = ::readdir(d)) {
      const std::string path = config.dir + "/" + e->d_name;
      if (e->d_name[0] != '.' && looks_like_image(path))
        config.exports.push_back(Export{e->d_name, path, nullptr, nullptr, nullptr});
    }
    ::closedir(d);
    std::sort(config.exports.begin(), config.exports.end(),
              [](const Export& a, const Export& b) { return a.name < b.name; });
    if (config.exports.empty()) {
      nbdkit_error("%s: no vblk image in this directory", config.dir.c_str());
      return -1;
    }
    return 0;
  });
}

// Fails at once, naming the holder, if another process holds an image: the
// same exclusive lock the open in after_fork takes, taken and let go.
int vblk_get_ready() {
  return guarded("get_ready", [&] {
    for (const Export& e : config.exports) {
      auto lock = io::open_posix_file(e.path, !config.read_only, false,
                                      config.read_only ? io::LockMode::kShared : io::LockMode::kExclusive);
      if (!lock) return report(lock.status());
    }
    return 0;
  });
}

// The live control interface of e, on its socket; a failure is logged and
// the image served without it.
void start_control(Export& e) {
  live::ControlOptions opts;
  opts.image = e.path;
  opts.rules_file = e.stack->rules_file();
  opts.read_only = config.read_only;
  opts.owner = ::geteuid();
  opts.server = "nbdkit";
  opts.auto_rebuild = config.auto_rebuild;
  e.control = std::make_unique<live::Control>(e.stack->driver(), e.stack->admin(), e.stack->store(), opts);
  auto server = live::ControlServer::start(e.path, *e.control);
  if (!server) {
    spdlog::error("{}: no live control (vblk-inspect and vblk-inject cannot reach this image while served): {}", e.path,
                  server.status().to_string());
    return;
  }
  e.control_server = std::move(*server);
  spdlog::info("{}: live control on {}", e.path, e.control_server->path());
}

int vblk_after_fork() {
  return guarded("after_fork", [&] {
    log_to_nbdkit();
    for (Export& e : config.exports) {
      OpenOptions open_opts;
      open_opts.read_only = config.read_only;
      auto stack = inject::ImageStack::open(e.path, open_opts, DriverOptions{});
      if (!stack) return report(stack.status());
      e.stack = std::move(*stack);
      start_control(e);
      spdlog::info("{}: serving as export '{}' ({} bytes{})", e.path, e.name, e.stack->driver().size_bytes(),
                   config.read_only ? ", read-only" : "");
    }
    return 0;
  });
}

void vblk_cleanup() {
  (void)guarded("cleanup", [&] {
    for (Export& e : config.exports) {
      e.control_server.reset();  // no command may arrive while the image closes
      if (e.control) e.control->stop_scrub();
      if (e.control) e.control->stop_rebuild();
      if (e.stack) (void)e.stack->close();  // failures are logged by close
    }
    return 0;
  });
}

void vblk_unload() {
  // Only reached without cleanup when nbdkit never got ready.
  config.exports.clear();
}

}  // namespace

void add_lifecycle_callbacks(nbdkit_plugin& p) {
  p.config = vblk_config;
  p.config_complete = vblk_config_complete;
  p.config_help =
      "[image=]IMAGE              The vblk image to serve.\n"
      "dir=DIR                    Serve every vblk image in DIR, one export each.\n"
      "readonly=true              Open the image(s) read-only.\n"
      "auto_rebuild=false         A member set's failed member waits for vblk-rebuild\n"
      "                           (by default it is rebuilt onto a free spare at once).";
  p.magic_config_key = "image";
  p.get_ready = vblk_get_ready;
  p.after_fork = vblk_after_fork;
  p.cleanup = vblk_cleanup;
  p.unload = vblk_unload;
}

}  // namespace vblk::nbd
