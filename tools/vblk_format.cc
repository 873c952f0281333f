// vblk-format: creates a vblk image, empty or filled from a raw disk file.
//
//   vblk-format IMAGE --size 8G [--block-size 4096] [--level N] [--label L] [--force]
//   vblk-format IMAGE --from RAW.img [--size S] [same options]
//   vblk-format IMAGE --from - --size S [same options]   (raw disk on stdin)
//   vblk-format --resize IMAGE|MOUNTPOINT NEWSIZE [--force]
//   ... [--json]     what was done as one JSON object (vblk-format(1), JSON OUTPUT)
//
// Exit status (see vblk-format(1)):
//   0  the image was created
//   1  the image could not be created: the file exists (without --force),
//      the file is an image in use (a vblkfs mount; even with --force),
//      the raw file cannot be read, host I/O failed, interrupted
//   2  invalid command line or option value; nothing was written
// Every failure prints exactly one line on stderr: "vblk-format: FILE: cause".
//
// --from is transfer::import_raw (transfer/import.h): holes and all-zero
// blocks stay FREE, the other blocks are written in runs. --from - reads
// standard input as a stream (a pipe has no size and cannot seek): --size
// is required and the stream must hold exactly that many bytes. The import
// compresses at the image's level, not provisionally (vblk(5), Deferred
// compression): an imported image is final, and serving it without writes
// changes nothing.
// If anything fails after the image was created, the new file is removed: a
// half-built image is never left.
// A file to overwrite is locked first (vblk(5), LOCKING) and stays locked
// until the new image has its name; the new image is locked from its
// creation until it is complete. A new image starts without fault rules:
// IMAGE.faults is removed.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/command_line.h"
#include "cli/interrupt.h"
#include "cli/json_output.h"
#include "cli/live.h"
#include "cli/progress.h"
#include "cli/report.h"
#include "cli/resize.h"
#include "ec/layout.h"
#include "inject/rules_file.h"
#include "transfer/import.h"
#include "transfer/raw_input.h"
#include "vblk/image_store.h"
#include "vblk/size_parse.h"
#include "vblk_config.h"

namespace {

using vblk::Status;
using vblk::cli::kExitError;
using vblk::cli::kExitUsage;
namespace transfer = vblk::transfer;

constexpr const char* kProg = "vblk-format";
constexpr uint32_t kMinBlockSize = 512;
constexpr uint32_t kMaxBlockSize = 65536;
constexpr int kMinLevel = 0;
constexpr int kMaxLevel = 19;
constexpr size_t kMaxLabelBytes = 63;
constexpr const char* kStdinName = "-";
constexpr const char* kRemoved = "interrupted; the unfinished image was removed";

using vblk::cli::Failure;

struct Args {
  std::string image;
  bool has_size = false;
  std::string size_text;
  bool has_from = false;
  std::string from;
  std::string block_size_text = "4096";
  int level = 3;
  std::string label;
  bool force = false;
  bool no_flush_records = false;
  bool json = false;
  bool resize = false;
  std::string new_size_text;  // --resize: the second operand
  bool has_new_size = false;
  vblk::cli::OutputOptions output;  // -p, -q
  // A member set (vblk(5), MEMBER SETS): --data-members and the rest.
  uint32_t data_members = 0;
  uint32_t group_size = 0;
  bool has_group_size = false;  // default: all D in one group
  uint32_t global_parity = 0;
  uint32_t spares = 0;
  uint32_t boxes = 1;
  bool ha = false;
  std::vector<std::string> member_dirs;
};

// The options that shape a member set; meaningless without --data-members.
constexpr const char* kMemberOptions[] = {"--group-size", "--global-parity", "--spares", "--boxes", "--ha",
                                          "--member-dir"};

struct Plan {
  vblk::FormatOptions format;
  bool image_existed = false;
};

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string errno_text(int err) { return std::strerror(err); }

uint64_t round_up(uint64_t v, uint64_t to) { return (v + to - 1) / to * to; }

// Checks every option value before anything is touched on disk.
std::optional<Failure> validate(const Args& a, std::optional<uint64_t> raw_size, Plan& plan) {
  auto usage = [&](std::string cause) { return Failure{a.image, std::move(cause), kExitUsage}; };

  auto bs = vblk::parse_size(a.block_size_text);
  if (!bs) return usage("--block-size: " + bs.status().message());
  uint64_t block_size = bs.value();
  if (block_size < kMinBlockSize || block_size > kMaxBlockSize || (block_size & (block_size - 1)) != 0) {
    return usage("block size " + std::to_string(block_size) + " is not a power of two from " +
                 std::to_string(kMinBlockSize) + " to " + std::to_string(kMaxBlockSize));
  }
  if (a.level < kMinLevel || a.level > kMaxLevel) {
    return usage("compression level " + std::to_string(a.level) + " is outside " + std::to_string(kMinLevel) +
                 ".." + std::to_string(kMaxLevel) + " (0 stores blocks uncompressed)");
  }
  if (a.label.size() > kMaxLabelBytes) {
    return usage("label is " + std::to_string(a.label.size()) + " bytes; at most " +
                 std::to_string(kMaxLabelBytes) + " are allowed");
  }

  uint64_t capacity = 0;
  if (a.has_size) {
    auto size = vblk::parse_size(a.size_text);
    if (!size) return usage("--size: " + size.status().message());
    capacity = size.value();
    if (capacity == 0) return usage("size must not be 0");
    if (capacity % block_size != 0) {
      return usage("size " + std::to_string(capacity) + " is not a whole number of " +
                   std::to_string(block_size) + "-byte blocks (try " +
                   std::to_string(round_up(capacity, block_size)) + ")");
    }
    if (raw_size && *raw_size > capacity) {
      return Failure{a.from,
                     "raw file is " + std::to_string(*raw_size) + " bytes, larger than --size " +
                         std::to_string(capacity),
                     kExitUsage};
    }
  } else if (raw_size) {
    if (*raw_size == 0) return Failure{a.from, "raw file is empty; give --size", kExitUsage};
    if (*raw_size > UINT64_MAX - block_size) return Failure{a.from, "raw file is too large", kExitUsage};
    capacity = round_up(*raw_size, block_size);
  }

  plan.format.capacity_bytes = capacity;
  plan.format.block_size = static_cast<uint32_t>(block_size);
  plan.format.compression_level = a.level;
  plan.format.label = a.label;
  plan.format.force = a.force;
  plan.format.flush_records = !a.no_flush_records;
  if (a.data_members > 0) {
    // The layout is checked here, so that a wrong one is a usage error and
    // nothing is written (ImageStore::create checks it again).
    auto layout = vblk::ec::Layout::create(
        {a.data_members, a.has_group_size ? a.group_size : a.data_members, a.global_parity, a.spares, a.boxes, a.ha});
    if (!layout) return usage(layout.status().message());
    if (!a.member_dirs.empty() && a.member_dirs.size() != a.boxes)
      return usage("--member-dir given " + std::to_string(a.member_dirs.size()) + " times; give it once per box (" +
                   std::to_string(a.boxes) + ")");
    vblk::MemberSetFormat& m = plan.format.members;
    m.data_members = a.data_members;
    m.group_size = a.has_group_size ? a.group_size : a.data_members;
    m.global_parity = a.global_parity;
    m.spares = a.spares;
    m.boxes = a.boxes;
    m.ha = a.ha;
    m.member_dirs = a.member_dirs;
  }
  return std::nullopt;
}

// Refuses a directory, an existing file without --force, and IMAGE == RAW.
std::optional<Failure> check_target(const Args& a, const struct stat* raw_st, Plan& plan) {
  struct stat st {};
  if (::stat(a.image.c_str(), &st) != 0) {
    if (errno == ENOENT) return std::nullopt;
    return Failure{a.image, errno_text(errno)};
  }
  plan.image_existed = true;
  if (S_ISDIR(st.st_mode)) return Failure{a.image, "is a directory"};
  if (raw_st != nullptr && st.st_dev == raw_st->st_dev && st.st_ino == raw_st->st_ino) {
    return Failure{a.image, "is the same file as --from"};
  }
  if (!a.force) return Failure{a.image, "already exists (use --force to overwrite it)"};
  return std::nullopt;
}

// The raw disk of --from, opened: a file (or block device) read at any
// offset, or a stream (standard input, a pipe or a character device).
struct RawSource {
  std::optional<Fd> file;  // the file opened for --from RAW
  int fd = -1;
  bool stream = false;
  std::optional<uint64_t> size;  // a file's; a stream has none
  struct stat st {};
};

// Opens --from. A pipe or character device has no size (lseek says 0): it
// is read as a stream, as standard input is, and must hold exactly --size
// bytes.
std::optional<Failure> open_raw(const Args& a, RawSource& raw) {
  if (a.from == kStdinName) {
    if (!a.has_size)
      return Failure{kStdinName, "--size is required with --from - (standard input has no size to take)", kExitUsage};
    if (::isatty(STDIN_FILENO))
      return Failure{kStdinName, "standard input is a terminal; pipe the raw disk into it", kExitUsage};
    if (::fstat(STDIN_FILENO, &raw.st) != 0) return Failure{kStdinName, errno_text(errno)};
    raw.fd = STDIN_FILENO;
    raw.stream = true;
    return std::nullopt;
  }
  raw.file.emplace(::open(a.from.c_str(), O_RDONLY | O_CLOEXEC));
  raw.fd = raw.file->get();
  if (raw.fd < 0) return Failure{a.from, errno_text(errno)};
  if (::fstat(raw.fd, &raw.st) != 0) return Failure{a.from, errno_text(errno)};
  if (S_ISDIR(raw.st.st_mode)) return Failure{a.from, "is a directory"};
  if (S_ISFIFO(raw.st.st_mode) || S_ISCHR(raw.st.st_mode) || S_ISSOCK(raw.st.st_mode)) {
    if (!a.has_size)
      return Failure{a.from, "--size is required: a pipe or character device has no size to take", kExitUsage};
    raw.stream = true;
    return std::nullopt;
  }
  const off_t end = ::lseek(raw.fd, 0, SEEK_END);  // also right for block devices
  if (end < 0) return Failure{a.from, "cannot determine size: " + errno_text(errno)};
  raw.size = static_cast<uint64_t>(end);
  return std::nullopt;
}

// Imports --from into the new image with the progress bar, which is gone
// on return.
std::optional<Failure> import_with_progress(vblk::ImageStore& store, const Args& a, const RawSource& raw,
                                            uint64_t capacity, transfer::ImportCounts& counts) {
  transfer::FdInput in(raw.fd, a.from, raw.stream, raw.stream ? capacity : *raw.size, vblk::cli::interrupted);
  vblk::cli::Progress progress("importing " + in.shown(), in.size(), a.output.progress_mode());
  transfer::ImportOptions o;
  o.image_name = a.image;
  o.cancel = vblk::cli::interrupted;
  o.progress = [&progress](uint64_t done) { progress.update(done); };
  if (auto f = transfer::import_raw(store, in, o, counts)) {
    if (f->why == transfer::Failure::Why::kInterrupted) return Failure{a.image, kRemoved};
    return Failure{f->file, f->cause};
  }
  progress.finish();
  return std::nullopt;
}

int fail(const Failure& f) { return vblk::cli::report_failure(kProg, f); }

// What was created, as text or as one JSON object.
void print_created(const Args& a, const vblk::ImageInfo& info, const transfer::ImportCounts& counts, double seconds) {
  if (a.json) {
    vblk::Json j = vblk::cli::json_document(vblk::cli::kFormatSchema);
    j["image"] = a.image;
    j["uuid"] = info.uuid;
    j["label"] = info.label;
    j["capacity_bytes"] = info.capacity_bytes;
    j["capacity_human"] = vblk::format_size(info.capacity_bytes);
    j["block_size"] = info.block_size;
    j["block_count"] = info.block_count;
    j["compression_level"] = info.compression_level;
    j["import"] =
        a.has_from
            ? vblk::Json{{"from", a.from}, {"stored_blocks", counts.stored_blocks}, {"zero_blocks", counts.zero_blocks}}
            : vblk::Json(nullptr);
    j["seconds"] = vblk::json_number(seconds);
    vblk::cli::print_json(j);
    return;
  }
  std::printf(
      "%s: %s (%llu bytes), %llu blocks of %u bytes, %s", a.image.c_str(),
      vblk::format_size(info.capacity_bytes).c_str(), static_cast<unsigned long long>(info.capacity_bytes),
      static_cast<unsigned long long>(info.block_count), info.block_size,
      info.compression_level == 0 ? "uncompressed" : ("zstd level " + std::to_string(info.compression_level)).c_str());
  if (!info.label.empty()) std::printf(", label \"%s\"", info.label.c_str());
  std::printf("\n");
  if (a.has_from) {
    std::printf("%s: imported %s: %llu blocks stored, %llu all-zero blocks left free, %.2f s\n", a.image.c_str(),
                a.from.c_str(), static_cast<unsigned long long>(counts.stored_blocks),
                static_cast<unsigned long long>(counts.zero_blocks), seconds);
  }
}

// Creates the image of `plan`, fills it from --from, and says what was
// created. A failure after the image was created removes it.
int create(const Args& a, const Plan& plan, const RawSource& raw, std::chrono::steady_clock::time_point start) {
  // The new image stays open, and so locked, until it is complete: no
  // vblkfs mount can take it half-built. Blocks are compressed at the
  // image's level as they are imported: none is left provisional for a
  // later mount to recompress, so the image is final once created
  // (compressing at level 1 and recompressing before exiting took twice as
  // long for 0.9% less: vblk-format(1)).
  vblk::OpenOptions open_opts;
  open_opts.defer_compression = false;
  auto created = vblk::ImageStore::create_and_open(a.image, plan.format, open_opts);
  if (!created) {
    Failure f{a.image, vblk::cli::replace_busy_cause(created.status(), a.image)};
    if (created.status().code() == Status::Code::kInvalidArgument) f.exit_code = kExitUsage;
    return fail(f);
  }
  vblk::ImageStore& store = *created.value();
  // From here on a failure removes the new image, while it is still locked.
  auto remove_image = [&](Failure f) {
    ::unlink(a.image.c_str());
    (void)store.close();
    return fail(f);
  };
  // A new image has no fault rules: a rules file left by the image this one
  // replaces (or by a removed one) must not come back to life.
  Status rules = vblk::inject::remove_rules(vblk::inject::rules_path(vblk::inject::real_image_path(a.image)));
  if (!rules) return remove_image({a.image, vblk::cli::error_cause(rules, a.image)});

  transfer::ImportCounts counts;
  if (a.has_from) {
    if (auto f = import_with_progress(store, a, raw, plan.format.capacity_bytes, counts)) return remove_image(*f);
    if (vblk::cli::interrupted()) return remove_image({a.image, kRemoved});
  }
  const vblk::ImageInfo info = store.info();
  Status closed = store.close();
  if (!closed) {
    ::unlink(a.image.c_str());
    return fail({a.image, vblk::cli::error_cause(closed, a.image)});
  }
  // -q leaves out the text, not what --json asked for.
  if (a.output.quiet && !a.json) return 0;
  print_created(a, info, counts, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return 0;
}

int run(const Args& a) {
  const auto start = std::chrono::steady_clock::now();
  RawSource raw;
  if (a.has_from) {
    if (auto f = open_raw(a, raw)) return fail(*f);
  }
  Plan plan;
  if (auto f = validate(a, raw.size, plan)) return fail(*f);
  if (auto f = check_target(a, a.has_from ? &raw.st : nullptr, plan)) return fail(*f);
  vblk::cli::install_interrupt_handlers(/*restart_syscalls=*/true);
  return create(a, plan, raw, start);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    CLI::App app{"Create a vblk compressed block image, empty or from a raw disk file.", kProg};
    Args a;
    app.set_version_flag("--version", std::string(kProg) + " " + VBLK_VERSION, "Print the version and exit");
    app.add_option("IMAGE", a.image, "Image file to create (with --resize: the image, or a vblkfs mountpoint)")
        ->required()
        ->type_name("");
    auto* new_size = app.add_option("NEWSIZE", a.new_size_text, "With --resize: the new capacity")->type_name("");
    auto* size = app.add_option("-s,--size", a.size_text,
                                "Capacity: bytes or K/M/G/T/P suffix (powers of 1024), a whole number of blocks; "
                                "with --from RAW defaults to the raw file's size rounded up to a block; with "
                                "--from - required, and the exact length of standard input")
                     ->type_name("SIZE");
    auto* from = app.add_option("--from", a.from, "Raw disk file (or block device) to import, or - for standard input (a pipe, as "
                                "vblk-export IMAGE - writes); zero blocks stay FREE")
                     ->type_name("RAW");
    app.add_option("-b,--block-size", a.block_size_text, "Block size: a power of two from 512 to 65536")
        ->type_name("SIZE")
        ->capture_default_str();
    app.add_option("-l,--level", a.level, "zstd compression level, 0 (store raw) to 19")
        ->type_name("N")->capture_default_str();
    app.add_option("-L,--label", a.label, "Label, at most 63 bytes")->type_name("LABEL");
    app.add_flag("-F,--force", a.force,
                 "Overwrite IMAGE if it exists; with --resize, shrink even when blocks past the new end are USED "
                 "(they are discarded)");
    app.add_flag("--resize", a.resize,
                 "Change the capacity of an existing image to NEWSIZE: offline, or live on a mounted disk "
                 "given its mountpoint (then losetup -c, resize2fs); blocks, label, UUID and fault rules are kept");
    app.add_flag("-j,--json", a.json, "Print what was done as one JSON object (vblk-format(1), JSON OUTPUT)");
    app.add_flag("--no-flush-records", a.no_flush_records,
                 "One host sync per flush instead of two (fsync after every small write about twice as fast on "
                 "a disk whose sync takes milliseconds); damage in the log then ends it, losing every later "
                 "write, instead of costing only the damaged record");
    auto* data_members = app.add_option("--data-members", a.data_members,
                   "Make a member set: the data erasure-coded over member files, this many data members per "
                   "stripe (1..255); IMAGE keeps the superblock, checkpoints and member list (vblk(5), MEMBER SETS)")
        ->type_name("D");
    auto* group_size = app.add_option("--group-size", a.group_size,
                   "Data members per local parity group (one XOR parity member each; default: all D in one group)")
        ->type_name("G");
    app.add_option("--global-parity", a.global_parity,
                   "Global Reed-Solomon parity members per stripe (0..16), rebuilding what a group alone cannot")
        ->type_name("P");
    app.add_option("--spares", a.spares, "Hot spare members per stripe word, for a later rebuild")->type_name("S");
    app.add_option("--boxes", a.boxes,
                   "Failure domains: without --ha every box holds a stripe word of its own; member m is in box "
                   "m mod B")
        ->type_name("B");
    app.add_flag("--ha", a.ha,
                 "One stripe word spread over the boxes, at most 2 chunks of a stripe in a box, so that a whole "
                 "box can fail");
    app.add_option("--member-dir", a.member_dirs,
                   "Directory for the member files of one box (give it once per box, round-robin); default: "
                   "IMAGE.members/ beside IMAGE")
        ->type_name("DIR")
        ->allow_extra_args(false);
    vblk::cli::add_output_options(app, a.output);
    app.footer("Exit status: 0 created (resized), 1 failed (nothing left behind), 2 invalid command line or value.");
    if (auto code = vblk::cli::parse_command_line(app, argc, argv, kProg)) return *code;
    a.has_size = size->count() > 0;
    a.has_from = from->count() > 0;
    a.has_new_size = new_size->count() > 0;
    a.has_group_size = group_size->count() > 0;
    if (a.resize) {
      // The options that shape a new image have no meaning for an existing one.
      for (const char* name : {"--size", "--from", "--block-size", "--level", "--label", "--no-flush-records",
                               "--data-members"}) {
        if (app.count(name) > 0) {
          vblk::cli::report_error(kProg, "",
                                  std::string(name) + " excludes --resize (only --force, --json and --quiet go with it)");
          return kExitUsage;
        }
      }
      if (!a.has_new_size) {
        vblk::cli::report_error(kProg, a.image, "--resize needs the new size: vblk-format --resize IMAGE NEWSIZE");
        return kExitUsage;
      }
      if (auto f = vblk::cli::resize_target(a.image, a.new_size_text, a.force, a.output.quiet, a.json)) return fail(*f);
      return 0;
    }
    if (data_members->count() == 0) {
      for (const char* name : kMemberOptions) {
        if (app.count(name) > 0) {
          vblk::cli::report_error(kProg, a.image, std::string(name) + " goes with --data-members (a member set)");
          return kExitUsage;
        }
      }
    } else if (a.data_members == 0 || a.has_from) {
      vblk::cli::report_error(kProg, a.image,
                              a.has_from ? "--from does not go with --data-members yet (import into a member set "
                                           "by writing to its mount)"
                                         : "--data-members must be at least 1");
      return kExitUsage;
    }
    if (a.has_new_size) {
      vblk::cli::report_error(kProg, "", "unexpected argument '" + a.new_size_text + "' (a new size goes with --resize)");
      return kExitUsage;
    }
    if (!a.has_size && !a.has_from) {
      vblk::cli::report_error(kProg, a.image, "give --size or --from (see --help)");
      return kExitUsage;
    }
    return run(a);
  } catch (...) {
    return vblk::cli::report_current_exception(kProg);
  }
}
