// vblkfs mount lifecycle. See mount.h.
//
// Start-up: the parent forks; the child opens the image, creates the FUSE
// session and mounts, then writes one status line into a pipe: "OK" or the
// error. The parent prints the error (or nothing) and exits, so `vblkfs
// mount` returns exactly when the mount is usable, and nothing is left
// mounted when it fails. In the foreground (-f) the same moment is told to
// systemd instead (service_notify.h), for a Type=notify unit.
//
// "Usable" is decided by a probe thread that stats the disk file through
// the mountpoint: the kernel holds that request until it has libfuse's
// answer to INIT, and libfuse may still refuse INIT after our init
// callback has run (a max_read the callback did not repeat, for one), so
// the callback would be too early to say so.
//
// Device stack: Driver(FaultDevice(ImageDevice)). The FaultDevice starts
// with the rules saved beside the image (IMAGE.faults, see
// inject/rules_file.h) and is driven live through the control interface
// (control.h): extended attributes of the disk file.
//
// Shutdown: the session loop ends on unmount (fusermount3 -u, umount) or on
// SIGTERM/SIGINT/SIGHUP (libfuse's handlers). Then the driver is flushed,
// the fault rules saved and the image closed (a checkpoint), and only then is
// the image lock released: `vblkfs umount` waits for that lock to know the
// daemon is done.
#define FUSE_USE_VERSION 312
#include "fuse/mount.h"

#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <pthread.h>
#include <spawn.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/sinks/syslog_sink.h>
#include <spdlog/spdlog.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <new>
#include <sstream>
#include <thread>

#include "live/control.h"
#include "fuse/disk_fs.h"
#include "fuse/libfuse_log.h"
#include "fuse/protocol_hooks.h"
#include "fuse/service_notify.h"
#include "io/file.h"
#include "util/mountinfo.h"
#include "inject/image_stack.h"
#include "vblk/driver.h"

#ifndef PR_SET_IO_FLUSHER
#define PR_SET_IO_FLUSHER 57
#endif

namespace vblk::fuse {

using live::Caller;
using live::Control;
using live::ControlOptions;

unsigned default_max_threads() {
  return std::clamp(2 * std::thread::hardware_concurrency(), 4u, 256u);
}
namespace {

// The mount at exactly `mountpoint`, if any (the last one stacked there).
std::optional<MountEntry> find_mount(const std::string& mountpoint) {
  std::optional<MountEntry> found;
  for (const MountEntry& m : read_mountinfo().value_or(std::vector<MountEntry>{}))
    if (m.mountpoint == mountpoint) found = m;
  return found;
}

// Whether some process holds the write lock a daemon takes on the image
// (see io/file.h): it is mounted, closing, or open in a tool.
bool image_locked(int fd) {
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_len = 1;
  return ::fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
}

std::string comm_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/comm");
  std::string comm;
  std::getline(in, comm);
  return comm;
}

// A daemon that has been unmounted (umount, fusermount3 -u) still holds the
// image while it flushes and closes it. It is recognised as a vblkfs
// process with no vblkfs mount of the image left in its own mount namespace
// (/proc/PID/mountinfo: right in containers too). A daemon still starting
// up looks the same until it has mounted; waiting for it then ends in the
// usual "in use" error as soon as its mount appears.
bool closing_daemon(pid_t pid, const std::string& image) {
  if (pid <= 0 || comm_of(pid) != "vblkfs") return false;
  auto mounts = read_mountinfo("/proc/" + std::to_string(pid) + "/mountinfo");
  if (!mounts) return false;  // cannot tell: treat it as live
  return std::none_of(mounts->begin(), mounts->end(),
                      [&](const MountEntry& m) { return m.fstype == "fuse.vblkfs" && m.source == image; });
}

// Waits, up to `limit`, while the image is held by a closing daemon (one
// line on stderr says so), so that `umount M && vblkfs mount IMAGE M` does
// not fail on a daemon that is about to let go. Any other holder, or one
// still there after `limit`, is left to the image's open to report.
void wait_for_closing_daemon(const std::string& image, std::chrono::seconds limit) {
  int fd = ::open(image.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  bool announced = false;
  while (image_locked(fd) && std::chrono::steady_clock::now() < deadline) {
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

// Sets the default logger. For a daemon, returns a sink that also copies
// warnings and errors to stderr until it detaches (see detach_stderr): what
// goes wrong while `vblkfs mount` still runs in the terminal is seen there,
// even on a host with no syslog daemon.
spdlog::sink_ptr setup_logging(const MountOptions& o, bool daemon) {
  // Warnings and errors must reach somewhere an operator looks: a daemon
  // without a log file logs to syslog; --syslog adds syslog to any sink.
  std::vector<spdlog::sink_ptr> sinks;
  spdlog::sink_ptr early_stderr;
  if (!o.log_file.empty())
    sinks.push_back(std::make_shared<spdlog::sinks::basic_file_sink_mt>(o.log_file));
  else if (!daemon)
    sinks.push_back(std::make_shared<spdlog::sinks::stderr_sink_mt>());
  if (o.syslog || (daemon && o.log_file.empty()))
    sinks.push_back(std::make_shared<spdlog::sinks::syslog_sink_mt>("vblkfs", LOG_PID, LOG_DAEMON, true));
  if (daemon) {
    early_stderr = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    early_stderr->set_level(spdlog::level::warn);
    early_stderr->set_pattern("vblkfs: %v");
    sinks.push_back(early_stderr);
  }
  auto logger = std::make_shared<spdlog::logger>("vblkfs", sinks.begin(), sinks.end());
  logger->set_level(spdlog::level::from_str(o.log_level));
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  return early_stderr;
}

// Child side of the start-up pipe. Thread safe: the probe thread and the
// session's end race to report, and only the first outcome counts.
class Ready {
 public:
  explicit Ready(int fd) : fd_(fd) {}
  void fail(const std::string& msg) { send("ERR " + msg); }
  // Returns false if a failure was reported first.
  bool ok() { return send("OK"); }
  // Whether ok() came first.
  bool succeeded() {
    std::lock_guard lock(mu_);
    return succeeded_;
  }

 private:
  bool send(const std::string& msg) {
    std::lock_guard lock(mu_);
    if (done_) return false;
    done_ = true;
    succeeded_ = msg == "OK";
    if (fd_ < 0) {
      if (msg != "OK") std::fprintf(stderr, "vblkfs: %s\n", msg.substr(4).c_str());
      return true;
    }
    std::string line = msg + "\n";
    (void)!::write(fd_, line.data(), line.size());
    ::close(fd_);
    fd_ = -1;
    return true;
  }
  std::mutex mu_;
  int fd_;             // guarded by mu_
  bool done_ = false;  // guarded by mu_
  bool succeeded_ = false;  // guarded by mu_
};

// max_read=N among the options for the kernel (the last one counts, as in
// libfuse); 0 without one.
uint32_t max_read_option(const std::vector<std::string>& fuse_options) {
  uint32_t max_read = 0;
  for (const std::string& opt : fuse_options)
    if (opt.rfind("max_read=", 0) == 0) max_read = static_cast<uint32_t>(std::strtoul(opt.c_str() + 9, nullptr, 10));
  return max_read;
}

}  // namespace

std::string refused_fuse_option(const std::vector<std::string>& fuse_options) {
  for (const std::string& opt : fuse_options)
    if (opt.rfind("fsname=", 0) == 0 || opt.rfind("subtype=", 0) == 0)
      return "-o " + opt + ": vblkfs sets fsname and subtype itself (the other tools find its mounts by them)";
  return "";
}

namespace {

// Ends the session loop from another thread the way SIGTERM does (libfuse's
// handler, sent to the thread that runs the loop), but only while the loop
// runs: once it has ended, the handler is removed and SIGTERM would kill
// the daemon before it has closed the image.
class LoopStopper {
 public:
  LoopStopper() : loop_thread_(::pthread_self()) {}
  void stop() {
    std::lock_guard lock(mu_);
    if (running_) ::pthread_kill(loop_thread_, SIGTERM);
  }
  // Called by the loop's thread as soon as the loop has returned.
  void ended() {
    std::lock_guard lock(mu_);
    running_ = false;
  }

 private:
  std::mutex mu_;
  const pthread_t loop_thread_;
  bool running_ = true;  // guarded by mu_
};

// For the probe thread (see the top of the file): whether the disk file can
// be looked up through the new mount; if not, says why through `ready`.
bool disk_answers(const MountOptions& o, Ready& ready) {
  const std::string disk = o.mountpoint + "/" + o.file_name;
  struct stat st;
  if (::stat(disk.c_str(), &st) == 0) return true;
  ready.fail(disk + ": not usable after mounting: " + std::strerror(errno));
  return false;
}

// A daemon, once its mount is usable, has no terminal to write to.
void detach_from_terminal(const spdlog::sink_ptr& early_stderr) {
  early_stderr->set_level(spdlog::level::off);
  int null = ::open("/dev/null", O_RDWR);
  if (null >= 0) {
    ::dup2(null, 0), ::dup2(null, 1), ::dup2(null, 2);
    if (null > 2) ::close(null);
  }
  if (::chdir("/") != 0) spdlog::warn("chdir /: {}", std::strerror(errno));
}

int serve(const MountOptions& o, Ready& ready, bool daemon) {
  // A daemon has told whoever waits by returning; only a foreground vblkfs
  // is the process a service manager watches.
  ServiceNotifier notifier(!daemon);
  spdlog::sink_ptr early_stderr;
  try {
    early_stderr = setup_logging(o, daemon);
  } catch (const std::exception& e) {
    ready.fail((o.log_file.empty() ? std::string("logging") : o.log_file) + ": " + e.what());
    return 1;
  }
  // Writeback of a loop device stacked on our file waits for us: we must be
  // allowed to allocate and do I/O under memory pressure (libfuse#56).
  // Warned about once mounted, so a mount that fails says only why.
  const int io_flusher_err = ::prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0) == 0 ? 0 : errno;

  notifier.status("opening " + o.image);
  OpenOptions open_opts;
  open_opts.read_only = o.read_only;
  open_opts.defer_compression = !o.compress_at_write;
  DriverOptions dopts;
  dopts.cache_bytes = o.cache_bytes;
  auto stack = inject::ImageStack::open(o.image, open_opts, dopts);
  if (!stack) {
    ready.fail(stack.status().message());
    return 1;
  }
  Driver& driver = (*stack)->driver();
  ControlOptions copts;
  copts.image = o.image;
  copts.mountpoint = o.mountpoint;
  copts.rules_file = (*stack)->rules_file();
  copts.read_only = o.read_only;
  copts.owner = ::getuid();
  DiskFs* disk_fs = nullptr;  // set once it exists, before any request can come
  copts.on_resized = [&disk_fs](uint64_t old_bytes, uint64_t new_bytes) {
    if (disk_fs) disk_fs->size_changed(old_bytes, new_bytes);
  };
  Control control(driver, (*stack)->faults(), (*stack)->store(), copts);
  DiskFsOptions fopts;
  fopts.file_name = o.file_name;
  fopts.read_only = o.read_only;
  fopts.uid = ::getuid();
  fopts.gid = ::getgid();
  fopts.direct_io = o.direct_io;
  fopts.control = &control;
  fopts.max_read = max_read_option(o.fuse_options);
  DiskFs fs(driver, fopts);
  disk_fs = &fs;

  // Each item escaped: a comma or backslash in the image's path would
  // otherwise split fsname= in two.
  std::vector<std::string> items = {"fsname=" + o.image, "subtype=vblkfs", "default_permissions"};
  if (o.allow_other) items.push_back("allow_other");
  if (o.read_only) items.push_back("ro");
  items.insert(items.end(), o.fuse_options.begin(), o.fuse_options.end());
  char* list = nullptr;
  for (const std::string& item : items) {
    if (fuse_opt_add_opt_escaped(&list, item.c_str()) != 0) {
      std::free(list);
      throw std::bad_alloc();
    }
  }
  std::vector<std::string> argv_s = {"vblkfs", "-o", list};
  std::free(list);
  std::vector<char*> argv;
  for (auto& s : argv_s) argv.push_back(s.data());
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
  route_libfuse_messages();
  take_libfuse_message();
  fuse_session* se = fuse_session_new(&args, &DiskFs::ops(), sizeof(fuse_lowlevel_ops), &fs);
  if (!se) {
    ready.fail(with_libfuse_cause(o.mountpoint + ": cannot start a FUSE session", "bad -o option?"));
    (void)(*stack)->close(/*log_summary=*/false);
    return 1;
  }
  fs.set_session(se);
  int rc = 1;
  std::thread probe;
  LoopStopper loop_stopper;
  // Logged once the mount is usable, so that a mount that fails says only why.
  std::vector<std::string> warnings;
  if (io_flusher_err != 0)
    warnings.push_back(fmt::format("prctl(PR_SET_IO_FLUSHER): {} (a loop device stacked on the disk may stall under "
                                   "memory pressure)", std::strerror(io_flusher_err)));
  if (fuse_set_signal_handlers(se) != 0) {
    ready.fail("cannot install signal handlers");
  } else {
    if (fuse_session_mount(se, o.mountpoint.c_str()) != 0) {
      ready.fail(with_libfuse_cause(o.mountpoint + ": mount failed",
                                    "is /dev/fuse available, and the mountpoint an empty directory?"));
    } else {
      // Without them, waiting writers reach the daemon one at a time and
      // shared mmap of the disk file fails.
      if (!install_protocol_hooks(se))
        warnings.push_back(o.mountpoint + ": libfuse refused the I/O hooks: synchronous writes will be served one "
                                          "at a time, mmap(MAP_SHARED) fails");
      fuse_loop_config* cfg = fuse_loop_cfg_create();
      fuse_loop_cfg_set_clone_fd(cfg, 1);
      fuse_loop_cfg_set_max_threads(cfg, o.max_threads);
      // Reports the mount usable, or fails it and ends it: nothing stays
      // mounted after a failure has been reported.
      probe = std::thread([&] {
        try {
          if (!disk_answers(o, ready)) return loop_stopper.stop();
          for (const std::string& w : warnings) spdlog::warn("{}", w);
          libfuse_messages_now_warnings();
          if (daemon) detach_from_terminal(early_stderr);
          if (!ready.ok()) return;
          spdlog::info("{} mounted on {}/{} ({} bytes{})", o.image, o.mountpoint, o.file_name, driver.size_bytes(),
                       o.read_only ? ", read-only" : "");
          notifier.ready("serving " + o.image + " at " + o.mountpoint);
        } catch (const std::exception& e) {
          ready.fail(o.mountpoint + ": " + e.what());
          loop_stopper.stop();
        }
      });
      // libfuse reports the signal that ended the loop; SIGTERM, SIGINT and
      // SIGHUP are requests to unmount, not failures. A mount that never
      // became usable failed, however it ended.
      int loop = fuse_session_loop_mt(se, cfg);
      loop_stopper.ended();
      rc = loop == 0 || loop == SIGTERM || loop == SIGINT || loop == SIGHUP ? 0 : 1;
      fuse_loop_cfg_destroy(cfg);
      ready.fail(o.mountpoint + ": the kernel did not complete FUSE initialisation");
      if (!ready.succeeded()) rc = 1;
      notifier.stopping("flushing and closing " + o.image);
      fuse_session_unmount(se);
    }
    fuse_remove_signal_handlers(se);
  }
  fs.set_session(nullptr);
  fuse_session_destroy(se);
  // Closing the session's /dev/fuse descriptors ends a probe still waiting
  // on the kernel.
  if (probe.joinable()) probe.join();
  fuse_opt_free_args(&args);
  control.stop_scrub();  // it reads the image, which is closed below
  // Everything acknowledged so far becomes durable, then the image closes
  // (with the fault rules saved).
  // A mount that never became usable has said why in one line: no summary.
  const bool served = ready.succeeded();
  if (Status c = (*stack)->close(served); !c) rc = 1;
  if (served) spdlog::info("{} unmounted from {}{}", o.image, o.mountpoint, rc == 0 ? "" : " with errors");
  spdlog::shutdown();
  return rc;
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
    Ready ready(-1);
    return serve(o, ready, false);
  }
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
    Ready ready(fds[1]);
    ::_exit(serve(o, ready, true));
  }
  ::close(fds[1]);
  std::string reply;
  char buf[512];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0) reply.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  if (reply.rfind("OK", 0) == 0) return 0;
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (reply.rfind("ERR ", 0) == 0) {
    while (!reply.empty() && reply.back() == '\n') reply.pop_back();
    std::fprintf(stderr, "vblkfs: %s\n", reply.c_str() + 4);
  } else {
    std::fprintf(stderr, "vblkfs: the daemon for %s exited before the mount was ready (status %d)\n",
                 o.image.c_str(), status);
  }
  return 1;
}

// Runs `fusermount3 -u -- MOUNTPOINT` (argv, no shell: any character may
// be in a path). Returns "" on success, else why it failed.
static std::string run_fusermount_unmount(const std::string& mountpoint) {
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
  auto done = [&] {
    if (report != nullptr)
      *report = {mp, image, fusermount,
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()};
    return 0;
  };
  if (::umount2(mp.c_str(), 0) != 0) {
    int err = errno;
    if (err == EBUSY) {
      std::fprintf(stderr,
                   "vblkfs: %s: busy: the disk is still in use (a loop device attached, see `losetup -j %s/*`, "
                   "or a process with it open); nothing was unmounted\n",
                   mp.c_str(), mp.c_str());
      return 1;
    }
    if (err == EPERM) {
      // Not root: the setuid helper may unmount what this user mounted.
      if (std::string why = run_fusermount_unmount(mp); !why.empty()) {
        std::fprintf(stderr, "vblkfs: %s: fusermount3 -u: %s\n", mp.c_str(), why.c_str());
        return 1;
      }
      fusermount = true;
    } else {
      std::fprintf(stderr, "vblkfs: %s: umount: %s\n", mp.c_str(), std::strerror(err));
      return 1;
    }
  }
  // The daemon holds a lock on the image until it has flushed and closed it.
  int fd = ::open(image.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return done();  // image gone: nothing left to wait for
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  while (image_locked(fd)) {
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
