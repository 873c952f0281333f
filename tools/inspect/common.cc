// What the parts of vblk-inspect share (inspect/inspect.h).
#include <nlohmann/json.hpp>

#include "cli/command_line.h"
#include "cli/report.h"
#include "inspect/inspect.h"
#include "live/socket.h"
#include "vblk/size_parse.h"

namespace vblk::cli::inspect {

int fail(const std::string& file, const std::string& cause) {
  report_error(kProg, file, cause);
  return kExitError;
}

std::string about_block(uint64_t n, const std::string& msg) {
  const std::string prefix = "block " + std::to_string(n);
  if (msg.compare(0, prefix.size(), prefix) == 0 && msg.size() > prefix.size() &&
      (msg[prefix.size()] == ':' || msg[prefix.size()] == ' ')) {
    return msg;
  }
  return prefix + ": " + msg;
}

std::string capacity_line(uint64_t block_count, uint64_t block_size) {
  return format_size(block_count * block_size) + ", " + std::to_string(block_count) + " blocks of " +
         std::to_string(block_size) + " bytes";
}

Json map_json(const StateMap& map) {
  return {{"blocks_per_cell", map.blocks_per_cell()}, {"cells", map.cells()}, {"rows", map.rows()}};
}

std::string release_first(const std::string& target) {
  return live::has_control_socket(target) ? "stop the nbdkit that serves it first" : "unmount it first (vblkfs umount)";
}

}  // namespace vblk::cli::inspect
