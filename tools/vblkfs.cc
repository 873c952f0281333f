// vblkfs: mount a vblk image as a single-file disk (FUSE), or unmount it.
//
//   vblkfs mount IMAGE MOUNTPOINT [options]
//   vblkfs umount MOUNTPOINT [--json]
//   vblkfs IMAGE MOUNTPOINT -o OPTS      (mount.fuse3 / fstab convention)
//
// Exit codes: 0 success, 1 failure (one line on stderr), 2 usage error.
#include <CLI/CLI.hpp>

#include <cstdio>

#include <nlohmann/json.hpp>

#include "cli/command_line.h"
#include "cli/json_output.h"
#include "cli/mount_helper.h"
#include "fuse/mount.h"
#include "vblk/size_parse.h"
#include "vblk_config.h"

int main(int argc, char** argv) {
  if (vblk::cli::is_mount_helper_call(argc, argv)) {
    try {
      auto opts = vblk::cli::parse_mount_helper_args({argv + 1, argv + argc});
      if (!opts) {
        std::fprintf(stderr, "vblkfs: %s (usage: vblkfs IMAGE MOUNTPOINT [-o OPTIONS])\n",
                     opts.status().message().c_str());
        return vblk::cli::kExitUsage;
      }
      if (std::string refused = vblk::fuse::refused_fuse_option(opts->fuse_options); !refused.empty()) {
        std::fprintf(stderr, "vblkfs: %s\n", refused.c_str());
        return vblk::cli::kExitUsage;
      }
      return vblk::fuse::run_mount(*opts);
    } catch (...) {
      return vblk::cli::report_current_exception("vblkfs");
    }
  }
  CLI::App app{"vblkfs: expose a compressed vblk image as one regular file (a disk) through FUSE.\n"
               "The file can be used with losetup, mkfs, mount, fstrim and QEMU (-drive file=...,format=raw).",
               "vblkfs"};
  app.set_version_flag("--version", std::string("vblkfs ") + VBLK_VERSION);
  app.require_subcommand(1);

  vblk::fuse::MountOptions m;
  std::string cache = "64M";
  auto* mount = app.add_subcommand("mount", "Mount IMAGE; MOUNTPOINT then holds one file, the disk. Returns once the mount is usable.");
  mount->set_version_flag("--version", std::string("vblkfs ") + VBLK_VERSION, "Print the version and exit");
  mount->add_option("IMAGE", m.image, "Image file made by vblk-format")->required()->type_name("");
  mount->add_option("MOUNTPOINT", m.mountpoint, "Existing empty directory")->required()->type_name("");
  mount->add_flag("-f,--foreground", m.foreground,
                  "Stay in the foreground (logs to stderr) instead of daemonizing; tells systemd (NOTIFY_SOCKET) "
                  "once the mount is usable");
  mount->add_flag("-r,--read-only", m.read_only, "Open the image read-only; the disk file is read-only");
  mount->add_option("--name", m.file_name, "Name of the disk file in MOUNTPOINT")->capture_default_str()->type_name("NAME");
  mount->add_option("--cache-size", cache, "Read cache of decompressed blocks (K/M/G suffixes; 0 disables)")
      ->capture_default_str()
      ->type_name("SIZE");
  mount->add_option("--log-level", m.log_level, "trace, debug, info, warn, error, critical or off")
      ->type_name("LEVEL")
      ->check(vblk::cli::one_of({vblk::fuse::kLogLevels.begin(), vblk::fuse::kLogLevels.end()}))
      ->capture_default_str();
  mount->add_option("--log-file", m.log_file, "Log to this file (default: stderr with -f, syslog as a daemon)")
      ->type_name("PATH");
  mount->add_flag("--syslog", m.syslog, "Also log to syslog (a daemon without --log-file always does)");
  mount->add_flag("--allow-other", m.allow_other, "Let other users access the disk file (needs user_allow_other unless root)");
  mount->add_option("-o", m.fuse_options, "Extra FUSE mount option (repeatable), e.g. -o max_read=131072")
      ->delimiter(',')
      ->type_name("OPTION");
  mount->add_flag("--compress-at-write", m.compress_at_write,
                  "Compress writes at the image's level at once, instead of at level 1 with the data that a higher "
                  "level shrinks recompressed at the image's level once the disk has been idle for a second");
  bool no_auto_rebuild = false;
  mount->add_flag("--no-auto-rebuild", no_auto_rebuild,
                  "Member sets: do not rebuild a failed member onto a free spare by itself (vblk-rebuild does it "
                  "on request)");
  mount->add_option("--threads", m.max_threads, "Maximum FUSE worker threads")->capture_default_str()->type_name("N")->check(vblk::cli::whole_number_in(1, 256));

  std::string umount_point;
  int timeout = 60;
  bool umount_json = false;
  auto* umount = app.add_subcommand("umount", "Unmount; waits until the daemon has flushed and closed the image.");
  umount->add_option("MOUNTPOINT", umount_point, "A vblkfs mountpoint")->required()->type_name("");
  umount->add_option("--timeout", timeout, "Seconds to wait for the daemon to finish")
      ->capture_default_str()
      ->type_name("SECONDS")
      ->check(vblk::cli::whole_number_in(0, 86400));
  umount->add_flag("-j,--json", umount_json, "Print what was done as one JSON object (vblkfs(1), JSON OUTPUT)");
  umount->alias("unmount");
  app.footer("Exit status: 0 done, 1 failed, 2 invalid command line. See vblkfs(1).");
  mount->footer("Exit status: 0 mounted and usable (with -f: unmounted, image closed cleanly), 1 failed "
                "(nothing left mounted), 2 invalid command line. See vblkfs(1).");
  umount->footer("Exit status: 0 unmounted and the image released, 1 not a vblkfs mountpoint, busy, or the "
                 "daemon did not release the image within --timeout, 2 invalid command line. See vblkfs(1).");

  if (auto code = vblk::cli::parse_command_line(app, argc, argv, "vblkfs")) return *code;
  try {
    if (*mount) {
      auto size = vblk::parse_size(cache);
      if (!size) {
        std::fprintf(stderr, "vblkfs: --cache-size: %s\n", size.status().message().c_str());
        return 2;
      }
      m.cache_bytes = *size;
      m.auto_rebuild = !no_auto_rebuild;
      if (std::string refused = vblk::fuse::refused_fuse_option(m.fuse_options); !refused.empty()) {
        std::fprintf(stderr, "vblkfs: %s\n", refused.c_str());
        return vblk::cli::kExitUsage;
      }
      return vblk::fuse::run_mount(m);
    }
    vblk::fuse::UmountReport report;
    const int rc = vblk::fuse::run_umount(umount_point, timeout, &report);
    if (rc == 0 && umount_json) {
      vblk::Json j = vblk::cli::json_document(vblk::cli::kUmountSchema);
      j["mountpoint"] = report.mountpoint;
      j["image"] = report.image;
      j["fusermount"] = report.fusermount;
      j["seconds"] = vblk::json_number(report.seconds);
      vblk::cli::print_json(j);
    }
    return rc;
  } catch (...) {
    return vblk::cli::report_current_exception("vblkfs");
  }
}
