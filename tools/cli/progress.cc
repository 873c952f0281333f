#include "progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include <CLI/CLI.hpp>

namespace vblk::cli {
namespace {

std::string format_duration(double seconds) {
  if (seconds < 0 || seconds > 99 * 3600.0) return "--:--";
  auto s = static_cast<uint64_t>(seconds + 0.5);
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%llu:%02llu:%02llu", static_cast<unsigned long long>(s / 3600),
                  static_cast<unsigned long long>(s / 60 % 60), static_cast<unsigned long long>(s % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%llu:%02llu", static_cast<unsigned long long>(s / 60),
                  static_cast<unsigned long long>(s % 60));
  }
  return buf;
}

int terminal_width() {
  winsize ws{};
  if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return 80;
}

}  // namespace

std::string progress_line(const std::string& label, uint64_t done, uint64_t total, double seconds,
                          int bar_width) {
  done = std::min(done, total);
  double frac = total == 0 ? 1.0 : static_cast<double>(done) / static_cast<double>(total);
  std::string line = label;
  if (bar_width > 0) {
    int filled = static_cast<int>(frac * bar_width);
    line += " [";
    line.append(static_cast<size_t>(filled), '#');
    line.append(static_cast<size_t>(bar_width - filled), ' ');
    line += "]";
  }
  char buf[96];
  double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0;
  std::string eta = (rate > 0 && done < total) ? format_duration(static_cast<double>(total - done) / rate)
                    : done >= total             ? format_duration(0)
                                                : std::string("--:--");
  std::snprintf(buf, sizeof buf, " %3d%%  %7.1f MiB/s  ETA %s", static_cast<int>(frac * 100),
                rate / (1024.0 * 1024.0), eta.c_str());
  return line + buf;
}

void add_output_options(CLI::App& app, OutputOptions& o) {
  auto* progress = app.add_flag("-p,--progress", o.progress,
                                "Show progress even when standard error is not a terminal (a line a second)");
  auto* quiet = app.add_flag("-q,--quiet", o.quiet, "Print no progress and no summary; errors still go to stderr");
  progress->excludes(quiet);
}

Progress::Progress(std::string label, uint64_t total, ProgressMode mode)
    : label_(std::move(label)), total_(total), enabled_(mode != ProgressMode::kNever),
      plain_(isatty(STDERR_FILENO) != 1), start_(std::chrono::steady_clock::now()), last_draw_(start_) {
  if (mode == ProgressMode::kAuto && plain_) enabled_ = false;
}

Progress::~Progress() { finish(); }

void Progress::update(uint64_t done) {
  done_ = done;
  if (!enabled_ || finished_) return;
  auto now = std::chrono::steady_clock::now();
  if (plain_) {
    if (now - last_draw_ < std::chrono::seconds(1)) return;
    last_draw_ = now;
    print_plain_line();
    return;
  }
  if (drawn_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  draw();
}

void Progress::print_plain_line() {
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::fprintf(stderr, "%s\n", progress_line(label_, done_, total_, secs, 0).c_str());
  std::fflush(stderr);
}

void Progress::draw() {
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  int width = terminal_width();
  // Bar gets what is left after the label and the ~35 columns of figures.
  int bar = std::clamp(width - static_cast<int>(label_.size()) - 40, 0, 50);
  std::string line = progress_line(label_, done_, total_, secs, bar);
  if (static_cast<int>(line.size()) >= width) line.resize(static_cast<size_t>(std::max(width - 1, 0)));
  std::fprintf(stderr, "\r%s\033[K", line.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  if (enabled_ && plain_ && done_ >= total_ && total_ > 0) print_plain_line();  // the log shows the end
  if (enabled_ && drawn_) {
    std::fputs("\r\033[K", stderr);
    std::fflush(stderr);
  }
}

}  // namespace vblk::cli
