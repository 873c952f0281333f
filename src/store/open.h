#pragma once
// Opening and creating images below ImageStore::create/open, for callers
// that supply their own backend or host file (tests: a crash-simulating
// file, an in-memory one).

#include <memory>
#include <string>

#include "format/format.h"
#include "io/file.h"
#include "store/segment_backend.h"
#include "vblk/image_store.h"

namespace vblk::store {

// Validates `opts` and builds the superblock of a new image.
Result<format::Superblock> superblock_for(const std::string& name, const FormatOptions& opts);
// Writes the superblock and an empty checkpoint, then syncs.
Status write_empty_image(SegmentBackend& backend, const format::Superblock& sb);
Status write_empty_image(io::File& file, const format::Superblock& sb);
// Opens and recovers the image `backend` holds (no locking: the caller's
// business).
Result<std::unique_ptr<ImageStore>> open_image(std::unique_ptr<SegmentBackend> backend, const OpenOptions& opts);
// open_image of a single-file image (FileBackend).
Result<std::unique_ptr<ImageStore>> open_image_file(std::unique_ptr<io::File> file, const OpenOptions& opts);

}  // namespace vblk::store
