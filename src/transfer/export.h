#pragma once
// Export: writes the disk held in an image out as a raw disk, into a
// RawOutput (transfer/raw_output.h), as vblk-export(1) does.
//
// The output is sparse where it can be: FREE and TRIMMED blocks, and USED
// blocks that hold only zeros, are never written to a sparse output (they
// are holes); a stream gets those zeros written. The block states are
// enumerated 64 MiB of disk at a time and USED blocks read 1 MiB at a
// time. The image should be open read-only (a shared lock): nothing can
// change it during the export, so the output is one consistent state.
//
// BAD blocks: without bad_zero (or salvage) an image with BAD blocks is
// refused before anything is written (Why::kBadBlocks, naming them);
// with it they are written as zeros. salvage also writes as zeros the
// blocks that cannot be read (damaged records, an unreadable index page:
// Corruption, BadBlock or IoError from the store); a read that fails is
// done again block by block, so only the blocks that fail alone become
// zeros. Every run of such blocks with one cause is passed to
// `unreadable` once it ends. Any other failure (the host, the output, a
// cancel) ends the export.
// Thread safety: one export at a time per store and output.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "transfer/raw_output.h"
#include "transfer/transfer.h"
#include "vblk/image_store.h"

namespace vblk::transfer {

struct ExportOptions {
  std::string image_name;  // how failures name the image
  bool bad_zero = false;   // BAD blocks are written as zeros
  bool salvage = false;    // unreadable blocks too (implies bad_zero)
  Cancel cancel;
  ProgressFn progress;  // bytes of the disk done, up to its capacity
  // salvage: blocks [first, first+count) written as zeros, for `cause`
  // ("BAD block", or the store's error without its block and record).
  std::function<void(uint64_t first, uint64_t count, const std::string& cause)> unreadable;
};

struct ExportCounts {
  uint64_t bytes_written = 0;                         // bytes written to the output, zeros included
  uint64_t holes_bytes = 0;                           // bytes left as holes (0 on a stream)
  uint64_t used = 0, free = 0, trimmed = 0, bad = 0;  // blocks per state
  uint64_t zero_blocks = 0;                           // USED blocks that read as zeros
  // Salvage: blocks written as zeros because they could not be read (BAD
  // ones included).
  uint64_t unreadable = 0;
};

// "3 BAD blocks (5-6, 100)", naming at most 8 ranges ("..., and N more ranges").
std::string bad_blocks_text(const std::vector<std::pair<uint64_t, uint64_t>>& ranges);

// The refusal of an image with BAD blocks when they are not to be zeros:
// Why::kBadBlocks, "has N BAD blocks (...); nothing was exported".
// nullopt when the export may go ahead.
std::optional<Failure> refuse_bad_blocks(ImageStore& store, const ExportOptions& o);

// Exports the whole disk of `store` into `out` (refuse_bad_blocks first).
// On success `counts` says what was written; on failure the output holds
// a part of the disk and the caller discards it.
std::optional<Failure> export_image(ImageStore& store, RawOutput& out, const ExportOptions& o, ExportCounts& counts);

}  // namespace vblk::transfer
