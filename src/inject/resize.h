#pragma once
// Changing the size of a served or resting image's disk (vblk-format
// --resize): the image's capacity (ImageStore::resize, vblk(5) CAPACITY),
// then the fault rules past a new, smaller end, which a disk that ends
// sooner cannot hold (a rules file naming blocks past the end would be
// refused at the next mount). Offline here; live, the control interface
// runs resize_image() inside Driver::resize (live/control.h).
// Thread safety: one resize at a time per image (the image lock, or the
// control interface's command lock).

#include <cstdint>
#include <string>

#include "util/json.h"
#include "vblk/admin_interface.h"
#include "vblk/image_store.h"
#include "vblk/status.h"

namespace vblk::inject {

struct Resized {
  ResizeReport store;
  uint32_t block_size = 0;
  size_t rules_cut = 0;  // fault rules cut back to the new end, or dropped
};

// The number of blocks of `bytes`: InvalidArgument (naming the nearest
// whole sizes) unless it is a whole number of blocks, more than 0.
Result<uint64_t> blocks_for_size(uint64_t bytes, uint32_t block_size);

// Resizes `store` to new_blocks and cuts the fault rules of `stack` (the
// admin interface of the stack over it) at a new, smaller end. A shrink refused because blocks past
// the new end are USED says so, then `discard_hint` (how to discard them).
// The caller saves the rules when rules_cut is not 0.
Result<Resized> resize_image(ImageStore& store, AdminInterface& stack, uint64_t new_blocks, bool discard,
                             const std::string& discard_hint);

// One line: "resized from 8.0 GiB (8589934592 bytes) to 12.0 GiB
// (12884901888 bytes)", then what went with a shrink.
std::string describe(const Resized& r);

// The facts of describe() as one object (vblk-format(1), JSON OUTPUT):
// "block_size", "old_capacity_bytes", "capacity_bytes", "old_block_count",
// "block_count", "discarded_used_blocks", "first_discarded_block" (null
// when none), "dropped_bad_blocks", "fault_rules_cut".
Json resized_json(const Resized& r);

// Opens `image` for writing (Busy while it is mounted or served), resizes
// it, saves its rules if they changed and closes it.
Result<Resized> resize_offline(const std::string& image, uint64_t new_bytes, bool discard,
                               const std::string& discard_hint);

}  // namespace vblk::inject
