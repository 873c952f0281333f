// vblk-inspect: shows what a vblk image holds, read-only, or what a running
// vblkfs daemon is doing.
//
//   vblk-inspect IMAGE [--json] [--no-map]   header, block counts, sizes, bad blocks, state map
//   vblk-inspect IMAGE --block N [--json]    one block: state, where it is stored, hex dump
//   vblk-inspect IMAGE --check [--json]      verify every structure and record checksum
//   vblk-inspect IMAGE --check --repair      make a damaged image consistent (writes it)
//   vblk-inspect MOUNTPOINT [--json]         live: the daemon's statistics, faults and state map
//   vblk-inspect MOUNTPOINT --check [--json] live: a scrub by the daemon, reported as --check
//   ... [--watch]                            redraw every second until interrupted
//   vblk-inspect IMAGE|MOUNTPOINT --svg FILE a picture of the block map
//   vblk-inspect IMAGE --members [--json|--svg FILE]  a member set's members and verdict
//   vblk-inspect IMAGE --member N --offset X [--length L]  hex dump of a member file
//
// The image is opened read-only (a shared lock: it fails at once if a
// writer holds the image), except by --repair, which writes it. A mountpoint (or its disk file) is read through
// the daemon's control interface, extended attributes (vblkfs(1)).
// Exit status (see vblk-inspect(1)):
//   0  success; with --check, the image is clean
//   1  the image cannot be opened or read, or --check found damage
//   2  invalid command line
// Every failure prints one line on stderr: "vblk-inspect: IMAGE: cause".
//
// This file takes the options and dispatches; each view is a file of
// tools/inspect/ (inspect/inspect.h).

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>

#include "cli/command_line.h"
#include "cli/interrupt.h"
#include "cli/live.h"
#include "cli/report.h"
#include "inject/offline.h"
#include "inspect/inspect.h"
#include "vblk/image_store.h"
#include "vblk_config.h"

namespace {

using vblk::Status;
using vblk::cli::kExitUsage;
using vblk::cli::inspect::Args;
using vblk::cli::inspect::fail;
using vblk::cli::inspect::kProg;
namespace inspect = vblk::cli::inspect;

int run(const Args& a) {
  struct stat st {};
  if (::stat(a.image.c_str(), &st) != 0) return fail(a.image, std::strerror(errno));
  if (vblk::cli::is_live_target(a.image)) {
    if (a.repair)
      return fail(a.image,
                  "--repair writes the image: " + inspect::release_first(a.image) + " and repair the image file");
    if (a.members) return inspect::show_live_members(a);
    if (a.has_member)
      return fail(a.image, "--member reads a member file, which the daemon holds: " + inspect::release_first(a.image) +
                               " and inspect the image file");
    return inspect::run_live(a);
  }
  if (a.repair) return inspect::run_repair(a);
  if (a.members) return inspect::show_members(a);
  if (a.has_member) return inspect::show_member_bytes(a);
  if (S_ISDIR(st.st_mode)) return fail(a.image, "is a directory (and not a vblkfs mountpoint)");
  if (struct stat svg_st {}; !a.svg.empty() && a.svg != "-" && ::stat(a.svg.c_str(), &svg_st) == 0 && svg_st.st_dev == st.st_dev &&
                             svg_st.st_ino == st.st_ino)
    return fail(a.svg, "is the image itself");

  auto image = vblk::inject::open_with_rules(a.image, /*read_only=*/true);
  if (!image) return fail(a.image, vblk::cli::busy_cause(image.status(), a.image, "inspect the mountpoint"));
  vblk::ImageStore& store = *image->store;

  int rc;
  if (!a.svg.empty()) {
    rc = inspect::write_image_svg(store, a);
  } else if (a.check) {
    rc = inspect::run_check(store, a);
  } else if (a.has_block) {
    rc = inspect::show_block(store, a);
  } else {
    rc = inspect::show_image(*image, a);
  }
  std::fflush(stdout);
  Status closed = store.close();
  if (!closed && rc == 0) return fail(a.image, vblk::cli::error_cause(closed, a.image));
  return rc;
}

// ---- --watch --------------------------------------------------------------

// Redraws the report in place (ANSI home + clear) every second until
// SIGINT or SIGTERM; stops with the failure if a report fails. Not on a
// terminal (a pipe, a log) the reports follow one another, a blank line
// apart, with no escape codes.
int watch(const Args& a) {
  vblk::cli::install_interrupt_handlers(/*restart_syscalls=*/false);
  const bool terminal = ::isatty(STDOUT_FILENO) == 1;
  for (bool first = true; !vblk::cli::interrupted(); first = false) {
    std::fputs(terminal ? "\033[H\033[2J" : first ? "" : "\n", stdout);
    const int rc = run(a);
    std::fflush(stdout);
    if (rc != 0) return rc;
    for (int i = 0; i < 10 && !vblk::cli::interrupted(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    CLI::App app{"Show the header, block states, compression and damage of a vblk image (read-only),\n"
                 "or the live statistics of a running vblkfs daemon (given its mountpoint or disk file).",
                 kProg};
    Args a;
    app.set_version_flag("--version", std::string(kProg) + " " + VBLK_VERSION, "Print the version and exit");
    app.add_option("IMAGE|MOUNTPOINT", a.image, "Image file, or vblkfs mountpoint / disk file (live)")
        ->required()
        ->type_name("");
    app.add_flag("-j,--json", a.json, "Print one JSON object instead of text (vblk-inspect(1), JSON OUTPUT)");
    auto* block = app.add_option("-B,--block", a.block, "Show one block: state, stored record, hex dump")
                    ->type_name("N")
                    ->check(vblk::cli::whole_number_in(0, UINT64_MAX));
    auto* check = app.add_flag("-c,--check", a.check, "Verify every structure and record checksum; exit 1 on damage");
    app.add_flag("--repair", a.repair,
                 "With --check: make a damaged image consistent (writes it): blocks of damaged records that "
                 "still read are rewritten, the others become BAD; damaged index pages and checkpoint slots "
                 "are rebuilt from the log")
        ->needs(check);
    auto* no_map = app.add_flag("--no-map", a.no_map, "Leave out the block-state map");
    auto* watch_flag = app.add_flag("-w,--watch", a.watch, "Redraw every second until interrupted (Ctrl-C)");
    auto* svg = app.add_option("--svg", a.svg,
                               "Write a picture of the block map (with --members: of the members) as SVG to FILE "
                               "(-: standard output)")
                    ->type_name("FILE");
    auto* members = app.add_flag("-M,--members",
                                 a.members, "Member set: each member's box, role, state, size, errors and first "
                                 "bytes, then whether every stripe can still be read");
    auto* member = app.add_option("--member", a.member, "Member set: hex dump of member N's file (with --offset)")
                       ->type_name("N")
                       ->check(vblk::cli::whole_number_in(0, UINT32_MAX));
    auto* offset = app.add_option("--offset", a.offset, "With --member: where the dump starts in the member file")
                       ->type_name("X")
                       ->check(vblk::cli::whole_number_in(0, UINT64_MAX))
                       ->needs(member);
    app.add_option("--length", a.length, "With --member: bytes to dump (default 256)")
        ->type_name("L")
        ->check(vblk::cli::whole_number_in(1, 1u << 20))
        ->needs(member);

    vblk::cli::add_output_options(app, a.output);
    app.get_option("--progress")->needs(check);
    app.get_option("--quiet")->needs(check);
    check->excludes(block);
    no_map->excludes(block)->excludes(check);
    svg->excludes(check)->excludes(block)->excludes(watch_flag);
    watch_flag->excludes(check)->excludes(block);
    members->excludes(check)->excludes(block)->excludes(member)->excludes(watch_flag)->excludes(no_map);
    app.footer("Exit status: 0 ok (clean; with --repair, clean once repaired), 1 error or damage found, 2 invalid "
               "command line.");
    if (auto code = vblk::cli::parse_command_line(app, argc, argv, kProg)) return *code;
    a.has_block = block->count() > 0;
    a.has_member = member->count() > 0;
    // Checked here rather than by CLI11, whose "Needs:" and "Excludes:"
    // notes would not fit --help's 80 columns.
    if (a.has_member && (offset->count() == 0 || a.check || a.has_block || !a.svg.empty() || a.watch || a.no_map)) {
      std::fprintf(stderr, "%s: --member needs --offset, and goes with none of --check, --block, --svg, --watch, "
                           "--no-map\n", kProg);
      return kExitUsage;
    }
    return a.watch ? watch(a) : run(a);
  } catch (...) {
    return vblk::cli::report_current_exception(kProg);
  }
}
