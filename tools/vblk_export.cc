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
// The output is sparse: FREE and TRIMMED blocks, and USED blocks that hold
// only zeros, are never written, so they are holes in OUT. A file is built
// under a temporary name in OUT's directory, synced, and renamed to OUT only
// once complete, so a failed or interrupted export leaves nothing under
// OUT's name (an OUT overwritten with --force is intact until the rename,
// and locked as an image is from the start: an OUT that is an image in use,
// such as a mounted one, is never replaced).
// On stdout, which may be a pipe, the zeros are written out instead (unless
// stdout is a regular file we can seek in, which then gets holes too).
//
// The image is opened read-only, which takes a shared lock: no process can
// write the image while it is exported, so the output is one consistent
// state of the disk. A vblkfs mount holds the write lock, so exporting a
// mounted image is refused with a message naming the daemon and its
// mountpoint (a read-only mount, vblkfs mount -r, shares the lock and can be
// exported while mounted).

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
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
#include "io/file.h"
#include "util/block_text.h"
#include "util/bytes.h"
#include "util/json.h"
#include "util/mountinfo.h"
#include "vblk/image_store.h"
#include "vblk/size_parse.h"
#include "vblk_config.h"

namespace {

using vblk::BlockState;
using vblk::Status;
using vblk::cli::kExitError;
using vblk::cli::kExitUsage;
constexpr int kExitSalvaged = 3;  // exported, with unreadable blocks written as zeros

constexpr const char* kProg = "vblk-export";
constexpr size_t kChunkBytes = 1u << 20;        // one read_blocks call; a multiple of every block size
constexpr uint64_t kWindowBytes = 64ull << 20;  // block states are enumerated this much at a time
constexpr size_t kListedBadRanges = 8;          // BAD ranges named in the error line

using vblk::cli::Failure;

struct Args {
  std::string image;
  std::string out;
  bool force = false;
  std::string bad = "fail";
  bool salvage = false;  // unreadable blocks (and BAD ones) become zeros
  bool json = false;
  vblk::cli::OutputOptions output;  // -p, -q
};

struct Counts {
  uint64_t bytes_written = 0;  // bytes written to the output, zeros included
  uint64_t holes_bytes = 0;    // bytes left as holes
  uint64_t used = 0, free = 0, trimmed = 0, bad = 0;
  uint64_t zero_blocks = 0;    // USED blocks that read as zeros
  uint64_t unreadable = 0;     // --salvage: blocks written as zeros because reading them failed (BAD included)
};

std::string errno_text(int err) { return std::strerror(err); }

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

// "3 BAD blocks (5-6, 100)", listing at most kListedBadRanges ranges.
std::string bad_list_text(const std::vector<std::pair<uint64_t, uint64_t>>& ranges) {
  uint64_t total = 0;
  for (const auto& r : ranges) total += r.second;
  std::string s = std::to_string(total) + (total == 1 ? " BAD block (" : " BAD blocks (");
  for (size_t i = 0; i < ranges.size() && i < kListedBadRanges; ++i) {
    if (i) s += ", ";
    s += vblk::block_range_text(ranges[i].first, ranges[i].second);
  }
  if (ranges.size() > kListedBadRanges) s += ", and " + std::to_string(ranges.size() - kListedBadRanges) + " more ranges";
  return s + ")";
}

// Read failures --salvage turns into zeros: the image's data is damaged or
// BAD (EIO). Anything else (the host, an interrupt) still fails the export.
bool unreadable_error(const Status& s) {
  return s.code() == Status::Code::kCorruption || s.code() == Status::Code::kBadBlock ||
         s.code() == Status::Code::kIoError;
}

// The cause without the "block N: record at image offset X: " context, so
// that neighbouring blocks with the same damage share one line.
std::string short_cause(const Status& s) {
  const std::string& m = s.message();
  const size_t colon = m.rfind(": ");
  return colon == std::string::npos ? m : m.substr(colon + 2);
}

// --salvage: blocks written as zeros because they could not be read. A run
// of blocks with the same cause is named in one line on stderr as soon as
// it ends: "vblk-export: IMAGE: blocks 3-9 unreadable (CAUSE), written as zeros".
class SalvageLog {
 public:
  SalvageLog(std::string image, const vblk::cli::Progress& progress)
      : image_(std::move(image)), progress_(progress) {}
  ~SalvageLog() { end_run(); }

  void add(uint64_t first, uint64_t count, const std::string& cause) {
    blocks_ += count;
    if (count_ && first == first_ + count_ && cause == cause_) {
      count_ += count;
      return;
    }
    end_run();
    first_ = first, count_ = count, cause_ = cause;
  }
  // Names the run in progress, if any.
  void end_run() {
    if (!count_) return;
    if (progress_.redraws()) std::fputs("\r\033[K", stderr);  // over the progress bar, redrawn later
    std::fprintf(stderr, "%s: %s: %s %s unreadable (%s), written as zeros\n", kProg, image_.c_str(),
                 count_ == 1 ? "block" : "blocks", vblk::block_range_text(first_, count_).c_str(), cause_.c_str());
    count_ = 0;
  }
  uint64_t blocks() const { return blocks_; }

 private:
  std::string image_;
  const vblk::cli::Progress& progress_;
  uint64_t first_ = 0, count_ = 0;
  std::string cause_;
  uint64_t blocks_ = 0;
};


// Where the raw bytes go. A sparse sink writes data with pwrite at its
// offset and leaves zeros as holes; a stream sink (a pipe) must be written
// in order, zeros included.
class Sink {
 public:
  Sink(int fd, std::string name, bool sparse, uint64_t base)
      : fd_(fd), name_(std::move(name)), sparse_(sparse), base_(base), zeros_(kChunkBytes, 0) {}

  bool sparse() const { return sparse_; }
  const std::string& name() const { return name_; }
  uint64_t bytes_written() const { return written_; }

  // Bytes [off, off+n) of the disk.
  std::optional<Failure> data(uint64_t off, const uint8_t* p, size_t n) {
    if (!sparse_) {
      if (auto f = gap_to(off)) return f;
    }
    return put(off, p, n);
  }

  // Bytes [off, off+n) read as zeros: a hole, or written zeros on a stream
  // (or when `write` asks for them explicitly).
  std::optional<Failure> zeros(uint64_t off, uint64_t n, bool write) {
    if (!sparse_) return gap_to(off + n);
    if (!write) return std::nullopt;
    while (n > 0) {
      size_t k = static_cast<size_t>(std::min<uint64_t>(n, zeros_.size()));
      if (auto f = put(off, zeros_.data(), k)) return f;
      off += k, n -= k;
    }
    return std::nullopt;
  }

  // Completes a disk of `capacity` bytes: the trailing hole, or zeros.
  std::optional<Failure> finish(uint64_t capacity) {
    if (!sparse_) return gap_to(capacity);
    if (::ftruncate(fd_, static_cast<off_t>(base_ + capacity)) != 0)
      return Failure{name_, "cannot set the size to " + std::to_string(base_ + capacity) + ": " + errno_text(errno)};
    // Leave a shared file offset (stdout) after the disk, as a stream would.
    if (::lseek(fd_, static_cast<off_t>(base_ + capacity), SEEK_SET) < 0)
      return Failure{name_, "seek: " + errno_text(errno)};
    return std::nullopt;
  }

 private:
  // Stream only: writes zeros up to `off`.
  std::optional<Failure> gap_to(uint64_t off) {
    while (pos_ < off) {
      size_t k = static_cast<size_t>(std::min<uint64_t>(off - pos_, zeros_.size()));
      if (auto f = put(pos_, zeros_.data(), k)) return f;
    }
    return std::nullopt;
  }

  std::optional<Failure> put(uint64_t off, const uint8_t* p, size_t n) {
    size_t done = 0;
    while (done < n) {
      if (vblk::cli::interrupted()) return Failure{name_, "interrupted"};
      ssize_t r = sparse_ ? ::pwrite(fd_, p + done, n - done, static_cast<off_t>(base_ + off + done))
                          : ::write(fd_, p + done, n - done);
      if (r < 0) {
        if (errno == EINTR) continue;
        return Failure{name_, "write at offset " + std::to_string(off + done) + ": " + errno_text(errno)};
      }
      done += static_cast<size_t>(r);
    }
    written_ += n;
    if (!sparse_) pos_ = off + n;
    return std::nullopt;
  }

  int fd_;
  std::string name_;
  bool sparse_;
  uint64_t base_;
  uint64_t pos_ = 0;  // stream: disk bytes written so far
  uint64_t written_ = 0;
  std::vector<uint8_t> zeros_;
};

// --salvage, after a read of blocks [first, first+k) failed: reads them
// again one at a time into `out`; those that still fail become zeros, are
// logged and flagged in `unreadable`.
std::optional<Failure> reread_one_by_one(vblk::ImageStore& store, const Args& a, uint64_t first, uint64_t k,
                                         std::span<uint8_t> out, std::vector<bool>& unreadable, SalvageLog& log) {
  const uint64_t bs = store.block_size();
  for (uint64_t i = 0; i < k; ++i) {
    std::span<uint8_t> one = out.subspan(i * bs, bs);
    Status s = store.read_blocks(first + i, 1, one);
    if (s) continue;
    if (!unreadable_error(s)) return Failure{a.image, vblk::cli::error_cause(s, a.image)};
    std::fill(one.begin(), one.end(), uint8_t{0});
    unreadable[i] = true;
    log.add(first + i, 1, short_cause(s));
  }
  return std::nullopt;
}

// Writes blocks [first, first+k) read into `buf`: maximal runs of non-zero
// blocks as data, zero blocks as holes, unreadable ones as written zeros.
std::optional<Failure> write_read_blocks(Sink& sink, const uint8_t* buf, uint64_t first, uint64_t k, uint64_t bs,
                                         const std::vector<bool>& unreadable, Counts& c) {
  for (uint64_t i = 0; i < k;) {
    const uint8_t* p = buf + i * bs;
    if (unreadable[i] || vblk::all_zero(p, bs)) {
      if (!unreadable[i]) ++c.zero_blocks;
      if (auto f = sink.zeros((first + i) * bs, bs, unreadable[i])) return f;
      ++i;
      continue;
    }
    uint64_t j = i + 1;
    while (j < k && !unreadable[j] && !vblk::all_zero(buf + j * bs, bs)) ++j;
    if (auto f = sink.data((first + i) * bs, p, (j - i) * bs)) return f;
    i = j;
  }
  return std::nullopt;
}

struct Run {
  uint64_t first, count;
  BlockState state;
  std::string unreadable;  // --salvage: why the blocks' state could not be read ("" if it could)
};

// --salvage, after the states of blocks [first, first+n) could not be read
// (a damaged index page): asks for them one block at a time; a block whose
// state cannot be read either becomes an unreadable run.
std::optional<Failure> states_one_by_one(vblk::ImageStore& store, const Args& a, uint64_t first, uint64_t n,
                                         std::vector<Run>& runs) {
  runs.clear();
  for (uint64_t b = first; b < first + n; ++b) {
    auto st = store.state(b);
    if (!st && !unreadable_error(st.status())) return Failure{a.image, vblk::cli::error_cause(st.status(), a.image)};
    Run one{b, 1, st ? *st : BlockState::kBad, st ? std::string() : short_cause(st.status())};
    Run* last = runs.empty() ? nullptr : &runs.back();
    if (last && last->first + last->count == b && last->state == one.state && last->unreadable == one.unreadable) {
      last->count++;
    } else {
      runs.push_back(std::move(one));
    }
  }
  return std::nullopt;
}

// Copies the whole disk into `sink`, a window of block states at a time.
std::optional<Failure> export_disk(vblk::ImageStore& store, const Args& a, Sink& sink, bool bad_zero, Counts& c) {
  const uint64_t bs = store.block_size();
  const uint64_t blocks = store.block_count();
  const uint64_t capacity = bs * blocks;
  const uint64_t window = std::max<uint64_t>(1, kWindowBytes / bs);
  const size_t chunk_blocks = kChunkBytes / bs;
  std::vector<uint8_t> buf(kChunkBytes);
  std::vector<Run> runs;
  vblk::cli::Progress progress("exporting " + a.image, capacity, a.output.progress_mode());
  SalvageLog salvaged(a.image, progress);
  std::vector<bool> unreadable;

  for (uint64_t w = 0; w < blocks; w += window) {
    if (vblk::cli::interrupted()) return Failure{sink.name(), "interrupted"};
    runs.clear();
    uint64_t n = std::min(window, blocks - w);
    Status s = store.state_runs(w, n, [&](uint64_t first, uint64_t count, BlockState st) {
      runs.push_back({first, count, st, {}});
    });
    if (!s) {
      if (!a.salvage || !unreadable_error(s)) return Failure{a.image, vblk::cli::error_cause(s, a.image)};
      if (auto f = states_one_by_one(store, a, w, n, runs)) return f;
    }
    for (const Run& r : runs) {
      if (!r.unreadable.empty()) {
        salvaged.add(r.first, r.count, r.unreadable);
        if (auto f = sink.zeros(r.first * bs, r.count * bs, true)) return f;
        continue;
      }
      switch (r.state) {
        case BlockState::kFree:
        case BlockState::kTrimmed:
          (r.state == BlockState::kFree ? c.free : c.trimmed) += r.count;
          if (auto f = sink.zeros(r.first * bs, r.count * bs, false)) return f;
          break;
        case BlockState::kBad:
          // Checked before the export started; the shared lock keeps it so.
          if (!bad_zero) return Failure{a.image, "block " + std::to_string(r.first) + " is BAD"};
          c.bad += r.count;
          if (a.salvage) salvaged.add(r.first, r.count, "BAD block");
          if (auto f = sink.zeros(r.first * bs, r.count * bs, true)) return f;
          break;
        case BlockState::kUsed:
          c.used += r.count;
          for (uint64_t b = r.first; b < r.first + r.count;) {
            if (vblk::cli::interrupted()) return Failure{sink.name(), "interrupted"};
            uint64_t k = std::min<uint64_t>(chunk_blocks, r.first + r.count - b);
            std::span<uint8_t> out(buf.data(), k * bs);
            unreadable.assign(k, false);
            // Big reads keep a salvage of a mostly sound image fast; only a
            // read that fails is done again block by block.
            Status rs = store.read_blocks(b, k, out);
            if (!rs) {
              if (!a.salvage || !unreadable_error(rs)) return Failure{a.image, vblk::cli::error_cause(rs, a.image)};
              if (auto f = reread_one_by_one(store, a, b, k, out, unreadable, salvaged)) return f;
            }
            if (auto f = write_read_blocks(sink, buf.data(), b, k, bs, unreadable, c)) return f;
            b += k;
            progress.update(b * bs);
          }
          break;
      }
    }
    progress.update((w + n) * bs);
  }
  if (auto f = sink.finish(capacity)) return f;
  salvaged.end_run();
  c.unreadable = salvaged.blocks();
  progress.finish();
  c.bytes_written = sink.bytes_written();
  c.holes_bytes = sink.sparse() ? capacity - sink.bytes_written() : 0;
  return std::nullopt;
}

int fail(const Failure& f) { return vblk::cli::report_failure(kProg, f); }

// A file in OUT's directory that becomes OUT by rename() once complete, and
// is removed if it never does.
class TempOutput {
 public:
  TempOutput() = default;
  TempOutput(const TempOutput&) = delete;
  TempOutput& operator=(const TempOutput&) = delete;
  ~TempOutput() {
    if (fd_ >= 0) ::close(fd_);
    if (!path_.empty()) ::unlink(path_.c_str());
  }

  std::optional<Failure> create(const std::string& out) {
    size_t slash = out.rfind('/');
    dir_ = slash == std::string::npos ? "." : (slash == 0 ? "/" : out.substr(0, slash));
    std::string base = slash == std::string::npos ? out : out.substr(slash + 1);
    std::string templ = (slash == std::string::npos ? std::string() : out.substr(0, slash + 1)) + "." + base +
                        ".vblk-export-XXXXXX";
    std::vector<char> name(templ.begin(), templ.end());
    name.push_back('\0');
    fd_ = ::mkstemp(name.data());
    if (fd_ < 0) return Failure{out, "cannot create a file in " + dir_ + ": " + errno_text(errno)};
    path_ = name.data();
    mode_t mask = ::umask(0);
    ::umask(mask);
    if (::fchmod(fd_, 0666 & ~mask) != 0) return Failure{out, "chmod: " + errno_text(errno)};
    return std::nullopt;
  }

  int fd() const { return fd_; }

  // Syncs the file, renames it to `out` and syncs the directory.
  std::optional<Failure> commit(const std::string& out) {
    if (::fdatasync(fd_) != 0) return Failure{out, "sync: " + errno_text(errno)};
    if (::close(fd_) != 0) {
      fd_ = -1;
      return Failure{out, "close: " + errno_text(errno)};
    }
    fd_ = -1;
    if (::rename(path_.c_str(), out.c_str()) != 0) return Failure{out, "rename: " + errno_text(errno)};
    path_.clear();
    int dfd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      (void)::fsync(dfd);
      ::close(dfd);
    }
    return std::nullopt;
  }

 private:
  int fd_ = -1;
  std::string path_;
  std::string dir_;
};

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

void print_summary(const Args& a, const vblk::ImageInfo& info, const Counts& c, bool sparse, double seconds) {
  FILE* to = a.out == "-" ? stderr : stdout;
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

int run(const Args& a) {
  const auto start = std::chrono::steady_clock::now();
  const bool to_stdout = a.out == "-";
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

  const bool bad_zero = a.bad == "zero" || a.salvage;
  auto bad = store.bad_ranges();
  if (!bad.empty() && !bad_zero) {
    return fail({a.image, "has " + bad_list_text(bad) + "; nothing was exported (use --bad zero to write zeros there)"});
  }

  vblk::cli::install_interrupt_handlers(/*restart_syscalls=*/false, /*ignore_sigpipe=*/true);
  Counts counts;
  bool sparse = false;
  if (to_stdout) {
    // A regular file opened without O_APPEND and empty beyond the current
    // offset can take holes; anything else gets every byte.
    struct stat st {};
    int fl = ::fcntl(STDOUT_FILENO, F_GETFL);
    off_t base = ::lseek(STDOUT_FILENO, 0, SEEK_CUR);
    sparse = ::fstat(STDOUT_FILENO, &st) == 0 && S_ISREG(st.st_mode) && fl >= 0 && !(fl & O_APPEND) && base >= 0 &&
             st.st_size <= base;
    Sink sink(STDOUT_FILENO, "-", sparse, sparse ? static_cast<uint64_t>(base) : 0);
    if (auto f = export_disk(store, a, sink, bad_zero, counts)) return fail(*f);
  } else {
    TempOutput tmp;
    if (auto f = tmp.create(a.out)) return fail(*f);
    sparse = true;
    Sink sink(tmp.fd(), a.out, true, 0);
    if (auto f = export_disk(store, a, sink, bad_zero, counts)) {
      if (f->cause == "interrupted") f->cause = "interrupted; nothing was written under this name";
      return fail(*f);
    }
    if (vblk::cli::interrupted()) return fail({a.out, "interrupted; nothing was written under this name"});
    if (auto f = tmp.commit(a.out)) return fail(*f);
  }
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
