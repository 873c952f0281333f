#include "fuse/service_notify.h"

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace vblk::fuse {
namespace {

// A STATUS= value is one line of the notification: a newline in a path
// would start a new assignment.
std::string one_line(std::string text) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  return text;
}

}  // namespace

void ServiceNotifier::status(const std::string& text) { send("STATUS=" + one_line(text)); }

void ServiceNotifier::ready(const std::string& status) { send("READY=1\nSTATUS=" + one_line(status)); }

void ServiceNotifier::stopping(const std::string& status) { send("STOPPING=1\nSTATUS=" + one_line(status)); }

void ServiceNotifier::send(const std::string& state) {
  if (!enabled_) return;
  // 0 without NOTIFY_SOCKET: nothing to tell.
  const int r = sd_notify(0, state.c_str());
  if (r >= 0 || warned_.exchange(true)) return;
  const char* socket = std::getenv("NOTIFY_SOCKET");
  spdlog::warn("NOTIFY_SOCKET={}: cannot notify the service manager: {}", socket ? socket : "", std::strerror(-r));
}

}  // namespace vblk::fuse
