#pragma once
// What the transfer engines (transfer/export.h, transfer/import.h) share:
// how a transfer fails, is stopped and reports progress. The engines
// write no terminal output; their callers turn these into messages,
// progress bars and exit codes.
// Thread safety: plain values; the callbacks run on the transfer's thread.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace vblk::transfer {

// The name that stands for standard input or output.
inline constexpr std::string_view kStdio = "-";

// A failed transfer: the file at fault, as its caller named it, and the
// cause on one line, without the file's name ("FILE: cause" together).
struct Failure {
  enum class Why {
    kFailed,       // the cause says it
    kInterrupted,  // the cancel callback said stop (cause "interrupted")
    kBadBlocks,    // export only: the image has BAD blocks and they are not to be zeros
  };
  std::string file;
  std::string cause;
  Why why = Why::kFailed;
};

// Polled between steps (and while waiting on a stream); true stops the
// transfer with Why::kInterrupted. Empty: never.
using Cancel = std::function<bool()>;

// Called with the bytes of the disk done so far, in increasing order.
using ProgressFn = std::function<void(uint64_t done)>;

}  // namespace vblk::transfer
