// vblk-export: writes the disk held in a vblk image out as a raw disk file.
//
//   vblk-export IMAGE OUT.raw [--force] [--bad fail|zero] [--salvage] [--json]
//   vblk-export IMAGE - [--bad fail|zero] [--salvage] [--json]   (raw bytes on stdout)
//
// Exit status (see vblk-export(1)):
//   0  the disk was exported
//   1  the export failed: IMAGE cannot be opened or read (missing, damaged,
//      in use by a writer such as a vblkfs mount), it has BAD blocks (without
//      --bad zero), OUT exists (without --force), OUT is an image in use
//      (even with --force), host I/O failed, interrupted
//   2  invalid command line; nothing was written
//   3  --salvage: the disk was exported, but blocks that could not be read
//      were written as zeros (each range named on stderr)
// Every failure prints exactly one line on stderr: "vblk-export: FILE: cause".
//
// The export itself is transfer::export_image (transfer/export.h): this
// file takes the options, picks the output and reports. OUT is built under
// a temporary name (transfer/temp_output.h) and renamed once complete, so
// a failed or interrupted export leaves nothing under OUT's name (an OUT
// overwritten with --force is intact until the rename, and locked as an
// image is from the start: an OUT that is an image in use, such as a
// mounted one, is never replaced). Standard output, which may be a pipe
// or a block device, gets every byte, zeros included, unless it is a
// regular file that can take holes.
//
// The image is opened read-only, which takes a shared lock: no process can
// write the image while it is exported, so the output is one consistent
// state of the disk. A vblkfs mount holds the write lock, so exporting a
// mounted image is refused with a message naming the daemon and its
// mountpoint (a read-only mount, vblkfs mount -r, shares the lock and can be
// exported while mounted).

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/command_line.h"
#include "cli/interrupt.h"
#include "cli/json_output.h"
#include "cli/live.h"
#include "cli/progress.h"
#include "cli/report.h"
#include "io/file.h"
#include "transfer/export.h"
#include "transfer/raw_output.h"
#include "transfer/temp_output.h"
#include "util/block_text.h"
#include "util/json.h"
#include "util/mountinfo.h"
#include "vblk/image_store.h"
#include "vblk/size_parse.h"
#include "vblk_config.h"

namespace {

using vblk::Status;
using vblk::cli::Failure;
using vblk::cli::kExitUsage;
namespace transfer = vblk::transfer;

constexpr int kExitSalvaged = 3;  // exported, with unreadable blocks written as zeros
constexpr const char* kProg = "vblk-export";
constexpr const char* kNothingWritten = "interrupted; nothing was written under this name";

struct Args {
  std::string image;
  std::string out;
  bool force = false;
  std::string bad = "fail";
  bool salvage = false;  // unreadable blocks (and BAD ones) become zeros
  bool json = false;
  vblk::cli::OutputOptions output;  // -p, -q
};

std::string errno_text(int err) { return std::strerror(err); }

int fail(const Failure& f) { return vblk::cli::report_failure(kProg, f); }

// The failure for an image that cannot be opened; a busy image gets advice.
Failure open_failure(const Args& a, const Status& s) {
  Failure f{a.image, vblk::cli::error_cause(s, a.image)};
  if (s.code() != Status::Code::kBusy) return f;
  auto mounts = vblk::vblkfs_mountpoints_of(a.image);
  if (mounts.empty()) {
    f.cause += "; export it once that process has closed it";
  } else {
    const std::string& mp = mounts.front();
    f.cause += "; it is mounted on " + mp + ": unmount it first (vblkfs umount " + mp +
               "), or copy the live disk (cp --sparse=always " + mp + "/disk " +
               (a.out == "-" ? std::string("OUT") : a.out) + ")";
  }
  return f;
}

// The engine's failure, with the advice and wording of the command line.
Failure tool_failure(const transfer::Failure& f, const Args& a) {
  Failure out{f.file, f.cause};
  if (f.why == transfer::Failure::Why::kBadBlocks) out.cause += " (use --bad zero to write zeros there)";
  if (f.why == transfer::Failure::Why::kInterrupted && a.out != transfer::kStdio) out.cause = kNothingWritten;
  return out;
}

transfer::ExportOptions export_options(const Args& a) {
  transfer::ExportOptions o;
  o.image_name = a.image;
  o.bad_zero = a.bad == "zero" || a.salvage;
  o.salvage = a.salvage;
  o.cancel = vblk::cli::interrupted;
  return o;
}

// Exports into `out` with the progress bar, naming on stderr each run of
// blocks --salvage wrote as zeros ("vblk-export: IMAGE: blocks 3-9
// unreadable (CAUSE), written as zeros"). The bar is gone on return.
std::optional<Failure> export_with_progress(vblk::ImageStore& store, const Args& a, transfer::RawOutput& out,
                                            transfer::ExportCounts& c) {
  vblk::cli::Progress progress("exporting " + a.image, store.block_count() * store.block_size(),
                               a.output.progress_mode());
  transfer::ExportOptions o = export_options(a);
  o.progress = [&progress](uint64_t done) { progress.update(done); };
  o.unreadable = [&](uint64_t first, uint64_t count, const std::string& cause) {
    if (progress.redraws()) std::fputs("\r\033[K", stderr);  // over the progress bar, redrawn later
    std::fprintf(stderr, "%s: %s: %s unreadable (%s), written as zeros\n", kProg, a.image.c_str(),
                 vblk::blocks_phrase(first, count).c_str(), cause.c_str());
  };
  if (auto f = transfer::export_image(store, out, o, c)) return tool_failure(*f, a);
  progress.finish();
  return std::nullopt;
}

// Refuses a directory, a non-regular file, the image itself, and an
// existing file without --force.
std::optional<Failure> check_target(const Args& a, const struct stat& image_st) {
  struct stat st {};
  if (::stat(a.out.c_str(), &st) != 0) {
    if (errno == ENOENT) return std::nullopt;
    return Failure{a.out, errno_text(errno)};
  }
  if (S_ISDIR(st.st_mode)) return Failure{a.out, "is a directory"};
  if (st.st_dev == image_st.st_dev && st.st_ino == image_st.st_ino) return Failure{a.out, "is the image itself"};
  if (!S_ISREG(st.st_mode))
    return Failure{a.out, "is not a regular file (to write to it, use: vblk-export IMAGE - > " + a.out + ")"};
  if (!a.force) return Failure{a.out, "already exists (use --force to overwrite it)"};
  return std::nullopt;
}

void print_summary(const Args& a, const vblk::ImageInfo& info, const transfer::ExportCounts& c, bool sparse,
                   double seconds) {
  FILE* to = a.out == transfer::kStdio ? stderr : stdout;
  if (a.json) {
    vblk::Json j = vblk::cli::json_document(vblk::cli::kExportSchema);
    j["image"] = a.image;
    j["output"] = a.out;
    j["capacity_bytes"] = info.capacity_bytes;
    j["block_size"] = info.block_size;
    j["sparse"] = sparse;
    j["bytes_written"] = c.bytes_written;
    j["holes_bytes"] = c.holes_bytes;
    j["bad_blocks"] = c.bad;
    j["unreadable_blocks"] = c.unreadable;
    j["blocks"] = {{"used", c.used}, {"zero", c.zero_blocks}, {"free", c.free}, {"trimmed", c.trimmed}, {"bad", c.bad}};
    j["seconds"] = vblk::json_number(seconds);
    std::fprintf(to, "%s\n", vblk::dump_json(j).c_str());
    return;
  }
  std::fprintf(to, "%s -> %s: %s disk (%llu bytes), %s written, %s left as holes", a.image.c_str(), a.out.c_str(),
               vblk::format_size(info.capacity_bytes).c_str(), static_cast<unsigned long long>(info.capacity_bytes),
               vblk::format_size(c.bytes_written).c_str(), vblk::format_size(c.holes_bytes).c_str());
  if (c.bad) std::fprintf(to, ", %llu BAD blocks written as zeros", static_cast<unsigned long long>(c.bad));
  if (const uint64_t damaged = c.unreadable - std::min(c.unreadable, c.bad))
    std::fprintf(to, ", %llu unreadable blocks written as zeros", static_cast<unsigned long long>(damaged));
  std::fprintf(to, ", %.2f s\n", seconds);
}

// Exports to standard output: with holes when it is a regular file that
// can take them, else every byte in order.
std::optional<Failure> export_to_stdout(vblk::ImageStore& store, const Args& a, transfer::ExportCounts& c,
                                        bool& sparse) {
  const std::optional<uint64_t> base = transfer::hole_base(STDOUT_FILENO);
  sparse = base.has_value();
  transfer::FdOutput out(STDOUT_FILENO, std::string(transfer::kStdio), sparse, base.value_or(0),
                         vblk::cli::interrupted);
  return export_with_progress(store, a, out, c);
}

// Exports to OUT under a temporary name, renamed to OUT once complete.
std::optional<Failure> export_to_file(vblk::ImageStore& store, const Args& a, transfer::ExportCounts& c) {
  transfer::TempOutput tmp;
  if (Status s = tmp.create(a.out); !s) return Failure{a.out, vblk::cli::error_cause(s, a.out)};
  transfer::FdOutput out(tmp.fd(), a.out, /*sparse=*/true, 0, vblk::cli::interrupted);
  if (auto f = export_with_progress(store, a, out, c)) return f;
  if (vblk::cli::interrupted()) return Failure{a.out, kNothingWritten};
  if (Status s = tmp.commit(a.out); !s) return Failure{a.out, vblk::cli::error_cause(s, a.out)};
  return std::nullopt;
}

int run(const Args& a) {
  const auto start = std::chrono::steady_clock::now();
  const bool to_stdout = a.out == transfer::kStdio;
  if (to_stdout && a.force) return fail({"-", "--force has no meaning when writing to standard output", kExitUsage});
  if (to_stdout && ::isatty(STDOUT_FILENO))
    return fail({"-", "standard output is a terminal; redirect it to a file or a pipe", kExitUsage});

  struct stat image_st {};
  if (::stat(a.image.c_str(), &image_st) != 0) return fail({a.image, errno_text(errno)});
  if (S_ISDIR(image_st.st_mode)) return fail({a.image, "is a directory, not an image file"});
  // An OUT to replace stays locked until the export has its name: an image
  // in use (a vblkfs mount) is never replaced, and no process opens the
  // old file in between.
  std::unique_ptr<vblk::io::File> old_out;
  if (!to_stdout) {
    if (auto f = check_target(a, image_st)) return fail(*f);
    auto locked = vblk::io::lock_for_replace(a.out);
    if (!locked) return fail({a.out, vblk::cli::replace_busy_cause(locked.status(), a.out)});
    old_out = std::move(*locked);
  }

  vblk::OpenOptions oo;
  oo.read_only = true;
  auto opened = vblk::ImageStore::open(a.image, oo);
  if (!opened) return fail(open_failure(a, opened.status()));
  vblk::ImageStore& store = *opened.value();
  const vblk::ImageInfo info = store.info();
  if (auto f = transfer::refuse_bad_blocks(store, export_options(a))) return fail(tool_failure(*f, a));

  vblk::cli::install_interrupt_handlers(/*restart_syscalls=*/false, /*ignore_sigpipe=*/true);
  transfer::ExportCounts counts;
  bool sparse = true;
  auto failed = to_stdout ? export_to_stdout(store, a, counts, sparse) : export_to_file(store, a, counts);
  if (failed) return fail(*failed);
  Status closed = store.close();
  if (!closed) return fail({a.image, vblk::cli::error_cause(closed, a.image)});
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!a.output.quiet || a.json) print_summary(a, info, counts, sparse, seconds);
  if (counts.unreadable == 0) return 0;
  std::fprintf(stderr, "%s: %s: salvaged: %llu unreadable %s written as zeros\n", kProg, a.image.c_str(),
               static_cast<unsigned long long>(counts.unreadable), counts.unreadable == 1 ? "block" : "blocks");
  return kExitSalvaged;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    CLI::App app{"Write the disk held in a vblk image out as a sparse raw disk file (or to standard output).",
                 kProg};
    Args a;
    app.set_version_flag("--version", std::string(kProg) + " " + VBLK_VERSION, "Print the version and exit");
    app.add_option("IMAGE", a.image, "Image file to export")->required()->type_name("");
    app.add_option("OUT", a.out, "Raw disk file to write, or - for standard output")->required()->type_name("");
    app.add_flag("-F,--force", a.force, "Replace OUT if it exists");
    auto* bad_opt = app.add_option("--bad", a.bad, "BAD blocks: fail (refuse to export, listing them) or zero (write zeros there)")
        ->type_name("fail|zero")
        ->check(vblk::cli::one_of({"fail", "zero"}))
        ->capture_default_str();
    app.add_flag("--salvage", a.salvage,
                 "Write blocks that cannot be read (damaged, BAD) as zeros, name them on stderr, exit 3");
    app.add_flag("-j,--json", a.json, "Print the summary as one JSON object (vblk-export(1), JSON OUTPUT)");
    vblk::cli::add_output_options(app, a.output);
    app.footer("Exit status: 0 exported, 1 failed (nothing left under OUT's name), 2 invalid command line,\n"
               "3 exported with --salvage, unreadable blocks written as zeros.");
    if (auto code = vblk::cli::parse_command_line(app, argc, argv, kProg)) return *code;
    if (a.salvage && bad_opt->count() > 0 && a.bad == "fail")
      return fail({"--salvage", "writes BAD blocks as zeros: it cannot be combined with --bad fail", kExitUsage});
    return run(a);
  } catch (...) {
    return vblk::cli::report_current_exception(kProg);
  }
}
