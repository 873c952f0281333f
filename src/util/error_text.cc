#include "util/error_text.h"

namespace vblk {

std::string one_line(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::string error_cause(const Status& status, std::string_view file) {
  std::string_view msg = status.message();
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

}  // namespace vblk
