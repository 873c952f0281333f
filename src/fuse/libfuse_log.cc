#include "fuse/libfuse_log.h"

#define FUSE_USE_VERSION 314
#include <fuse_log.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>

#include "util/mutex.h"

namespace vblk::fuse {
namespace {

// libfuse may log from any of its threads.
Mutex g_mu;
std::string g_last GUARDED_BY(g_mu);
std::string g_pending GUARDED_BY(g_mu);  // a message not yet ended by '\n'
std::atomic<bool> g_serving{false};

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (text.rfind("fuse: ", 0) == 0) text.erase(0, 6);
  return text;
}

// libfuse builds some messages from several calls ("unknown option(s): `",
// then each option): a message ends with its newline.
void on_libfuse_message(enum fuse_log_level level, const char* fmt, va_list ap) {
  char buf[1024];
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  std::string text;
  {
    MutexLock lock(g_mu);
    g_pending += buf;
    if (g_pending.empty() || g_pending.back() != '\n') return;
    text = trimmed(std::move(g_pending));
    g_pending.clear();
    if (text.empty()) return;
    if (level <= FUSE_LOG_WARNING && !g_serving.load()) g_last = text;
  }
  if (level > FUSE_LOG_WARNING || !g_serving.load()) {
    // Before serving, an error is reported by the start-up step that fails.
    spdlog::debug("libfuse: {}", text);
  } else {
    spdlog::warn("libfuse: {}", text);
  }
}

}  // namespace

void route_libfuse_messages() { fuse_set_log_func(on_libfuse_message); }

void libfuse_messages_now_warnings() { g_serving.store(true); }

std::string take_libfuse_message() {
  MutexLock lock(g_mu);
  std::string last = std::move(g_last);
  g_last.clear();
  return last;
}

std::string with_libfuse_cause(const std::string& what, const std::string& guess) {
  const std::string cause = take_libfuse_message();
  return cause.empty() ? what + " (" + guess + ")" : what + ": " + cause;
}

}  // namespace vblk::fuse
