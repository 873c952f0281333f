#pragma once
// What the files of the nbdkit plugin share: the exports it serves, a
// connection's handle, and the error boundary every callback runs behind.
// plugin.cc assembles the callbacks (see its design notes); lifecycle.cc
// and requests.cc add theirs.
//
// Thread safety: `config` is written only by the configuration and life
// cycle callbacks, which nbdkit calls one at a time before any connection
// and after the last; connections only read it.
#define NBDKIT_API_VERSION 2
#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL
#include <nbdkit-plugin.h>

#include <cerrno>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "inject/image_stack.h"
#include "live/control.h"
#include "live/socket.h"
#include "vblk/status.h"

namespace vblk::nbd {

// One export: an image and, once nbdkit has forked, its stack.
struct Export {
  std::string name;  // the image's file name
  std::string path;  // its real path
  std::unique_ptr<inject::ImageStack> stack;
  std::unique_ptr<live::Control> control;               // over stack
  std::unique_ptr<live::ControlServer> control_server;  // answers for control
};

struct Config {
  std::string image;  // image=
  std::string dir;    // dir=
  bool read_only = false;
  bool auto_rebuild = true;  // auto_rebuild=: a member set rebuilds a failed member onto a free spare by itself
  std::vector<Export> exports;  // sorted by name; fixed after config_complete
};
extern Config config;

// One connection.
struct Handle {
  Export* exp;
  bool read_only;
};

inline Driver& driver_of(void* h) { return static_cast<Handle*>(h)->exp->stack->driver(); }

// Runs a callback body: no exception may cross into nbdkit. bad_alloc is
// ENOMEM, anything else EIO, with the error logged.
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
inline int report(const Status& s) {
  if (s) return 0;
  nbdkit_error("%s", s.to_string().c_str());
  nbdkit_set_error(s.to_errno());
  return -1;
}

// Set the callbacks of lifecycle.cc (configuration, start, end) and of
// requests.cc (reads, writes, flush, trim, zero, block status).
void add_lifecycle_callbacks(nbdkit_plugin& p);
void add_request_callbacks(nbdkit_plugin& p);

}  // namespace vblk::nbd
