#include "report.h"

#include <cstdio>

namespace vblk::cli {
namespace {

std::string one_line(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

}  // namespace

std::string error_cause(const Status& status, std::string_view file) {
  std::string_view msg = status.message();
  // Stores and files name the path themselves; do not say it twice.
  for (bool stripped = true; stripped && !file.empty();) {
    stripped = false;
    if (msg.size() > file.size() + 2 && msg.substr(0, file.size()) == file && msg.substr(file.size(), 2) == ": ") {
      msg.remove_prefix(file.size() + 2);
      stripped = true;
    }
  }
  if (msg.empty()) return to_string(status.code());
  return one_line(msg);
}

void report_error(std::string_view prog, std::string_view file, std::string_view cause) {
  std::string line(prog);
  line += ": ";
  if (!file.empty()) {
    line += one_line(file);
    line += ": ";
  }
  line += one_line(cause);
  line += '\n';
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
}

}  // namespace vblk::cli
