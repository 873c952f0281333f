#include "report.h"

#include <cstdio>

namespace vblk::cli {

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
