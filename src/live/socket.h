#pragma once
// The control socket: the live control interface (live/control.h) of an
// image served by the NBD plugin, which has no file to carry extended
// attributes. It carries exactly what the user.vblk.* attributes carry.
//
// Where: IMAGE.ctl, beside the image, as its rules file IMAGE.faults is.
// A client finds it from the image path alone, with no runtime directory
// to agree on; whoever may serve the image may write its directory (the
// rules file lives there too); and the socket is bound to the image's
// lock holder, which a path under /run keyed by name could not show. A
// path longer than a socket address allows is reached through
// /proc/self/fd/DIR/NAME.
//
// Trust: the server creates the socket with mode 0600 (connect needs write
// permission, so only its user and root get in) and answers only its own
// user and root (SO_PEERCRED, Control's own check). The client trusts a
// socket only if it is a socket, not accessible to group or others, owned
// by the user whose process answers, and that process (SO_PEERCRED) is the
// one holding the image's lock: another user cannot plant a fake server.
//
// Protocol: one request per connection. The client sends
//   "get NAME\n"            (NAME: user.vblk.stats, .map, .map.N, .faults)
//   "set NAME\n" VALUE      (NAME: user.vblk.control; VALUE: a command)
// and shuts down its writing side; the server answers
//   ERRNO "\n" VALUE
// and closes: ERRNO 0 with the value, or Control's errno (EACCES, ENODATA,
// EINVAL, EROFS, ...) with, for set, the reply that explains it.
// Thread safety: ControlServer answers on a thread of its own, one
// connection at a time; Control is thread safe. Client calls are plain
// system calls.

#include <sys/types.h>

#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "live/control.h"
#include "vblk/status.h"

namespace vblk::live {

// IMAGE.ctl.
std::string control_socket_path(const std::string& image);

class ControlServer {
 public:
  // Binds the control socket of `image` (a stale one from a killed server
  // is replaced; a live one is Busy) and starts answering. The caller
  // holds the image's lock.
  static Result<std::unique_ptr<ControlServer>> start(const std::string& image, Control& control);
  ~ControlServer();  // stops answering and removes the socket
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;
  const std::string& path() const { return path_; }

 private:
  ControlServer(std::string path, int listen_fd, int stop_fd, ino_t ino, Control& control);
  void serve();
  void answer(int fd);

  const std::string path_;
  const int listen_fd_;
  const int stop_fd_;  // an eventfd: written to stop the thread
  const ino_t ino_;    // the socket's inode: removed only while it is still ours
  Control& control_;
  std::thread thread_;
};

// Whether `image` is served with a control socket: IMAGE.ctl exists and
// the image is locked by some process (a socket left by a killed server
// beside an image nobody holds does not count).
bool has_control_socket(const std::string& image);

struct ControlReply {
  int err = 0;        // 0, or the server's errno
  std::string value;  // the value, or the reply explaining err
};

// One request to the server of `image`. Errors (the socket fails the
// trust checks above, cannot be reached, or answers garbage) name the
// socket and the cause; EACCES from connect is Status::invalid_argument
// "only the user who serves it, or root, may use it".
Result<ControlReply> control_get(const std::string& image, const std::string& name);
Result<ControlReply> control_set(const std::string& image, const std::string& name, std::string_view value);

}  // namespace vblk::live
