// nbdkit-vblk-plugin: serves vblk images over NBD through nbdkit. See
// nbdkit-vblk-plugin(1).
//
// Design notes.
//
// One ImageStack (inject/image_stack.h: Driver(FaultDevice(ImageDevice)),
// the image's fault rules applied) per image, opened once and shared by
// every connection to that export. The Driver is fully concurrent and
// flush() makes durable every write acknowledged before it, whichever
// connection sent it: that is exactly what NBD's multi-conn promises, so
// can_multi_conn is true and the thread model is PARALLEL.
//
// Life cycle. config/config_complete only find the images (image= or
// dir=). get_ready, still in the process that nbdkit started, checks that
// no other process holds any of them, so a second server fails at once,
// naming the holder, even before nbdkit daemonizes. The stacks are opened in
// after_fork: the store runs threads, which would not survive nbdkit's
// fork into the background. cleanup (all connections closed, nbdkit
// exiting) flushes, saves the fault rules and closes every image, which
// releases its lock.
//
// Live control. Each image gets the same live::Control as a vblkfs mount
// (statistics, maps, fault commands, scrub), answered on the unix socket
// IMAGE.ctl (live/socket.h), which vblk-inspect and vblk-inject find from
// the image path. It is bound in after_fork, once the stack is open, and
// removed in cleanup before the image is closed. A socket that cannot be
// set up is logged and the image served without it.
//
// Errors. Every callback catches every exception (nothing crosses into
// nbdkit): bad_alloc is ENOMEM, anything else EIO. Status maps to errno in
// one place (Status::to_errno): BadBlock, Corruption and IoError are EIO,
// NoSpace ENOSPC, ReadOnly EROFS. nbdkit itself refuses requests outside
// the export (EINVAL, or ENOSPC for writes) before they reach the plugin.
//
// Block states as NBD block status (extents):
//
//   | state            | reads  | extent flags |
//   |------------------|--------|--------------|
//   | FREE, TRIMMED    | zeros  | HOLE | ZERO  |
//   | USED, stored zero| zeros  | ZERO         |
//   | USED, data       | data   | 0            |
//   | BAD              | EIO    | 0            |
#define NBDKIT_API_VERSION 2
#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL
#include <dirent.h>
#include <fcntl.h>
#include <nbdkit-plugin.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "format/format.h"
#include "inject/image_stack.h"
#include "io/file.h"
#include "live/control.h"
#include "live/socket.h"
#include "vblk_config.h"

namespace vblk::nbd {
namespace {

// One export: an image and, once nbdkit has forked, its stack.
struct Export {
  std::string name;  // the image's file name
  std::string path;  // its real path
  std::unique_ptr<inject::ImageStack> stack;
  std::unique_ptr<live::Control> control;          // over stack
  std::unique_ptr<live::ControlServer> control_server;  // answers for control
};

struct Config {
  std::string image;  // image=
  std::string dir;    // dir=
  bool read_only = false;
  std::vector<Export> exports;  // sorted by name; fixed after config_complete
};
Config config;

// One connection.
struct Handle {
  Export* exp;
  bool read_only;
};

// spdlog messages of the stack (retries, injections, the session summary)
// go where nbdkit's own go: warnings and errors always, the rest with -v.
template <typename Mutex>
class NbdkitSink final : public spdlog::sinks::base_sink<Mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    const std::string text(msg.payload.data(), msg.payload.size());
    if (msg.level >= spdlog::level::err) {
      nbdkit_error("%s", text.c_str());
    } else if (msg.level == spdlog::level::warn) {
      nbdkit_error("warning: %s", text.c_str());
    } else {
      nbdkit_debug("%s", text.c_str());
    }
  }
  void flush_() override {}
};

void setup_logging() {
  auto logger = std::make_shared<spdlog::logger>("vblk", std::make_shared<NbdkitSink<std::mutex>>());
  logger->set_level(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

// Runs a callback body: no exception may cross into nbdkit.
template <typename Fn>
int guarded(const char* op, Fn&& fn) {
  try {
    return fn();
  } catch (const std::bad_alloc&) {
    nbdkit_error("%s: out of memory", op);
    nbdkit_set_error(ENOMEM);
  } catch (const std::exception& e) {
    nbdkit_error("%s: %s", op, e.what());
    nbdkit_set_error(EIO);
  } catch (...) {
    nbdkit_error("%s: unknown exception", op);
    nbdkit_set_error(EIO);
  }
  return -1;
}

// -1 with the error logged and its errno set; 0 for OK.
int report(const Status& s) {
  if (s) return 0;
  nbdkit_error("%s", s.to_string().c_str());
  nbdkit_set_error(s.to_errno());
  return -1;
}

Driver& driver_of(void* h) { return static_cast<Handle*>(h)->exp->stack->driver(); }

// Whether `path` is a regular file that starts with an image's magic.
bool looks_like_image(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  std::array<uint8_t, format::kSuperMagic.size()> magic{};
  const bool yes = ::pread(fd, magic.data(), magic.size(), 0) == static_cast<ssize_t>(magic.size()) &&
                   magic == format::kSuperMagic;
  ::close(fd);
  return yes;
}

std::string base_name(const std::string& path) { return path.substr(path.find_last_of('/') + 1); }

// ---- configuration --------------------------------------------------------

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
    if (k == "readonly") {
      const int r = nbdkit_parse_bool(value);
      if (r < 0) return -1;
      config.read_only = r == 1;
      return 0;
    }
    nbdkit_error("unknown parameter '%s' (expected image=, dir= or readonly=)", key);
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
      if (e->d_name[0] != '.' && looks_like_image(path)) config.exports.push_back(Export{e->d_name, path, nullptr, nullptr, nullptr});
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
  e.control = std::make_unique<live::Control>(e.stack->driver(), e.stack->faults(), e.stack->store(), opts);
  auto server = live::ControlServer::start(e.path, *e.control);
  if (!server) {
    spdlog::error("{}: no live control (vblk-inspect and vblk-inject cannot reach this image while served): {}",
                  e.path, server.status().to_string());
    return;
  }
  e.control_server = std::move(*server);
  spdlog::info("{}: live control on {}", e.path, e.control_server->path());
}

int vblk_after_fork() {
  return guarded("after_fork", [&] {
    setup_logging();
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
      if (e.stack) (void)e.stack->close();  // failures are logged by close
    }
    return 0;
  });
}

void vblk_unload() {
  // Only reached without cleanup when nbdkit never got ready.
  config.exports.clear();
}

// ---- exports --------------------------------------------------------------

int vblk_list_exports(int, int, nbdkit_exports* exports) {
  return guarded("list_exports", [&] {
    for (const Export& e : config.exports)
      if (nbdkit_add_export(exports, e.name.c_str(), e.path.c_str()) == -1) return -1;
    return 0;
  });
}

// The default export (the empty name): the only image; with several (dir=)
// there is none and the client must name one.
const char* vblk_default_export(int, int) {
  return config.exports.size() == 1 ? config.exports.front().name.c_str() : nullptr;
}

void* vblk_open(int readonly) {
  Handle* h = nullptr;
  (void)guarded("open", [&] {
    const std::string name = nbdkit_export_name();
    // image=: every name reaches the one image, as with nbdkit's file plugin.
    Export* found = config.exports.size() == 1 && config.dir.empty() ? &config.exports.front() : nullptr;
    for (Export& e : config.exports)
      if (e.name == name) found = &e;
    if (!found) {
      nbdkit_error("no export '%s' in %s (nbdinfo --list shows them)", name.c_str(), config.dir.c_str());
      nbdkit_set_error(ENOENT);
      return -1;
    }
    h = new Handle{found, readonly != 0 || config.read_only};
    return 0;
  });
  return h;
}

void vblk_close(void* h) { delete static_cast<Handle*>(h); }

const char* vblk_export_description(void* h) { return static_cast<Handle*>(h)->exp->path.c_str(); }

int64_t vblk_get_size(void* h) { return static_cast<int64_t>(driver_of(h).size_bytes()); }

int vblk_block_size(void* h, uint32_t* minimum, uint32_t* preferred, uint32_t* maximum) {
  *minimum = 1;
  *preferred = driver_of(h).block_size();
  *maximum = 0xffffffff;
  return 0;
}

// ---- capabilities ---------------------------------------------------------

int vblk_can_write(void* h) { return static_cast<Handle*>(h)->read_only ? 0 : 1; }
int vblk_yes(void*) { return 1; }
int vblk_no(void*) { return 0; }
int vblk_can_fua(void*) { return NBDKIT_FUA_NATIVE; }
// Emulated: nbdkit reads the range and drops the data, which leaves the
// decompressed blocks in the driver's cache.
int vblk_can_cache(void*) { return NBDKIT_CACHE_EMULATE; }

// ---- data -----------------------------------------------------------------

int refuse_if_read_only(void* h) {
  if (!static_cast<Handle*>(h)->read_only) return 0;
  nbdkit_error("%s is served read-only", static_cast<Handle*>(h)->exp->path.c_str());
  nbdkit_set_error(EROFS);
  return -1;
}

int flush_if_fua(void* h, uint32_t flags) { return flags & NBDKIT_FLAG_FUA ? report(driver_of(h).flush()) : 0; }

int vblk_pread(void* h, void* buf, uint32_t count, uint64_t offset, uint32_t) {
  return guarded("pread", [&] {
    auto* out = static_cast<uint8_t*>(buf);
    for (uint32_t done = 0; done < count;) {
      auto n = driver_of(h).read(offset + done, {out + done, count - done});
      if (!n) return report(n.status());
      if (*n == 0) return report(Status::out_of_range("read beyond the end of the image"));
      done += static_cast<uint32_t>(*n);
    }
    return 0;
  });
}

int vblk_pwrite(void* h, const void* buf, uint32_t count, uint64_t offset, uint32_t flags) {
  return guarded("pwrite", [&] {
    if (refuse_if_read_only(h) != 0) return -1;
    const auto* in = static_cast<const uint8_t*>(buf);
    for (uint32_t done = 0; done < count;) {
      auto n = driver_of(h).write(offset + done, {in + done, count - done});
      if (!n) return report(n.status());
      done += static_cast<uint32_t>(*n);
    }
    return flush_if_fua(h, flags);
  });
}

int vblk_flush(void* h, uint32_t) {
  return guarded("flush", [&] { return report(driver_of(h).flush()); });
}

int vblk_trim(void* h, uint32_t count, uint64_t offset, uint32_t flags) {
  return guarded("trim", [&] {
    if (refuse_if_read_only(h) != 0) return -1;
    if (report(driver_of(h).trim(offset, count)) != 0) return -1;
    return flush_if_fua(h, flags);
  });
}

// Both ways are fast (no data reaches the image), so fast zero is always
// honoured: with MAY_TRIM whole blocks become TRIMMED (edges zero-filled);
// without it zeros are written, which the store keeps as USED blocks
// without payload, so the range stays allocated as NBD asks.
int vblk_zero(void* h, uint32_t count, uint64_t offset, uint32_t flags) {
  return guarded("zero", [&] {
    if (refuse_if_read_only(h) != 0) return -1;
    if (flags & NBDKIT_FLAG_MAY_TRIM) {
      if (report(driver_of(h).trim(offset, count)) != 0) return -1;
      return flush_if_fua(h, flags);
    }
    static const std::vector<uint8_t> zeros(1u << 20);
    for (uint32_t done = 0; done < count;) {
      const uint32_t len = std::min<uint32_t>(count - done, static_cast<uint32_t>(zeros.size()));
      auto n = driver_of(h).write(offset + done, {zeros.data(), len});
      if (!n) return report(n.status());
      done += static_cast<uint32_t>(*n);
    }
    return flush_if_fua(h, flags);
  });
}

// Block status from block states (see the table at the top). Answers for
// at least the first block; nbdkit merges and trims the runs.
int vblk_extents(void* h, uint32_t count, uint64_t offset, uint32_t flags, nbdkit_extents* extents) {
  return guarded("extents", [&] {
    inject::ImageStack& stack = *static_cast<Handle*>(h)->exp->stack;
    Driver& drv = stack.driver();
    const uint64_t bs = drv.block_size();
    const uint64_t first = offset / bs;
    const uint64_t last = (offset + count - 1) / bs;
    struct Run {
      uint64_t first, count;
      BlockState state;
    };
    std::vector<Run> runs;
    Status s = drv.state_runs(first, last - first + 1,
                              [&](uint64_t f, uint64_t n, BlockState st) { runs.push_back(Run{f, n, st}); });
    if (!s) return report(s);
    auto add = [&](uint64_t b, uint64_t n, uint32_t type) {
      return nbdkit_add_extent(extents, b * bs, n * bs, type) == -1 ? -1 : 0;
    };
    for (const Run& r : runs) {
      if (r.state == BlockState::kFree || r.state == BlockState::kTrimmed) {
        if (add(r.first, r.count, NBDKIT_EXTENT_HOLE | NBDKIT_EXTENT_ZERO) != 0) return -1;
      } else if (r.state == BlockState::kBad) {
        if (add(r.first, r.count, 0) != 0) return -1;
      } else {
        // USED: split into stored-zero and data blocks.
        for (uint64_t b = r.first; b < r.first + r.count; ++b) {
          auto zero = stack.store().stored_zero(b);
          if (!zero) return report(zero.status());
          if (add(b, 1, *zero ? NBDKIT_EXTENT_ZERO : 0) != 0) return -1;
        }
      }
      if (flags & NBDKIT_FLAG_REQ_ONE) break;
    }
    return 0;
  });
}

nbdkit_plugin make_plugin() {
  nbdkit_plugin p{};
  p.name = "vblk";
  p.longname = "vblk compressed block images";
  p.version = VBLK_VERSION;
  p.description = "Serves vblk images (one image, or every image in a directory as an export)";
  p.config = vblk_config;
  p.config_complete = vblk_config_complete;
  p.config_help =
      "[image=]IMAGE              The vblk image to serve.\n"
      "dir=DIR                    Serve every vblk image in DIR, one export each.\n"
      "readonly=true              Open the image(s) read-only.";
  p.magic_config_key = "image";
  p.get_ready = vblk_get_ready;
  p.after_fork = vblk_after_fork;
  p.cleanup = vblk_cleanup;
  p.unload = vblk_unload;
  p.list_exports = vblk_list_exports;
  p.default_export = vblk_default_export;
  p.export_description = vblk_export_description;
  p.open = vblk_open;
  p.close = vblk_close;
  p.get_size = vblk_get_size;
  p.block_size = vblk_block_size;
  p.can_write = vblk_can_write;
  p.can_flush = vblk_yes;
  p.is_rotational = vblk_no;
  p.can_trim = vblk_yes;
  p.can_zero = vblk_yes;
  p.can_fast_zero = vblk_yes;
  p.can_fua = vblk_can_fua;
  p.can_multi_conn = vblk_yes;
  p.can_extents = vblk_yes;
  p.can_cache = vblk_can_cache;
  p.pread = vblk_pread;
  p.pwrite = vblk_pwrite;
  p.flush = vblk_flush;
  p.trim = vblk_trim;
  p.zero = vblk_zero;
  p.extents = vblk_extents;
  return p;
}

}  // namespace
}  // namespace vblk::nbd

static nbdkit_plugin plugin = vblk::nbd::make_plugin();
NBDKIT_REGISTER_PLUGIN(plugin)
