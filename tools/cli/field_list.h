#pragma once
// FieldList: a report's "name: value" lines, rendered one per line (the
// plain report, for people and logs) or packed into two columns to fit a
// terminal (vblk-inspect --watch, which must leave room for the block map
// on an 80x24 screen).
//
// Fields are added in reading order; a break() starts a new group (a blank
// line in the plain layout; in the packed one, the next field starts a
// line). Packing puts two consecutive fields of a group side by side when
// both fit in half the width; every line is cut to the width.
// Thread safety: none.

#include <string>
#include <vector>

namespace vblk::cli {

class FieldList {
 public:
  void add(std::string name, std::string value) { fields_.push_back({std::move(name), std::move(value), false}); }
  void group_break() { fields_.push_back({"", "", true}); }

  // One "name:  value" line per field, names padded to 14 columns.
  std::string render_lines() const;
  // Two fields per line where both fit in width/2 columns. Each line is at
  // most width - 1 characters (a full-width line would wrap on some
  // terminals).
  std::string render_packed(int width) const;

 private:
  struct Field {
    std::string name, value;
    bool is_break;
  };
  std::vector<Field> fields_;
};

// Lines in `text` (counted by '\n').
int line_count(const std::string& text);

// The terminal's size on stdout, or 80x24 when stdout is not a terminal.
struct TerminalSize {
  int columns = 80;
  int rows = 24;
};
TerminalSize stdout_terminal_size();

}  // namespace vblk::cli
