// The control socket of an NBD-served image. See socket.h.
#include "live/socket.h"

#include <fcntl.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <charconv>
#include <cstring>
#include <functional>

#include "io/file.h"

namespace vblk::live {
namespace {

constexpr size_t kMaxRequest = Control::kMaxValue + 256;
constexpr int kTimeoutSeconds = 5;  // a stuck peer cannot hold the other side longer

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

// Runs fn with the socket address of `path`. A path too long for
// sun_path is reached through its directory's /proc/self/fd entry.
int with_address(const std::string& path, const std::function<int(const sockaddr_un&)>& fn) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() < sizeof addr.sun_path) {
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    return fn(addr);
  }
  const size_t slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, std::max<size_t>(slash, 1));
  Fd dfd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (dfd.get() < 0) return -1;
  const std::string via = "/proc/self/fd/" + std::to_string(dfd.get()) + "/" + path.substr(slash + 1);
  if (via.size() >= sizeof addr.sun_path) {
    errno = ENAMETOOLONG;
    return -1;
  }
  std::memcpy(addr.sun_path, via.c_str(), via.size() + 1);
  return fn(addr);
}

int connect_to(int fd, const std::string& path) {
  return with_address(path, [fd](const sockaddr_un& a) {
    return ::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a);
  });
}

void set_timeouts(int fd) {
  timeval tv{kTimeoutSeconds, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Reads until EOF; false on an error, a timeout or more than `max` bytes.
bool read_all(int fd, size_t max, std::string* out) {
  char buf[16384];
  while (true) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) return true;
    out->append(buf, static_cast<size_t>(n));
    if (out->size() > max) return false;
  }
}

// Removes a socket left by a server that was killed (nobody accepts on it).
Status remove_stale(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return Status::ok();
  if (!S_ISSOCK(st.st_mode)) return Status::invalid_argument(path + ": exists and is not a socket; remove it");
  Fd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (connect_to(probe.get(), path) == 0) return Status::busy(path + ": another server answers on this control socket");
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Status::from_errno(errno, path + ": removing a stale socket");
  return Status::ok();
}

Result<ControlReply> parse_reply(const std::string& path, const std::string& text) {
  const size_t nl = text.find('\n');
  int err = -1;
  if (nl != std::string::npos) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + nl, err);
    if (ec != std::errc() || end != text.data() + nl) err = -1;
  }
  if (err < 0) return Status::io_error(path + ": not a vblk control socket (unreadable answer)");
  return ControlReply{err, text.substr(nl + 1)};
}

// The trust checks of socket.h, on the socket file and the connected peer.
Status check_trusted(const std::string& path, const std::string& image, int fd) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return Status::from_errno(errno, path);
  if (!S_ISSOCK(st.st_mode)) return Status::invalid_argument(path + ": not a socket; not trusting it");
  if (st.st_mode & 077) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Status::invalid_argument(path + ": accessible to other users (mode " + mode + "); not trusting it");
  }
  ucred peer{};
  socklen_t len = sizeof peer;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &len) != 0) return Status::from_errno(errno, path + ": SO_PEERCRED");
  if (peer.uid != st.st_uid)
    return Status::invalid_argument(path + ": owned by uid " + std::to_string(st.st_uid) + " but answered by uid " +
                                    std::to_string(peer.uid) + "; not trusting it");
  Fd img(::open(image.c_str(), O_RDONLY | O_CLOEXEC));
  const pid_t holder = img.get() >= 0 ? io::lock_holder_pid(img.get()) : 0;
  if (holder != peer.pid)
    return Status::invalid_argument(path + ": answered by process " + std::to_string(peer.pid) +
                                    ", which does not hold " + image + "; not trusting it");
  return Status::ok();
}

Result<ControlReply> request(const std::string& image, const std::string& message) {
  const std::string path = control_socket_path(image);
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return Status::from_errno(errno, path + ": socket");
  if (connect_to(fd.get(), path) != 0) {
    if (errno == EACCES)
      return Status::invalid_argument(path + ": only the user who serves the image, or root, may use its control socket");
    return Status::from_errno(errno, path + ": connect");
  }
  if (Status st = check_trusted(path, image, fd.get()); !st) return st;
  set_timeouts(fd.get());
  if (!write_all(fd.get(), message) || ::shutdown(fd.get(), SHUT_WR) != 0)
    return Status::from_errno(errno, path + ": sending the request");
  std::string answer;
  if (!read_all(fd.get(), Control::kMaxValue + 64, &answer))
    return Status::io_error(path + ": no complete answer from the server");
  return parse_reply(path, answer);
}

}  // namespace

std::string control_socket_path(const std::string& image) { return image + ".ctl"; }

Result<std::unique_ptr<ControlServer>> ControlServer::start(const std::string& image, Control& control) {
  const std::string path = control_socket_path(image);
  if (Status st = remove_stale(path); !st) return st;
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return Status::from_errno(errno, path + ": socket");
  // Linux creates the socket file with the socket inode's mode (less the
  // umask), so it is 0600 from its first moment; the chmod after bind
  // only repeats it.
  ::fchmod(fd.get(), 0600);
  if (with_address(path, [&](const sockaddr_un& a) {
        return ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&a), sizeof a);
      }) != 0)
    return Status::from_errno(errno, path + ": bind");
  struct stat st {};
  if (::chmod(path.c_str(), 0600) != 0 || ::lstat(path.c_str(), &st) != 0 || ::listen(fd.get(), 16) != 0) {
    const int err = errno;
    ::unlink(path.c_str());
    return Status::from_errno(err, path + ": setting up the control socket");
  }
  Fd stop(::eventfd(0, EFD_CLOEXEC));
  if (stop.get() < 0) {
    ::unlink(path.c_str());
    return Status::from_errno(errno, path + ": eventfd");
  }
  std::unique_ptr<ControlServer> server(new ControlServer(path, fd.release(), stop.release(), st.st_ino, control));
  server->thread_ = std::thread([s = server.get()] { s->serve(); });
  return server;
}

ControlServer::ControlServer(std::string path, int listen_fd, int stop_fd, ino_t ino, Control& control)
    : path_(std::move(path)), listen_fd_(listen_fd), stop_fd_(stop_fd), ino_(ino), control_(control) {}

ControlServer::~ControlServer() {
  const uint64_t one = 1;
  if (::write(stop_fd_, &one, sizeof one) != sizeof one) spdlog::warn("{}: cannot stop the control thread", path_);
  if (thread_.joinable()) thread_.join();
  struct stat st {};
  if (::lstat(path_.c_str(), &st) == 0 && st.st_ino == ino_) ::unlink(path_.c_str());
  ::close(listen_fd_);
  ::close(stop_fd_);
}

void ControlServer::serve() {
  while (true) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      spdlog::error("{}: poll: {}", path_, std::strerror(errno));
      return;
    }
    if (fds[1].revents) return;
    Fd conn(::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC));
    if (conn.get() >= 0) answer(conn.get());
  }
}

void ControlServer::answer(int fd) {
  set_timeouts(fd);
  ucred peer{};
  socklen_t len = sizeof peer;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &len) != 0) return;
  const Caller caller{peer.uid, peer.pid};
  std::string req;
  int err = EINVAL;
  std::string value = "error: malformed request (expected 'get NAME' or 'set NAME' and a value)\n";
  if (read_all(fd, kMaxRequest, &req)) {
    const size_t nl = req.find('\n');
    const std::string head = req.substr(0, nl);
    if (head.rfind("get ", 0) == 0 && nl == std::string::npos) {
      value.clear();
      err = control_.get(caller, head.substr(4), /*probe=*/false, &value);
      if (err != 0) value.clear();
    } else if (head.rfind("set ", 0) == 0 && nl != std::string::npos) {
      const std::string name = head.substr(4);
      err = control_.set(caller, name, std::string_view(req).substr(nl + 1));
      // The reply explains the outcome, success or not (EACCES and ENOTSUP
      // leave none: the errno says it all).
      value.clear();
      if (err != EACCES && err != ENOTSUP) (void)control_.get(caller, name, /*probe=*/false, &value);
    }
  }
  (void)write_all(fd, std::to_string(err) + "\n" + value);
}

bool has_control_socket(const std::string& image) {
  struct stat st {};
  if (::lstat(control_socket_path(image).c_str(), &st) != 0) return false;
  // Asks whether a lock is held rather than who holds it: another user
  // cannot see the holder (/proc/locks shows no pid for OFD locks), yet
  // must learn that the image is served, to be told it may not use it.
  Fd img(::open(image.c_str(), O_RDONLY | O_CLOEXEC));
  if (img.get() < 0) return false;
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_len = 1;
  return ::fcntl(img.get(), F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
}

Result<ControlReply> control_get(const std::string& image, const std::string& name) {
  return request(image, "get " + name);
}

Result<ControlReply> control_set(const std::string& image, const std::string& name, std::string_view value) {
  return request(image, "set " + name + "\n" + std::string(value));
}

}  // namespace vblk::live
