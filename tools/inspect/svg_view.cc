// vblk-inspect --svg FILE: a picture of the block map.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include <nlohmann/json.hpp>

#include "cli/json_output.h"
#include "cli/live.h"
#include "cli/report.h"
#include "inspect/inspect.h"
#include "io/file.h"

namespace vblk::cli::inspect {

int write_svg_file(const std::string& path, const std::string& svg) {
  auto held = io::lock_for_replace(path);
  if (!held) return fail(path, replace_busy_cause(held.status(), path));
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << svg;
  out.close();
  if (!out) return fail(path, std::string("cannot write: ") + std::strerror(errno));
  return 0;
}

int write_svg(const report::BlockMap& map, const SvgOptions& so, const Args& a) {
  if (int rc = write_svg_file(a.svg, render_svg(map, so))) return rc;
  if (a.json) {
    Json j = json_document(kInspectSchema);
    j["svg"] = a.svg;
    j["cells"] = map.cells.size();
    j["blocks_per_cell"] = map.blocks_per_cell;
    print_json(j);
    return 0;
  }
  std::printf("wrote %s: %zu cells of %llu block%s\n", a.svg.c_str(), map.cells.size(),
              static_cast<unsigned long long>(map.blocks_per_cell), map.blocks_per_cell == 1 ? "" : "s");
  return 0;
}

int write_image_svg(ImageStore& store, const Args& a) {
  auto map = report::build_block_map(store, report::kMaxMapCells);
  if (!map) return fail(a.image, "reading block states: " + error_cause(map.status(), a.image));
  SvgOptions so;
  so.title = store.info().path.empty() ? a.image : store.info().path;
  so.subtitle = "image, " + capacity_line(store.block_count(), store.block_size());
  return write_svg(*map, so, a);
}

}  // namespace vblk::cli::inspect
