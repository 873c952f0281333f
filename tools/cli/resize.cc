#include "cli/resize.h"

#include <dirent.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "cli/command_line.h"
#include "cli/json_output.h"
#include "cli/live.h"
#include "format/format.h"
#include "inject/offline.h"
#include "inject/resize.h"
#include "util/json.h"
#include "vblk/size_parse.h"

namespace vblk::cli {
namespace {

constexpr const char* kDiscardHint = "--force discards them";

// The block size the target's image has: asked of the daemon, or read from
// the image (a shared lock: Busy when another process holds it).
Result<uint32_t> block_size_of(const std::string& target, bool live) {
  if (!live) return inject::image_block_size(target);
  auto stats = read_live_stats(target);
  if (!stats) return stats.status();
  const uint64_t bs = stats->block_size;
  if (bs < format::kMinBlockSize || bs > format::kMaxBlockSize || !format::is_power_of_two(bs))
    return Status::corruption(target + ": user.vblk.stats gives the block size " + std::to_string(bs));
  return static_cast<uint32_t>(bs);
}

// The disk file a live target stands for: itself, or the one regular file
// in a vblkfs mountpoint.
Result<std::string> disk_file_of(const std::string& target) {
  struct stat st {};
  if (::stat(target.c_str(), &st) != 0) return Status::from_errno(errno, target);
  if (!S_ISDIR(st.st_mode)) return target;
  DIR* dir = ::opendir(target.c_str());
  if (dir == nullptr) return Status::from_errno(errno, target);
  std::string found;
  while (dirent* e = ::readdir(dir)) {
    if (e->d_type == DT_REG || e->d_type == DT_UNKNOWN) {
      if (std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, "..")) found = target + "/" + e->d_name;
    }
  }
  ::closedir(dir);
  if (found.empty()) return Status::not_found(target + ": no disk file in the mountpoint");
  return found;
}

}  // namespace

std::optional<Failure> resize_target(const std::string& target, const std::string& size_text, bool force, bool quiet,
                                     bool json) {
  const auto start = std::chrono::steady_clock::now();
  auto bytes = parse_size(size_text);
  if (!bytes) return Failure{target, "NEWSIZE: " + bytes.status().message(), kExitUsage};
  struct stat st {};
  if (::stat(target.c_str(), &st) != 0) return Failure{target, std::strerror(errno)};
  const bool live = is_live_target(target);
  if (!live && S_ISDIR(st.st_mode)) return Failure{target, "is a directory (and not a vblkfs mountpoint)"};

  auto bs = block_size_of(target, live);
  if (!bs) return Failure{target, busy_cause(bs.status(), target, "resize it through the mountpoint")};
  auto blocks = inject::blocks_for_size(*bytes, *bs);
  if (!blocks) return Failure{target, blocks.status().message(), kExitUsage};
  if (*blocks > format::kMaxCapacityBytes / *bs)
    return Failure{target, "size " + std::to_string(*bytes) + " exceeds the format's 1 PiB limit", kExitUsage};

  std::string summary;
  Json report = json_document(kFormatSchema);
  report["target"] = target;
  report["live"] = live;
  if (live) {
    const std::string command = "resize " + std::to_string(*bytes) + (force ? " discard" : "");
    // The reply's text; with json, its facts go into the report.
    auto send = [&]() -> Result<std::string> {
      if (!json) return send_control(target, command);
      auto facts = send_control_json(target, command);
      if (!facts) return facts.status();
      json_append(report, *facts);
      return json_string(json_at(*facts, "message"));
    };
    auto reply = send();
    if (!reply) {
      if (reply.status().code() == Status::Code::kReadOnly)
        return Failure{target, "the disk is mounted read-only: it cannot be resized"};
      std::string cause = error_cause(reply.status(), target);
      // The daemon names its own way of discarding; this command's is --force.
      if (auto at = cause.find("; 'resize SIZE discard'"); at != std::string::npos)
        cause.replace(at, std::string::npos, std::string("; ") + kDiscardHint);
      return Failure{target, cause};
    }
    summary = *reply;
    // The kernel dropped its cached size when the daemon told it; stat the
    // disk file so that it takes the new one now (losetup -c reads the
    // size the kernel has, without asking the daemon).
    auto disk = disk_file_of(target);
    if (!disk) return Failure{target, error_cause(disk.status(), target)};
    struct stat ds {};
    if (::stat(disk->c_str(), &ds) != 0) return Failure{*disk, std::strerror(errno)};
    if (static_cast<uint64_t>(ds.st_size) != *bytes)
      return Failure{*disk, "resized, but the kernel still shows " + std::to_string(ds.st_size) + " bytes"};
  } else {
    auto done = inject::resize_offline(target, *bytes, force, kDiscardHint);
    if (!done) return Failure{target, busy_cause(done.status(), target, "resize it through the mountpoint")};
    summary = inject::describe(*done);
    report["image"] = target;
    json_append(report, inject::resized_json(*done));
    report["message"] = summary;
  }
  if (!json) {
    if (!quiet) std::printf("%s: %s\n", target.c_str(), summary.c_str());
    return std::nullopt;
  }
  // After "message": the daemon's reply ends with it.
  report["seconds"] = json_number(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  print_json(report);
  return std::nullopt;
}

}  // namespace vblk::cli
