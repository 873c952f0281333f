#pragma once
// The checkpoint metadata chain as the store keeps it in memory and reads it
// from the image (vblk(5) CHECKPOINT METADATA).

#include <cstdint>
#include <vector>

#include "format/checkpoint_meta.h"
#include "store/page_index.h"

namespace vblk::store {

// The metadata of the checkpoint in force and the chain of checkpoints it
// needs (vblk(5) CHECKPOINT METADATA): a FULL base and the DELTAs after
// it. Every META record of the chain is live until a FULL checkpoint
// replaces the chain.
struct MetaChain {
  format::MetaLocation last;         // the checkpoint in force's; last_chunk 0: none
  std::vector<PageLocation> chunks;  // every META record of the chain, oldest first
  uint64_t depth = 0;                // DELTAs since the base
  uint64_t base_bytes = 0;           // the base's metadata bytes
  uint64_t delta_bytes = 0;          // the DELTAs' metadata bytes
  bool present() const { return last.last_chunk != 0; }
};

// One checkpoint's metadata as read from the image: decoded, where its META
// records lie, and where the slot or delta that named it said it is.
struct MetaLink {
  format::CheckpointMeta meta;
  std::vector<PageLocation> chunks;  // chunk 0 first
  format::MetaLocation at;
};

}  // namespace vblk::store
