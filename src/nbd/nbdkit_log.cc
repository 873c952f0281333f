// spdlog into nbdkit's log. See nbdkit_log.h.
#define NBDKIT_API_VERSION 2
#include "nbd/nbdkit_log.h"

#include <nbdkit-plugin.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <mutex>
#include <string>

namespace vblk::nbd {
namespace {

template <typename Mutex>
class NbdkitSink final : public spdlog::sinks::base_sink<Mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    const std::string text(msg.payload.data(), msg.payload.size());
    if (msg.level >= spdlog::level::err) {
      nbdkit_error("%s", text.c_str());
    } else if (msg.level == spdlog::level::warn) {
      nbdkit_error("warning: %s", text.c_str());
    } else {
      nbdkit_debug("%s", text.c_str());
    }
  }
  void flush_() override {}
};

}  // namespace

void log_to_nbdkit() {
  auto logger = std::make_shared<spdlog::logger>("vblk", std::make_shared<NbdkitSink<std::mutex>>());
  logger->set_level(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

}  // namespace vblk::nbd
