// Serving a vblkfs mount. See serve.h.
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
#include "fuse/serve.h"

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <new>
#include <thread>

#include "fuse/daemon_log.h"
#include "fuse/disk_fs.h"
#include "fuse/libfuse_log.h"
#include "fuse/protocol_hooks.h"
#include "fuse/service_notify.h"
#include "inject/image_stack.h"
#include "live/control.h"
#include "util/mutex.h"
#include "vblk/driver.h"

#ifndef PR_SET_IO_FLUSHER
#define PR_SET_IO_FLUSHER 57
#endif

namespace vblk::fuse {
namespace {

using live::Control;
using live::ControlOptions;

// Ends the session loop from another thread the way SIGTERM does (libfuse's
// handler, sent to the thread that runs the loop), but only while the loop
// runs: once it has ended, the handler is removed and SIGTERM would kill
// the daemon before it has closed the image.
class LoopStopper {
 public:
  LoopStopper() : loop_thread_(::pthread_self()) {}
  void stop() EXCLUDES(mu_) {
    MutexLock lock(mu_);
    if (running_) ::pthread_kill(loop_thread_, SIGTERM);
  }
  // Called by the loop's thread as soon as the loop has returned.
  void ended() EXCLUDES(mu_) {
    MutexLock lock(mu_);
    running_ = false;
  }

 private:
  Mutex mu_;
  const pthread_t loop_thread_;
  bool running_ GUARDED_BY(mu_) = true;
};

// What declaring the mount usable takes, shared by the thread that runs the
// session and the probe thread.
struct Startup {
  const MountOptions& o;
  StartupReport& report;
  ServiceNotifier& notifier;
  bool daemon;
  spdlog::sink_ptr early_stderr;  // a daemon's copy of warnings on stderr
  // Logged once the mount is usable, so that a mount that fails says only
  // why. Written before the probe thread starts.
  std::vector<std::string> warnings;
};

// max_read=N among the options for the kernel (the last one counts, as in
// libfuse); 0 without one.
uint32_t max_read_option(const std::vector<std::string>& fuse_options) {
  uint32_t max_read = 0;
  for (const std::string& opt : fuse_options)
    if (opt.rfind("max_read=", 0) == 0) max_read = static_cast<uint32_t>(std::strtoul(opt.c_str() + 9, nullptr, 10));
  return max_read;
}

// The command line libfuse parses for the session: "vblkfs -o LIST", every
// item of LIST escaped (a comma or backslash in the image's path would
// otherwise split fsname= in two).
std::vector<std::string> session_argv(const MountOptions& o) {
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
  std::vector<std::string> argv = {"vblkfs", "-o", list};
  std::free(list);
  return argv;
}

// For the probe thread (see the top of the file): whether the disk file can
// be looked up through the new mount; if not, says why through `report`.
bool disk_answers(const MountOptions& o, StartupReport& report) {
  const std::string disk = o.mountpoint + "/" + o.file_name;
  struct stat st;
  if (::stat(disk.c_str(), &st) == 0) return true;
  report.fail(disk + ": not usable after mounting: " + std::strerror(errno));
  return false;
}

// The probe thread: reports the mount usable, or fails it and ends it:
// nothing stays mounted after a failure has been reported.
void probe(Startup& s, const Driver& driver, LoopStopper& loop_stopper) {
  const MountOptions& o = s.o;
  try {
    if (!disk_answers(o, s.report)) return loop_stopper.stop();
    for (const std::string& w : s.warnings) spdlog::warn("{}", w);
    libfuse_messages_now_warnings();
    if (s.daemon) detach_from_terminal(s.early_stderr);
    if (!s.report.ok()) return;
    spdlog::info("{} mounted on {}/{} ({} bytes{})", o.image, o.mountpoint, o.file_name, driver.size_bytes(),
                 o.read_only ? ", read-only" : "");
    s.notifier.ready("serving " + o.image + " at " + o.mountpoint);
  } catch (const std::exception& e) {
    s.report.fail(o.mountpoint + ": " + e.what());
    loop_stopper.stop();
  }
}

// Mounts the session and runs its loop, with the probe thread beside it
// (left in `prober`: it may still wait on the kernel, until the session is
// destroyed). Returns the exit code.
int mount_and_loop(fuse_session* se, Startup& s, const Driver& driver, LoopStopper& loop_stopper, std::thread& prober) {
  const MountOptions& o = s.o;
  if (fuse_session_mount(se, o.mountpoint.c_str()) != 0) {
    s.report.fail(with_libfuse_cause(o.mountpoint + ": mount failed",
                                     "is /dev/fuse available, and the mountpoint an empty directory?"));
    return 1;
  }
  // Without them, waiting writers reach the daemon one at a time and
  // shared mmap of the disk file fails.
  if (!install_protocol_hooks(se))
    s.warnings.push_back(o.mountpoint +
                         ": libfuse refused the I/O hooks: synchronous writes will be served one "
                         "at a time, mmap(MAP_SHARED) fails");
  fuse_loop_config* cfg = fuse_loop_cfg_create();
  fuse_loop_cfg_set_clone_fd(cfg, 1);
  fuse_loop_cfg_set_max_threads(cfg, o.max_threads);
  prober = std::thread([&s, &driver, &loop_stopper] { probe(s, driver, loop_stopper); });
  // libfuse reports the signal that ended the loop; SIGTERM, SIGINT and
  // SIGHUP are requests to unmount, not failures. A mount that never
  // became usable failed, however it ended.
  int loop = fuse_session_loop_mt(se, cfg);
  loop_stopper.ended();
  int rc = loop == 0 || loop == SIGTERM || loop == SIGINT || loop == SIGHUP ? 0 : 1;
  fuse_loop_cfg_destroy(cfg);
  s.report.fail(o.mountpoint + ": the kernel did not complete FUSE initialisation");
  if (!s.report.succeeded()) rc = 1;
  s.notifier.stopping("flushing and closing " + o.image);
  fuse_session_unmount(se);
  return rc;
}

// Creates the FUSE session over fs, mounts it and serves it until it ends,
// then destroys it. Returns the exit code.
int run_session(DiskFs& fs, Startup& s, const Driver& driver) {
  std::vector<std::string> argv_s = session_argv(s.o);
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
  route_libfuse_messages();
  take_libfuse_message();
  fuse_session* se = fuse_session_new(&args, &DiskFs::ops(), sizeof(fuse_lowlevel_ops), &fs);
  if (!se) {
    s.report.fail(with_libfuse_cause(s.o.mountpoint + ": cannot start a FUSE session", "bad -o option?"));
    fuse_opt_free_args(&args);
    return 1;
  }
  fs.set_session(se);
  int rc = 1;
  LoopStopper loop_stopper;  // of this thread, which runs the loop
  std::thread prober;        // uses loop_stopper: declared after it
  if (fuse_set_signal_handlers(se) != 0) {
    s.report.fail("cannot install signal handlers");
  } else {
    rc = mount_and_loop(se, s, driver, loop_stopper, prober);
    fuse_remove_signal_handlers(se);
  }
  fs.set_session(nullptr);
  fuse_session_destroy(se);
  // Closing the session's /dev/fuse descriptors ends a probe still waiting
  // on the kernel.
  if (prober.joinable()) prober.join();
  fuse_opt_free_args(&args);
  return rc;
}

ControlOptions control_options(const MountOptions& o, const inject::ImageStack& stack, DiskFs* const& disk_fs) {
  ControlOptions copts;
  copts.image = o.image;
  copts.mountpoint = o.mountpoint;
  copts.rules_file = stack.rules_file();
  copts.read_only = o.read_only;
  copts.owner = ::getuid();
  copts.auto_rebuild = o.auto_rebuild;
  copts.on_resized = [&disk_fs](uint64_t old_bytes, uint64_t new_bytes) {
    if (disk_fs) disk_fs->size_changed(old_bytes, new_bytes);
  };
  return copts;
}

DiskFsOptions disk_fs_options(const MountOptions& o, Control& control) {
  DiskFsOptions fopts;
  fopts.file_name = o.file_name;
  fopts.read_only = o.read_only;
  fopts.uid = ::getuid();
  fopts.gid = ::getgid();
  fopts.direct_io = o.direct_io;
  fopts.control = &control;
  fopts.max_read = max_read_option(o.fuse_options);
  return fopts;
}

}  // namespace

int serve(const MountOptions& o, StartupReport& report, bool daemon) {
  // A daemon has told whoever waits by returning; only a foreground vblkfs
  // is the process a service manager watches.
  ServiceNotifier notifier(!daemon);
  Startup s{o, report, notifier, daemon, nullptr, {}};
  try {
    s.early_stderr = setup_logging(o, daemon);
  } catch (const std::exception& e) {
    report.fail((o.log_file.empty() ? std::string("logging") : o.log_file) + ": " + e.what());
    return 1;
  }
  // Writeback of a loop device stacked on our file waits for us: we must be
  // allowed to allocate and do I/O under memory pressure (libfuse#56).
  // Warned about once mounted, so a mount that fails says only why.
  if (::prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0) != 0)
    s.warnings.push_back(
        fmt::format("prctl(PR_SET_IO_FLUSHER): {} (a loop device stacked on the disk may stall "
                    "under memory pressure)",
                    std::strerror(errno)));

  notifier.status("opening " + o.image);
  OpenOptions open_opts;
  open_opts.read_only = o.read_only;
  open_opts.defer_compression = !o.compress_at_write;
  DriverOptions dopts;
  dopts.cache_bytes = o.cache_bytes;
  auto stack = inject::ImageStack::open(o.image, open_opts, dopts);
  if (!stack) {
    report.fail(stack.status().message());
    return 1;
  }
  Driver& driver = (*stack)->driver();
  DiskFs* disk_fs = nullptr;  // set once it exists, before any request can come
  Control control(driver, (*stack)->admin(), (*stack)->store(), control_options(o, **stack, disk_fs));
  DiskFs fs(driver, disk_fs_options(o, control));
  disk_fs = &fs;
  int rc = run_session(fs, s, driver);
  control.stop_scrub();  // it reads the image, which is closed below
  control.stop_rebuild();
  // Everything acknowledged so far becomes durable, then the image closes
  // (with the fault rules saved).
  // A mount that never became usable has said why in one line: no summary.
  const bool served = report.succeeded();
  if (Status c = (*stack)->close(served); !c) rc = 1;
  if (served) spdlog::info("{} unmounted from {}{}", o.image, o.mountpoint, rc == 0 ? "" : " with errors");
  spdlog::shutdown();
  return rc;
}

}  // namespace vblk::fuse
