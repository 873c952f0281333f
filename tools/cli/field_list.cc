#include "cli/field_list.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace vblk::cli {
namespace {

// The plain layout's name column and the packed layout's: "recompression:"
// is the longest name, 14 characters.
constexpr size_t kNameColumn = 14;
constexpr size_t kPackedNameColumn = 12;

std::string pad(const std::string& s, size_t width) {
  return s.size() >= width ? s + " " : s + std::string(width - s.size(), ' ');
}

std::string cut(std::string line, int width) {
  const size_t max = static_cast<size_t>(std::max(width - 1, 1));
  if (line.size() > max) line.resize(max);
  return line;
}

}  // namespace

std::string FieldList::render_lines() const {
  std::string out;
  for (const Field& f : fields_) out += f.is_break ? "\n" : pad(f.name, kNameColumn) + f.value + "\n";
  return out;
}

std::string FieldList::render_packed(int width) const {
  const size_t half = static_cast<size_t>(std::max(width / 2, 20));
  auto text = [](const Field& f) { return pad(f.name, kPackedNameColumn) + f.value; };
  auto fits_half = [&](const Field& f) { return text(f).size() + 1 < half; };
  std::string out;
  for (size_t i = 0; i < fields_.size(); ++i) {
    const Field& f = fields_[i];
    if (f.is_break) continue;
    const bool pair = i + 1 < fields_.size() && !fields_[i + 1].is_break && fits_half(f) && fits_half(fields_[i + 1]);
    std::string line = pair ? pad(text(f), half) + text(fields_[++i]) : text(f);
    out += cut(std::move(line), width) + "\n";
  }
  return out;
}

int line_count(const std::string& text) { return static_cast<int>(std::count(text.begin(), text.end(), '\n')); }

TerminalSize stdout_terminal_size() {
  TerminalSize size;
  winsize ws{};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
    size.columns = ws.ws_col;
    size.rows = ws.ws_row;
  }
  return size;
}

}  // namespace vblk::cli
