#pragma once
// Interruption of long tool operations: SIGINT, SIGTERM and SIGHUP set a
// flag that loops poll, so a tool can clean up (remove a half-written file)
// and exit with one line instead of dying mid-write.

namespace vblk::cli {

// restart_syscalls: SA_RESTART (a blocked read resumes) or not (a write
// blocked on a full pipe returns EINTR). ignore_sigpipe: a closed pipe then
// shows up as EPIPE from write, with a message, instead of killing the tool.
void install_interrupt_handlers(bool restart_syscalls, bool ignore_sigpipe = false);

// True once one of the signals arrived.
bool interrupted();

}  // namespace vblk::cli
