#include "cli/interrupt.h"

#include <csignal>

#include <atomic>

namespace vblk::cli {
namespace {

std::atomic<bool> g_interrupted{false};
extern "C" void on_signal(int) { g_interrupted.store(true); }

}  // namespace

void install_interrupt_handlers(bool restart_syscalls, bool ignore_sigpipe) {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = restart_syscalls ? SA_RESTART : 0;
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &sa, nullptr);
  if (ignore_sigpipe) signal(SIGPIPE, SIG_IGN);
}

bool interrupted() { return g_interrupted.load(); }

}  // namespace vblk::cli
