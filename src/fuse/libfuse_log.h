#pragma once
// libfuse's own messages, routed into vblkfs.
//
// libfuse prints its errors to stderr itself ("fuse: unknown option(s):
// `-o bogus'"), which put a second line under vblkfs's own error, and went
// nowhere once the daemon had detached. Installed, the handler keeps the
// last message so that a failing step can name libfuse's cause in its one
// line, and logs every message through spdlog (errors as warnings: the
// failure that follows, if any, is the error).
// Thread safety: libfuse may call the handler from any thread; the functions
// below may be called from any thread.

#include <string>

namespace vblk::fuse {

// Installs the handler (process-wide; idempotent). Until the next call,
// errors and warnings are kept for take_libfuse_message() and logged at
// debug level (start-up warnings reach stderr, which would bring back the
// second line).
void route_libfuse_messages();
// Once the mount is serving: libfuse's errors and warnings are logged as
// warnings.
void libfuse_messages_now_warnings();

// The last message libfuse gave since the previous call, without its
// "fuse: " prefix and trailing newline, and forgets it; "" when none.
std::string take_libfuse_message();

// `what`, followed by ": " and libfuse's message if it gave one, or by
// " (" + `guess` + ")" if it did not.
std::string with_libfuse_cause(const std::string& what, const std::string& guess);

}  // namespace vblk::fuse
