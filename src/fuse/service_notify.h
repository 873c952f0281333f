#pragma once
// ServiceNotifier: tells a service manager how a vblkfs running in the
// foreground is doing, with sd_notify(3): a Type=notify systemd unit
// (vblkfs@.service) starts what is ordered after it only once READY=1 has
// come, and shows the last STATUS= line in `systemctl status`.
//
//   starting     STATUS=opening IMAGE
//   ready        READY=1, STATUS=serving IMAGE at MOUNTPOINT
//   stopping     STOPPING=1, STATUS=flushing and closing IMAGE
//
// Without NOTIFY_SOCKET in the environment (not started by systemd), or
// when constructed disabled, every call does nothing. A message that cannot
// be sent is logged once as a warning; the mount goes on.
// Thread safety: any method may be called from any thread.

#include <atomic>
#include <string>

namespace vblk::fuse {

class ServiceNotifier {
 public:
  explicit ServiceNotifier(bool enabled) : enabled_(enabled) {}
  ServiceNotifier(const ServiceNotifier&) = delete;
  ServiceNotifier& operator=(const ServiceNotifier&) = delete;

  void status(const std::string& text);
  void ready(const std::string& status);
  void stopping(const std::string& status);

 private:
  // state: newline-separated KEY=VALUE assignments.
  void send(const std::string& state);

  const bool enabled_;
  std::atomic<bool> warned_{false};
};

}  // namespace vblk::fuse
