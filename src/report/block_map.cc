#include "report/block_map.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace vblk::report {
namespace {

// Severity, so that "worst wins" is a max().
int rank(BlockState s) {
  switch (s) {
    case BlockState::kFree:
      return 0;
    case BlockState::kTrimmed:
      return 1;
    case BlockState::kUsed:
      return 2;
    case BlockState::kBad:
      return 3;
  }
  return 3;
}

std::optional<BlockState> state_of_char(char c) {
  switch (c) {
    case '.':
      return BlockState::kFree;
    case '#':
      return BlockState::kUsed;
    case '-':
      return BlockState::kTrimmed;
    case 'X':
      return BlockState::kBad;
  }
  return std::nullopt;
}

// `r` rounded as "%.2f" prints it: the map's ratios are estimates, and two
// decimals keep a map of 4096 cells within one extended attribute.
double two_decimals(double r) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", r);
  return std::strtod(buf, nullptr);
}

}  // namespace

uint64_t BlockMap::cell_blocks(size_t i) const {
  const uint64_t first = cell_first(i);
  return first >= block_count ? 0 : std::min(blocks_per_cell, block_count - first);
}

uint64_t blocks_per_cell(uint64_t blocks, size_t max_cells) { return blocks == 0 ? 1 : (blocks - 1) / max_cells + 1; }

Result<BlockMap> build_block_map(ImageStore& store, size_t max_cells) {
  max_cells = std::clamp<size_t>(max_cells, 1, kMaxMapCells);
  BlockMap m;
  m.block_count = store.block_count();
  m.block_size = store.block_size();
  m.blocks_per_cell = blocks_per_cell(m.block_count, max_cells);
  const size_t ncells = m.block_count == 0 ? 0 : static_cast<size_t>((m.block_count - 1) / m.blocks_per_cell + 1);
  m.cells.resize(ncells);
  // USED runs per cell, at most kRatioSamples of them, to sample ratios from.
  std::vector<std::vector<std::pair<uint64_t, uint64_t>>> used(ncells);
  Status st = store.state_runs(0, m.block_count, [&](uint64_t first, uint64_t count, BlockState state) {
    const auto si = static_cast<size_t>(state);
    if (si > 3 || count == 0) return;
    uint64_t b = first;
    const uint64_t end = first + count;
    while (b < end) {
      const size_t c = static_cast<size_t>(b / m.blocks_per_cell);
      const uint64_t cell_end = std::min(end, (c + 1) * m.blocks_per_cell);
      BlockMapCell& cell = m.cells[c];
      cell.counts[si] += cell_end - b;
      if (rank(state) > rank(cell.worst)) cell.worst = state;
      if (state == BlockState::kUsed && used[c].size() < kRatioSamples) used[c].emplace_back(b, cell_end - b);
      b = cell_end;
    }
  });
  VBLK_RETURN_IF_ERROR(st);
  for (size_t c = 0; c < ncells; ++c) {
    uint64_t total = 0;
    for (auto [f, n] : used[c]) total += n;
    if (total == 0) continue;
    double logical = 0, stored = 0;
    const uint64_t samples = std::min<uint64_t>(kRatioSamples, total);
    for (uint64_t s = 0; s < samples; ++s) {
      uint64_t pos = s * total / samples;  // spread over the cell's USED blocks
      uint64_t block = 0;
      for (auto [f, n] : used[c]) {
        if (pos < n) {
          block = f + pos;
          break;
        }
        pos -= n;
      }
      auto loc = store.locate(block);
      if (!loc || loc->zero || loc->record_offset == 0 || loc->record_blocks == 0) continue;
      logical += static_cast<double>(m.block_size);
      stored += static_cast<double>(loc->stored_payload) / loc->record_blocks;
    }
    if (stored > 0) m.cells[c].ratio = logical / stored;
  }
  return m;
}

Json block_map_json(const BlockMap& m) {
  Json j;
  j["block_count"] = m.block_count;
  j["block_size"] = m.block_size;
  j["blocks_per_cell"] = m.blocks_per_cell;
  j["cells"] = m.cells.size();
  std::string states;
  for (const BlockMapCell& c : m.cells) states += to_char(c.worst);
  j["states"] = states;
  // A cell whose blocks are all in its worst state needs no counts: the
  // whole map must fit one extended attribute (64 KiB).
  Json mixed = Json::array(), ratios = Json::array();
  for (size_t i = 0; i < m.cells.size(); ++i) {
    const BlockMapCell& c = m.cells[i];
    if (c.counts[static_cast<size_t>(c.worst)] != m.cell_blocks(i)) {
      mixed.push_back({i, c.counts[0], c.counts[1], c.counts[2], c.counts[3]});
    }
    ratios.push_back(c.ratio > 0 ? Json(two_decimals(c.ratio)) : Json(0));
  }
  j["mixed"] = std::move(mixed);
  j["ratios"] = std::move(ratios);
  return j;
}

Result<BlockMap> block_map_from_json(const Json& v) {
  BlockMap m;
  m.block_count = json_u64(json_at(v, "block_count"));
  m.block_size = static_cast<uint32_t>(json_u64(json_at(v, "block_size")));
  m.blocks_per_cell = json_u64(json_at(v, "blocks_per_cell"));
  const std::string& states = json_string(json_at(v, "states"));
  const Json& ratios = json_items(json_at(v, "ratios"));
  const uint64_t want = m.blocks_per_cell == 0 || m.block_count == 0 ? 0 : (m.block_count - 1) / m.blocks_per_cell + 1;
  if (m.blocks_per_cell == 0 || states.size() != want || ratios.size() != want || want > kMaxMapCells) {
    return Status::invalid_argument("block map: cells do not match the block count");
  }
  m.cells.resize(want);
  for (size_t i = 0; i < want; ++i) {
    auto s = state_of_char(states[i]);
    if (!s) return Status::invalid_argument("block map: bad state of cell " + std::to_string(i));
    m.cells[i].worst = *s;
    m.cells[i].counts[static_cast<size_t>(*s)] = m.cell_blocks(i);
    m.cells[i].ratio = json_double(ratios[i]);
  }
  for (const Json& mixed : json_items(json_at(v, "mixed"))) {
    const Json& f = json_items(mixed);
    if (f.size() != 5 || json_u64(f[0], want) >= want) return Status::invalid_argument("block map: bad mixed cell");
    BlockMapCell& c = m.cells[json_u64(f[0])];
    for (size_t k = 0; k < 4; ++k) c.counts[k] = json_u64(f[k + 1]);
  }
  return m;
}

}  // namespace vblk::report
