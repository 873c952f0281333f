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
// The callbacks, by job: lifecycle.cc (configuration, opening the images
// after nbdkit forks, their live control sockets, closing them),
// requests.cc (data and block status), this file (exports, connections,
// capabilities).
//
// Errors. Every callback catches every exception (nothing crosses into
// nbdkit, plugin.h: guarded): bad_alloc is ENOMEM, anything else EIO.
// Status maps to errno in one place (Status::to_errno): BadBlock,
// Corruption and IoError are EIO, NoSpace ENOSPC, ReadOnly EROFS.
#include "nbd/plugin.h"

#include "vblk_config.h"

namespace vblk::nbd {

Config config;

namespace {

// ---- exports and connections ----------------------------------------------

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

nbdkit_plugin make_plugin() {
  nbdkit_plugin p{};
  p.name = "vblk";
  p.longname = "vblk compressed block images";
  p.version = VBLK_VERSION;
  p.description = "Serves vblk images (one image, or every image in a directory as an export)";
  add_lifecycle_callbacks(p);
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
  add_request_callbacks(p);
  return p;
}

}  // namespace
}  // namespace vblk::nbd

static nbdkit_plugin plugin = vblk::nbd::make_plugin();
NBDKIT_REGISTER_PLUGIN(plugin)
