#pragma once
// Progress: a one-line progress bar on stderr for long tool operations.
//
// Shown only when stderr is a terminal; otherwise every call is a no-op, so
// scripts and logs see nothing. The line shows a bar, the percentage, the
// rate in MiB/s and the estimated time left; it is redrawn at most ten
// times a second and erased by finish() (or the destructor).
// Thread safety: none; use from one thread.

#include <chrono>
#include <cstdint>
#include <string>

namespace vblk::cli {

class Progress {
 public:
  // `label` prefixes the line; `total` is the amount of work in bytes.
  Progress(std::string label, uint64_t total);
  // Forces the bar on or off regardless of the terminal (for tests).
  Progress(std::string label, uint64_t total, bool enabled);
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  ~Progress();

  bool enabled() const { return enabled_; }
  // Records that `done` bytes of `total` are complete; redraws if due.
  void update(uint64_t done);
  // Erases the line. Further updates are ignored.
  void finish();

 private:
  void draw();

  std::string label_;
  uint64_t total_;
  uint64_t done_ = 0;
  bool enabled_;
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
