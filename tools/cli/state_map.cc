#include "state_map.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace vblk::cli {
namespace {

// Cells hold a severity rank so "worst wins" is a max(). 0 means no run
// has touched the cell yet, which is drawn as FREE.
uint8_t rank(BlockState s) {
  switch (s) {
    case BlockState::kFree: return 1;
    case BlockState::kTrimmed: return 2;
    case BlockState::kUsed: return 3;
    case BlockState::kBad: return 4;
  }
  return 4;  // unknown values from a damaged image: show as the worst
}

BlockState state_of_rank(uint8_t r) {
  switch (r) {
    case 2: return BlockState::kTrimmed;
    case 3: return BlockState::kUsed;
    case 4: return BlockState::kBad;
    default: return BlockState::kFree;
  }
}

const char* colour_of(BlockState s) {
  switch (s) {
    case BlockState::kFree: return "\033[2m";
    case BlockState::kUsed: return "\033[32m";
    case BlockState::kTrimmed: return "\033[36m";
    case BlockState::kBad: return "\033[1;31m";
  }
  return "";
}
constexpr const char* kReset = "\033[0m";

}  // namespace

bool stdout_wants_colour() {
  const char* nc = std::getenv("NO_COLOR");
  if (nc != nullptr && nc[0] != '\0') return false;
  return isatty(STDOUT_FILENO) == 1;
}

StateMap::StateMap(uint64_t block_count, StateMapOptions options) : block_count_(block_count), opt_(options) {
  opt_.columns = std::max(opt_.columns, 1);
  opt_.max_rows = std::max(opt_.max_rows, 1);
  uint64_t max_cells = static_cast<uint64_t>(opt_.columns) * static_cast<uint64_t>(opt_.max_rows);
  // Rounded up as (a - 1) / b + 1, which cannot overflow: a live daemon's
  // block count is whatever its statistics say.
  per_cell_ = block_count == 0 ? 1 : (block_count - 1) / max_cells + 1;
  uint64_t n = block_count == 0 ? 0 : (block_count - 1) / per_cell_ + 1;
  cells_.assign(n, 0);
}

void StateMap::add(uint64_t first, uint64_t count, BlockState state) {
  if (count == 0 || first >= block_count_) return;
  uint64_t last = first + std::min(count, block_count_ - first) - 1;
  uint8_t r = rank(state);
  for (uint64_t c = first / per_cell_; c <= last / per_cell_; ++c) cells_[c] = std::max(cells_[c], r);
}

std::vector<std::string> StateMap::rows() const {
  std::vector<std::string> out;
  auto cols = static_cast<size_t>(opt_.columns);
  for (size_t i = 0; i < cells_.size(); i += cols) {
    std::string row;
    for (size_t j = i; j < std::min(cells_.size(), i + cols); ++j) row += to_char(state_of_rank(cells_[j]));
    out.push_back(std::move(row));
  }
  return out;
}

std::string StateMap::render() const {
  std::string out;
  auto cols = static_cast<size_t>(opt_.columns);
  int width = static_cast<int>(std::to_string(block_count_ == 0 ? 0 : block_count_ - 1).size());
  char margin[48];
  for (size_t i = 0; i < cells_.size(); i += cols) {
    std::snprintf(margin, sizeof margin, "  %*llu  ", width, static_cast<unsigned long long>(i * per_cell_));
    out += margin;
    BlockState prev = BlockState::kFree;
    bool open = false;
    for (size_t j = i; j < std::min(cells_.size(), i + cols); ++j) {
      BlockState s = state_of_rank(cells_[j]);
      if (opt_.colour && (!open || s != prev)) {
        out += colour_of(s);
        open = true;
        prev = s;
      }
      out += to_char(s);
    }
    if (open) out += kReset;
    out += '\n';
  }
  std::string legend = "  legend: ";
  for (BlockState s : {BlockState::kFree, BlockState::kUsed, BlockState::kTrimmed, BlockState::kBad}) {
    if (opt_.colour) legend += colour_of(s);
    legend += to_char(s);
    if (opt_.colour) legend += kReset;
    legend += ' ';
    legend += to_string(s);
    legend += "  ";
  }
  // Fits 80 columns up to 8-digit cells (the worst state of a mixed cell shows).
  legend += "(cell: " + std::to_string(per_cell_) + (per_cell_ == 1 ? " block" : " blocks") + ", worst state)\n";
  return out + legend;
}

std::string render_state_map(const std::vector<StateRun>& runs, uint64_t block_count,
                             const StateMapOptions& options) {
  StateMap map(block_count, options);
  for (const StateRun& r : runs) map.add(r.first, r.count, r.state);
  return map.render();
}

}  // namespace vblk::cli
