// Changing the capacity of a resizable image (vblk(5), CAPACITY).
//
// The capacity in force is the one the checkpoint in force carries in its
// metadata, so a change is a checkpoint: the slot write that puts it in
// force is the commit point, and a crash before it leaves the old capacity,
// after it the new one. Everything happens under mu_, from the check of
// the blocks beyond a new, smaller end to the slot write, so no write can
// slip in between: a write that had passed its range check before is
// checked again where it is appended (commit_writes_locked).
//
// Shrinking drops the blocks at or beyond the new end before the
// checkpoint is put together: their entries become FREE (the part of the
// last page past the end is zero, as the format wants), pages wholly past
// it leave the page table, and the bad-block list is cut at the end.
// Growing adds FREE blocks: entries past the old end were zero already.
#include <spdlog/spdlog.h>

#include "store/store_impl.h"

namespace vblk::store {

using format::IndexEntry;

Result<ResizeReport> StoreImpl::resize(uint64_t new_count, bool discard) {
  MutexLock lock(mu_);
  const std::string& name = backend_->name();
  VBLK_RETURN_IF_ERROR(check_writable());
  if (!resizable_)
    return Status::not_supported(name + ": the image was created without the resizable feature, so its capacity "
                                        "cannot change; copy it into a new image of the size wanted "
                                        "(vblk-export IMAGE - | vblk-format NEW --from - --size SIZE)");
  if (Status s = format::validate_geometry(sb_.block_size, new_count, sb_.segment_size); !s)
    return Status::invalid_argument(name + ": " + s.message());
  ResizeReport r;
  r.old_block_count = block_count_;
  r.new_block_count = new_count;
  const uint64_t old_count = r.old_block_count;
  if (new_count == old_count) return r;
  const uint32_t per_page = sb_.entries_per_page;
  std::vector<uint64_t> beyond;  // pages holding blocks at or past the new end
  if (new_count < old_count) {
    beyond = present_pages(page_of(new_count), page_of(old_count - 1));
    for (uint64_t page_no : beyond) {
      auto page = get_page(page_no, false);
      if (!page) return page.status().with_prefix(name + ": resize");
      if (!*page) continue;
      for (uint64_t b = std::max(new_count, page_no * per_page); b < std::min(old_count, (page_no + 1) * per_page);
           ++b) {
        if ((*page)->entries[slot_of(b)].state != static_cast<uint8_t>(BlockState::kUsed)) continue;
        if (r.discarded_used++ == 0) r.first_discarded = b;
      }
    }
    r.discarded_bad = bad_.count_in(new_count, old_count - new_count);
    if (r.discarded_used && !discard)
      return Status::invalid_argument(
          name + ": cannot shrink to " + std::to_string(new_count) + " blocks: " + std::to_string(r.discarded_used) +
          " block" + (r.discarded_used == 1 ? "" : "s") + " at or beyond the new end " +
          (r.discarded_used == 1 ? "is" : "are") + " USED, the first is block " + std::to_string(r.first_discarded));
    // Nothing has changed yet; from here on the blocks go.
    for (uint64_t page_no : beyond) {
      auto page = get_page(page_no, false);
      if (!page) {
        broken_ = true;
        return page.status().with_prefix(name + ": resize: refusing writes until the image is opened again");
      }
      if (!*page) continue;
      for (uint64_t b = std::max(new_count, page_no * per_page); b < std::min(old_count, (page_no + 1) * per_page);
           ++b)
        if (Status s = set_entry(b, IndexEntry{}); !s) {
          broken_ = true;
          return s.with_prefix(name + ": resize");
        }
      if (page_no * per_page >= new_count) drop_page_locked(page_no);
    }
    bad_.remove(new_count, old_count - new_count);
  }
  block_count_ = new_count;
  if (Status s = checkpoint_locked(); !s) {
    if (new_count < old_count) {
      // The file still holds the dropped blocks and the old capacity; what
      // memory holds is neither. The next open finds one or the other.
      broken_ = true;
      return s.with_prefix(name + ": resize: refusing writes until the image is opened again");
    }
    block_count_ = old_count;
    return s.with_prefix(name + ": resize");
  }
  spdlog::debug("{}: capacity {} -> {} blocks{}", name, old_count, new_count,
               r.discarded_used ? " (" + std::to_string(r.discarded_used) + " USED blocks discarded)" : "");
  // As checkpoint() does: what the checkpoint released is punched now.
  if (segments_.count(SegmentState::kReleased)) punch_released(true, false);
  evict_pages();
  return r;
}

}  // namespace vblk::store
