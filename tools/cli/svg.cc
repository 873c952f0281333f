#include "cli/svg.h"

#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <cmath>

#include "util/block_text.h"
#include "util/xml_text.h"

namespace vblk::cli {
namespace {

constexpr int kCell = 12;     // cell side, px
constexpr int kGap = 1;       // between cells
constexpr int kMargin = 16;
constexpr int kHeader = 64;   // title, subtitle, counts
constexpr int kLegend = 56;

const char* state_name(BlockState s) {
  switch (s) {
    case BlockState::kFree: return "free";
    case BlockState::kUsed: return "used";
    case BlockState::kTrimmed: return "trimmed";
    case BlockState::kBad: return "bad";
  }
  return "bad";
}

// Green, lighter the better the data compresses; ratio 0 means nothing is
// stored (all-zero blocks), drawn as the lightest.
std::string used_fill(double ratio) {
  const double level = ratio <= 0 ? 1.0 : std::clamp(std::log2(std::max(ratio, 1.0)) / 3.0, 0.0, 1.0);
  return fmt::format("hsl(125,55%,{:.0f}%)", 24.0 + 46.0 * level);
}

std::string fill_of(BlockState s, double ratio) {
  switch (s) {
    case BlockState::kFree: return "#e6e6e6";
    case BlockState::kTrimmed: return "#6cc5d9";
    case BlockState::kBad: return "#d7191c";
    case BlockState::kUsed: return used_fill(ratio);
  }
  return "#000000";
}


}  // namespace

std::string render_svg(const report::BlockMap& map, const SvgOptions& opt) {
  const int cols = std::max(1, opt.columns);
  const size_t n = map.cells.size();
  const int rows = static_cast<int>((n + static_cast<size_t>(cols) - 1) / static_cast<size_t>(cols));
  const int grid_w = cols * (kCell + kGap) - kGap;
  const int width = std::max(grid_w, 560) + 2 * kMargin;
  const int grid_y = kMargin + kHeader;
  const int height = grid_y + std::max(rows, 1) * (kCell + kGap) + kLegend + kMargin;

  std::array<uint64_t, 4> totals{};
  for (const auto& c : map.cells) {
    for (size_t k = 0; k < 4; ++k) totals[k] += c.counts[k];
  }

  std::string out = svg_begin(width, height, "vblk block map: " + opt.title, opt.title, kMargin);
  out += fmt::format("<text x=\"{}\" y=\"{}\">{}</text>\n", kMargin, kMargin + 30, xml_escape(opt.subtitle));
  out += fmt::format(
      "<text x=\"{}\" y=\"{}\" id=\"counts\" data-free=\"{}\" data-used=\"{}\" data-trimmed=\"{}\" "
      "data-bad=\"{}\">{} blocks: {} free, {} used, {} trimmed, {} bad; 1 cell = {} block{}</text>\n",
      kMargin, kMargin + 48, totals[0], totals[1], totals[2], totals[3], map.block_count, totals[0], totals[1],
      totals[2], totals[3], map.blocks_per_cell, map.blocks_per_cell == 1 ? "" : "s");

  out += fmt::format("<g id=\"cells\" data-cells=\"{}\" data-blocks-per-cell=\"{}\" stroke=\"none\">\n", n,
                     map.blocks_per_cell);
  for (size_t i = 0; i < n; ++i) {
    const auto& c = map.cells[i];
    const int x = kMargin + static_cast<int>(i % static_cast<size_t>(cols)) * (kCell + kGap);
    const int y = grid_y + static_cast<int>(i / static_cast<size_t>(cols)) * (kCell + kGap);
    const uint64_t first = map.cell_first(i), blocks = map.cell_blocks(i);
    std::string tip = vblk::blocks_phrase(first, blocks) + ": " + std::string(to_string(c.worst));
    if (blocks > 1) {
      tip += fmt::format(" ({} free, {} used, {} trimmed, {} bad)", c.counts[0], c.counts[1], c.counts[2], c.counts[3]);
    }
    if (c.ratio > 0) tip += fmt::format("; compression {:.2f}:1", c.ratio);
    out += fmt::format(
        "<rect class=\"cell {}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\" data-first=\"{}\" "
        "data-blocks=\"{}\" data-state=\"{}\" data-ratio=\"{:.2f}\" data-free=\"{}\" data-used=\"{}\" "
        "data-trimmed=\"{}\" data-bad=\"{}\"><title>{}</title></rect>\n",
        state_name(c.worst), x, y, kCell, kCell, fill_of(c.worst, c.ratio), first, blocks, to_string(c.worst), c.ratio,
        c.counts[0], c.counts[1], c.counts[2], c.counts[3], xml_escape(tip));
  }
  out += "</g>\n";

  // Legend: the four states, then the USED shades by compression ratio.
  const int ly = grid_y + std::max(rows, 1) * (kCell + kGap) + 18;
  out += "<g id=\"legend\">\n";
  int x = kMargin;
  for (BlockState s : {BlockState::kFree, BlockState::kUsed, BlockState::kTrimmed, BlockState::kBad}) {
    out += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\" stroke=\"#888888\"/>", x,
                       ly - 10, kCell, kCell, fill_of(s, 2.0));
    out += fmt::format("<text x=\"{}\" y=\"{}\">{}</text>\n", x + kCell + 4, ly, to_string(s));
    x += 90;
  }
  x = kMargin;
  const int ly2 = ly + 22;
  out += fmt::format("<text x=\"{}\" y=\"{}\">USED, by compression ratio:</text>\n", x, ly2);
  x += 180;
  for (double r : {1.0, 2.0, 4.0, 8.0}) {
    out += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\" stroke=\"#888888\"/>", x,
                       ly2 - 10, kCell, kCell, used_fill(r));
    out += fmt::format("<text x=\"{}\" y=\"{}\">{:.0f}:1{}</text>\n", x + kCell + 4, ly2, r, r >= 8 ? "+" : "");
    x += 64;
  }
  out += fmt::format("<text x=\"{}\" y=\"{}\">(mixed cells show the worst state: BAD &gt; USED &gt; TRIMMED &gt; FREE)</text>\n",
                     kMargin, ly2 + 18);
  out += "</g>\n</svg>\n";
  return out;
}

}  // namespace vblk::cli
