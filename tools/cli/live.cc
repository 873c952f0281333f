#include "cli/live.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/xattr.h>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "cli/report.h"
#include "live/socket.h"
#include "util/mountinfo.h"

namespace vblk::cli {
namespace {

constexpr const char* kControl = "user.vblk.control";
constexpr const char* kControlJson = "user.vblk.control.json";
constexpr long kFuseSuperMagic = 0x65735546;

// A daemon refuses a user other than the one who mounted with EACCES (a
// daemon started before that choice was made: EPERM). On a file that is not
// on a FUSE mount, EACCES is the kernel's own refusal of an unreadable file.
bool refused_by_daemon(int err, const std::string& path) {
  struct statfs st;
  return err == EPERM || (err == EACCES && ::statfs(path.c_str(), &st) == 0 && st.f_type == kFuseSuperMagic);
}

Status xattr_error(int err, const std::string& path, const std::string& name) {
  if (refused_by_daemon(err, path)) {
    return Status::invalid_argument(path + ": only the user who mounted it, or root, may use " + name);
  }
  if (err == ENODATA || err == ENOTSUP) {
    return Status::invalid_argument(path + ": not a vblkfs mountpoint or disk file (no " + name + ")");
  }
  return Status::from_errno(err, path + ": " + name);
}

// An image file served by the NBD plugin, whose control socket stands in
// for the extended attributes (live/socket.h).
bool served_over_nbd(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && live::has_control_socket(path);
}

Status socket_error(int err, const std::string& path, const std::string& name, std::string reason) {
  while (!reason.empty() && reason.back() == '\n') reason.pop_back();
  if (reason.rfind("error: ", 0) == 0) reason.erase(0, 7);
  const std::string cause = path + ": " + (reason.empty() ? name + ": " + std::strerror(err) : reason);
  switch (err) {
    case EACCES: return Status::invalid_argument(path + ": only the user who serves it, or root, may use " + name);
    case ENODATA: return Status::invalid_argument(path + ": the server has no " + name);
    case EINVAL: return Status::invalid_argument(cause);
    case EROFS: return Status::read_only(reason.empty() ? path + ": served read-only: faults cannot be injected" : cause);
    default: return Status::io_error(cause);
  }
}

Result<std::string> socket_get(const std::string& path, const std::string& name) {
  auto reply = live::control_get(path, name);
  if (!reply) return reply.status();
  if (reply->err != 0) return socket_error(reply->err, path, name, reply->value);
  return reply->value;
}

Result<std::string> socket_control(const std::string& path, std::string_view command) {
  auto reply = live::control_set(path, kControl, command);
  if (!reply) return reply.status();
  if (reply->err != 0) return socket_error(reply->err, path, kControl, reply->value);
  std::string text = reply->value;
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

}  // namespace

bool is_live_target(const std::string& path) {
  errno = 0;
  if (::getxattr(path.c_str(), "user.vblk.stats", nullptr, 0) >= 0) return true;
  return refused_by_daemon(errno, path) || served_over_nbd(path);
}

Result<std::string> read_xattr(const std::string& path, const std::string& name) {
  if (served_over_nbd(path)) return socket_get(path, name);
  // The value can grow between the size query and the read: try again.
  for (int attempt = 0; attempt < 5; ++attempt) {
    ssize_t n = ::getxattr(path.c_str(), name.c_str(), nullptr, 0);
    if (n < 0) return xattr_error(errno, path, name);
    std::vector<char> buf(static_cast<size_t>(n) + 1);
    n = ::getxattr(path.c_str(), name.c_str(), buf.data(), buf.size());
    if (n >= 0) return std::string(buf.data(), static_cast<size_t>(n));
    if (errno != ERANGE) return xattr_error(errno, path, name);
  }
  return Status::io_error(path + ": " + name + " keeps changing size");
}

Result<live::LiveStats> read_live_stats(const std::string& target) {
  auto text = read_xattr(target, "user.vblk.stats");
  if (!text) return text.status();
  const std::string unreadable = target + ": unreadable user.vblk.stats: ";
  auto j = parse_json(*text);
  if (!j) return Status::corruption(unreadable + j.status().message());
  if (!j->is_object()) return Status::corruption(unreadable + "not a JSON object");
  auto stats = live::live_stats_from_json(*j);
  if (!stats) return Status::corruption(unreadable + stats.status().message());
  return stats;
}

Result<std::string> send_control(const std::string& path, std::string_view command) {
  if (served_over_nbd(path)) return socket_control(path, command);
  const std::string cmd(command);
  const int rc = ::setxattr(path.c_str(), kControl, cmd.data(), cmd.size(), 0);
  const int err = rc == 0 ? 0 : errno;
  if (err == EPERM || err == ENOTSUP || err == EACCES) return xattr_error(err, path, kControl);
  auto reply = read_xattr(path, kControl);
  if (!reply) {
    if (err != 0) return Status::from_errno(err, path + ": '" + cmd + "'");
    return reply.status();
  }
  std::string text = *reply;
  while (!text.empty() && text.back() == '\n') text.pop_back();
  if (err == 0) return text;
  // No "error: " reply: the kernel refused before the daemon saw the
  // command (a read-only mount refuses every setxattr), so the reply read
  // is an older one.
  if (text.rfind("error: ", 0) != 0) {
    if (err == EROFS) return Status::read_only(path + ": the disk is mounted read-only: faults cannot be injected");
    return Status::from_errno(err, path + ": '" + cmd + "'");
  }
  text.erase(0, 7);
  if (err == EROFS) return Status::read_only(path + ": " + text);
  if (err == EINVAL) return Status::invalid_argument(path + ": " + text);
  return Status::io_error(path + ": " + text);
}

namespace {

// False for a daemon that has no user.vblk.control.json (one of a version
// before it); errors as read_xattr's.
Result<bool> has_json_replies(const std::string& path) {
  if (served_over_nbd(path)) {
    auto reply = live::control_get(path, kControlJson);
    if (!reply) return reply.status();
    if (reply->err == ENODATA) return false;
    if (reply->err != 0) return socket_error(reply->err, path, kControlJson, reply->value);
    return true;
  }
  if (::getxattr(path.c_str(), kControlJson, nullptr, 0) >= 0) return true;
  if (errno == ENODATA) return false;
  return xattr_error(errno, path, kControlJson);
}

}  // namespace

Result<Json> send_control_json(const std::string& path, std::string_view command) {
  auto json_replies = has_json_replies(path);
  if (!json_replies) return json_replies.status();
  if (!*json_replies)
    return Status::not_supported(path +
                                 ": the daemon serving it replies only in text (it is older than this tool): "
                                 "nothing was done; remount it to use --json");
  auto text = send_control(path, command);
  if (!text) return text.status();
  auto reply = read_xattr(path, kControlJson);
  if (!reply) return reply.status();
  auto j = parse_json(*reply);
  if (!j || !j->is_object() || j->contains("error"))
    return Status::corruption(path + ": done (" + *text + "), but " + kControlJson +
                              " is not its report: " + (j ? dump_json_compact(*j) : j.status().message()));
  return j;
}

std::string vblkfs_mountpoint_of(const std::string& image) {
  const std::vector<std::string> mounts = vblkfs_mountpoints_of(image);
  return mounts.empty() ? std::string() : mounts.back();
}

namespace {

// "in use by process N (vblkfs)" from a Busy status's cause.
std::string in_use_by(const std::string& cause) {
  std::string holder;
  if (auto at = cause.find("in use by "); at != std::string::npos) {
    holder = cause.substr(at + 10);
    for (const char* tail : {" (it cannot", " for writing"}) {
      if (auto t = holder.find(tail); t != std::string::npos) holder.erase(t);
    }
  }
  return holder.empty() ? std::string("in use by another process") : "in use by " + holder;
}

}  // namespace

std::string busy_cause(const Status& status, const std::string& image, std::string_view advice) {
  std::string cause = error_cause(status, image);
  if (status.code() != Status::Code::kBusy) return cause;
  std::string out = in_use_by(cause);
  const std::string mp = vblkfs_mountpoint_of(image);
  if (mp.empty() && out.find("(nbdkit)") != std::string::npos) {
    // Served over NBD, yet has_control_socket found no socket to use.
    return out + ", which serves it over NBD without a control socket (" + live::control_socket_path(image) +
           " is missing: the server could not create it, or it was removed); stop the server first";
  }
  out += "; ";
  out += advice;
  out += mp.empty() ? std::string(" instead") : " " + mp + " instead";
  return out;
}

std::string replace_busy_cause(const Status& status, const std::string& file) {
  std::string cause = error_cause(status, file);
  if (status.code() != Status::Code::kBusy) return cause;
  std::string out = "image is " + in_use_by(cause) + ": it cannot be replaced while in use; ";
  const std::string mp = vblkfs_mountpoint_of(file);
  out += mp.empty() ? std::string("try again once that process has closed it") : "unmount it first (vblkfs umount " + mp + ")";
  return out;
}

}  // namespace vblk::cli
