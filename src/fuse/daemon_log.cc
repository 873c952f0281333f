// Where vblkfs logs. See daemon_log.h.
#include "fuse/daemon_log.h"

#include <fcntl.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/sinks/syslog_sink.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace vblk::fuse {

spdlog::sink_ptr setup_logging(const MountOptions& o, bool daemon) {
  std::vector<spdlog::sink_ptr> sinks;
  spdlog::sink_ptr early_stderr;
  if (!o.log_file.empty())
    sinks.push_back(std::make_shared<spdlog::sinks::basic_file_sink_mt>(o.log_file));
  else if (!daemon)
    sinks.push_back(std::make_shared<spdlog::sinks::stderr_sink_mt>());
  if (o.syslog || (daemon && o.log_file.empty()))
    sinks.push_back(std::make_shared<spdlog::sinks::syslog_sink_mt>("vblkfs", LOG_PID, LOG_DAEMON, true));
  if (daemon) {
    early_stderr = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    early_stderr->set_level(spdlog::level::warn);
    early_stderr->set_pattern("vblkfs: %v");
    sinks.push_back(early_stderr);
  }
  auto logger = std::make_shared<spdlog::logger>("vblkfs", sinks.begin(), sinks.end());
  logger->set_level(spdlog::level::from_str(o.log_level));
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  return early_stderr;
}

void detach_from_terminal(const spdlog::sink_ptr& early_stderr) {
  early_stderr->set_level(spdlog::level::off);
  int null = ::open("/dev/null", O_RDWR);
  if (null >= 0) {
    ::dup2(null, 0), ::dup2(null, 1), ::dup2(null, 2);
    if (null > 2) ::close(null);
  }
  if (::chdir("/") != 0) spdlog::warn("chdir /: {}", std::strerror(errno));
}

}  // namespace vblk::fuse
