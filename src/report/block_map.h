#pragma once
// BlockMap: a picture-sized summary of a device, for vblk-inspect's state
// map and SVG, offline (from the image) or live (from the daemon, through
// the user.vblk.map extended attribute).
//
// The blocks are split into at most `max_cells` cells of blocks_per_cell
// consecutive blocks each (the last may cover fewer). A cell carries the
// worst state found in it (BAD > USED > TRIMMED > FREE, as the text map
// shows it), the number of its blocks in each state, and the compression
// ratio of its stored data (logical bytes / stored payload bytes), estimated
// from up to kRatioSamples USED blocks spread over the cell (0 when nothing
// in it is stored: FREE, TRIMMED, BAD or all-zero blocks).
// Thread safety: build_block_map may run concurrently with I/O on the store.

#include <array>
#include <cstdint>
#include <vector>

#include "util/json.h"
#include "vblk/block_state.h"
#include "vblk/image_store.h"
#include "vblk/status.h"

namespace vblk::report {

inline constexpr size_t kMaxMapCells = 4096;
inline constexpr size_t kRatioSamples = 8;

struct BlockMapCell {
  BlockState worst = BlockState::kFree;
  std::array<uint64_t, 4> counts{};  // blocks per state, indexed by BlockState
  double ratio = 0;
};

struct BlockMap {
  uint64_t block_count = 0;
  uint32_t block_size = 0;
  uint64_t blocks_per_cell = 1;
  std::vector<BlockMapCell> cells;
  // First block and number of blocks of cell i.
  uint64_t cell_first(size_t i) const { return i * blocks_per_cell; }
  uint64_t cell_blocks(size_t i) const;
};

// Blocks per cell for a device of `blocks` shown in at most `max_cells`.
uint64_t blocks_per_cell(uint64_t blocks, size_t max_cells);

// REQUIRES: 1 <= max_cells <= kMaxMapCells.
Result<BlockMap> build_block_map(ImageStore& store, size_t max_cells);

// {"block_count", "block_size", "blocks_per_cell", "cells", "states": one
// character per cell (. # - X), "mixed": [[cell, free, used, trimmed, bad]...]
// for the cells not wholly in their worst state, "ratios": [ratio per cell
// to two decimals, 0 when nothing is stored]}.
Json block_map_json(const BlockMap& map);
// Reads what block_map_json wrote. InvalidArgument if it does not fit.
Result<BlockMap> block_map_from_json(const Json& v);

}  // namespace vblk::report
