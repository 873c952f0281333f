#pragma once
// Progress: a one-line progress bar on stderr for long tool operations.
//
// By default (ProgressMode::kAuto) it is shown only when stderr is a
// terminal; otherwise every call is a no-op, so scripts and logs see
// nothing. The line shows a bar, the percentage, the rate in MiB/s and the
// estimated time left; it is redrawn at most ten times a second and erased
// by finish() (or the destructor). With -p (kAlways) and no terminal, it is
// a plain line ("label  42%  123.4 MiB/s  ETA 0:12") at most once a second,
// without control characters, for logs; -q (kNever) shows nothing.
// Thread safety: none; use from one thread.

#include <chrono>
#include <cstdint>
#include <string>

namespace CLI {
class App;
}

namespace vblk::cli {

enum class ProgressMode { kAuto, kAlways, kNever };

// -p/--progress and -q/--quiet, as qemu-img has them: every long operation
// of every tool takes both. Quiet also drops the summary a command prints
// on success (errors and warnings stay on stderr; --json output stays).
struct OutputOptions {
  bool progress = false;
  bool quiet = false;
  ProgressMode progress_mode() const {
    return quiet ? ProgressMode::kNever : progress ? ProgressMode::kAlways : ProgressMode::kAuto;
  }
};
// Adds -p/--progress and -q/--quiet (which exclude each other) to `app`.
void add_output_options(CLI::App& app, OutputOptions& o);

class Progress {
 public:
  // `label` prefixes the line; `total` is the amount of work in bytes.
  Progress(std::string label, uint64_t total, ProgressMode mode = ProgressMode::kAuto);
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  ~Progress();

  bool enabled() const { return enabled_; }
  // True when the bar is redrawn in place on a terminal: a message printed
  // meanwhile must erase it first ("\r\033[K").
  bool redraws() const { return enabled_ && !plain_; }
  // Records that `done` bytes of `total` are complete; redraws if due.
  void update(uint64_t done);
  // Erases the line. Further updates are ignored.
  void finish();

 private:
  void draw();
  void print_plain_line();

  std::string label_;
  uint64_t total_;
  uint64_t done_ = 0;
  bool enabled_;
  bool plain_;  // lines for a log rather than a bar redrawn in place
  bool drawn_ = false;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

// The line the bar would show, without terminal control characters
// (exposed for tests): "label [####      ]  42%  123.4 MiB/s  ETA 0:12".
std::string progress_line(const std::string& label, uint64_t done, uint64_t total, double seconds,
                          int bar_width);

}  // namespace vblk::cli
