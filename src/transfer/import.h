#pragma once
// Import: fills an image with a raw disk read from a RawInput
// (transfer/raw_input.h), as vblk-format --from does.
//
// The input is read in chunks of 4 MiB, skipping the holes it reports;
// all-zero blocks are left FREE and the other blocks written in runs of at
// most 256 KiB. A partial last block is padded with zeros. A stream must
// hold exactly size() bytes: one that ends early, or holds more, fails. A
// file that shrinks while read fails too.
// The blocks are written at the store's compression level as the store
// was opened to write them; a caller that wants a final image opens it
// without deferred compression (vblk(5), Deferred compression).
// Thread safety: one import at a time per store and input.

#include <cstdint>
#include <optional>
#include <string>

#include "transfer/raw_input.h"
#include "transfer/transfer.h"
#include "vblk/image_store.h"

namespace vblk::transfer {

struct ImportOptions {
  std::string image_name;  // how failures name the image
  Cancel cancel;
  ProgressFn progress;  // bytes of the input done, up to its size
};

struct ImportCounts {
  uint64_t stored_blocks = 0;  // blocks written
  uint64_t zero_blocks = 0;    // blocks left FREE: all zeros, holes included
};

// Copies `in` into blocks 0.. of `store`. REQUIRES: the store holds at
// least in.size() bytes. Failures name the file concerned (the input, or
// image_name for the store's errors); on failure the store holds part of
// the disk and the caller discards the image.
std::optional<Failure> import_raw(ImageStore& store, RawInput& in, const ImportOptions& o, ImportCounts& counts);

}  // namespace vblk::transfer
