#pragma once
// The stack's spdlog messages (retries, injections, the session summary)
// go where nbdkit's own go: warnings and errors always, the rest with -v.
// Thread safety: set up once, in after_fork, before any connection.

namespace vblk::nbd {

// Makes nbdkit's log the default logger, at level info.
void log_to_nbdkit();

}  // namespace vblk::nbd
