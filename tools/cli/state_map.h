#pragma once
// StateMap: renders a device's block states as a text picture.
//
// The device is shown as a grid of cells (by default 64 columns by at most
// 16 rows); each cell covers the same number of consecutive blocks (the
// last may cover fewer) and shows the worst state found in it, in the order
// BAD > USED > TRIMMED > FREE:
//
//   state    char  colour
//   FREE      .    dim
//   USED      #    green
//   TRIMMED   -    cyan
//   BAD       X    bold red
//
// Runs are fed in with add() as a device enumerates them (any order, any
// length), so memory is bounded by the grid, not by the device.
// Thread safety: none.

#include <cstdint>
#include <string>
#include <vector>

#include "vblk/block_state.h"

namespace vblk::cli {

struct StateRun {
  uint64_t first = 0;
  uint64_t count = 0;
  BlockState state = BlockState::kFree;
};

struct StateMapOptions {
  int columns = 64;
  int max_rows = 16;
  bool colour = false;
};

class StateMap {
 public:
  // REQUIRES: options.columns > 0, options.max_rows > 0.
  StateMap(uint64_t block_count, StateMapOptions options = {});

  // Marks [first, first+count) as `state`; the part beyond the device is ignored.
  void add(uint64_t first, uint64_t count, BlockState state);

  uint64_t blocks_per_cell() const { return per_cell_; }
  size_t cells() const { return cells_.size(); }
  // One string per grid row (characters only, no colour, no margin).
  std::vector<std::string> rows() const;
  // The full picture: one line per row prefixed with the row's first block,
  // then a legend line with the blocks-per-cell figure. Ends with '\n'.
  std::string render() const;

 private:
  uint64_t block_count_;
  StateMapOptions opt_;
  uint64_t per_cell_ = 1;
  std::vector<uint8_t> cells_;  // severity rank per cell, see kRank
};

// Convenience: renders collected runs.
std::string render_state_map(const std::vector<StateRun>& runs, uint64_t block_count,
                             const StateMapOptions& options = {});


// True when colour should be used on stdout: stdout is a terminal and the
// NO_COLOR environment variable is unset or empty (https://no-color.org).
bool stdout_wants_colour();

}  // namespace vblk::cli
