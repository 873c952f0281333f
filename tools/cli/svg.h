#pragma once
// render_svg: a picture of a device's block map (report/block_map.h) as a
// standalone SVG document, good enough to attach to a bug report.
//
// One square cell per map cell, 64 to a row, left to right and top to bottom
// from block 0. The fill gives the cell's worst state: FREE light grey,
// TRIMMED cyan, BAD red, USED green, the lighter the better its data
// compresses (1:1 darkest, 8:1 and better lightest; all-zero data, which is
// not stored, lightest too). Every cell is a <rect class="cell STATE"> with
// data-first, data-blocks, data-state, data-ratio and per-state block counts
// (data-free, data-used, data-trimmed, data-bad), and a <title> tooltip. A
// header names the device and a legend explains the colours.
// Thread safety: pure function.

#include <string>

#include "report/block_map.h"

namespace vblk::cli {

struct SvgOptions {
  std::string title;     // e.g. the image path or mountpoint
  std::string subtitle;  // e.g. capacity and block size
  int columns = 64;
};

std::string render_svg(const report::BlockMap& map, const SvgOptions& options);

}  // namespace vblk::cli
