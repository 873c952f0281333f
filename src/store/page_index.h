#pragma once
// PageIndex: the block index of an image, block -> IndexEntry, in pages of
// entries_per_page entries (vblk(5) INDEX). It holds the page directory
// (where the PAGE record of each stored page lies) and a cache of pages in
// memory, loaded on demand through a loader the store supplies. Clean pages
// are evicted beyond the cache budget; dirty ones stay until a checkpoint
// stores them (mark_stored). Memory follows written data, never capacity.
// It also keeps which directory entries changed since a checkpoint took
// them (a DELTA checkpoint writes those alone).
// No I/O and no lock of its own: StoreImpl holds mu_ around every call.

#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

#include "format/format.h"
#include "vblk/status.h"

namespace vblk::store {

struct PageLocation {
  uint64_t offset = 0;  // of the PAGE (or META) record
  uint32_t length = 0;  // the record's total length
};

struct Page {
  std::vector<format::IndexEntry> entries;
  bool dirty = false;
  std::list<uint64_t>::iterator lru;
};

class PageIndex {
 public:
  // Reads the entries of a stored page; may mark them dirty (a repair that
  // rebuilt them).
  using Loader =
      std::function<Status(uint64_t page_no, const PageLocation& at, std::vector<format::IndexEntry>* entries,
                           bool* dirty)>;

  PageIndex(uint32_t entries_per_page, uint64_t cache_bytes);

  uint32_t entries_per_page() const { return entries_per_page_; }
  uint64_t page_of(uint64_t block) const { return block / entries_per_page_; }
  uint32_t slot_of(uint64_t block) const { return static_cast<uint32_t>(block % entries_per_page_); }
  uint64_t page_bytes() const { return uint64_t{entries_per_page_} * sizeof(format::IndexEntry); }

  // ---- the directory: where stored pages lie ----
  const std::map<uint64_t, PageLocation>& directory() const { return dir_; }
  std::optional<PageLocation> stored_at(uint64_t page_no) const;
  // Loading a checkpoint: page_no is stored at `at`.
  void load_stored(uint64_t page_no, const PageLocation& at) { dir_[page_no] = at; }
  // A checkpoint stored page_no at `at`: it is clean now. Returns where it
  // was stored before, if anywhere (that record is no longer live).
  std::optional<PageLocation> mark_stored(uint64_t page_no, const PageLocation& at);

  // ---- the cache ----
  // The page, loaded through `load` when stored and not cached; a new page
  // of FREE entries when neither and `create`, else nullptr.
  Result<Page*> get(uint64_t page_no, bool create, const Loader& load);
  Page* cached(uint64_t page_no);
  void mark_dirty(Page* page);
  uint64_t dirty_count() const { return dirty_; }
  // The dirty pages, ascending.
  std::vector<uint64_t> dirty_pages() const;
  size_t cached_count() const { return pages_.size(); }
  // Evicts clean pages, least recently used first, down to the budget.
  void evict();
  // Pages in [first_page, last_page] that exist, stored or in memory,
  // ascending. Work follows the pages that exist, never the range's size.
  std::vector<uint64_t> present(uint64_t first_page, uint64_t last_page) const;
  // Forgets page_no, stored and cached (a shrink: its entries are all FREE).
  // Returns where it was stored, if anywhere.
  std::optional<PageLocation> drop(uint64_t page_no);
  void reset();

  // ---- directory changes (delta checkpoints) ----
  // Pages whose directory entry changed (mark_stored, or drop of a stored
  // page) since the last take_changes(), ascending; loading changes none.
  const std::set<uint64_t>& changes() const { return changed_; }
  // A checkpoint's snapshot: returns the changes and starts a new set.
  std::set<uint64_t> take_changes() { return std::exchange(changed_, {}); }
  // The checkpoint that took `taken` failed: they are changes again.
  void restore_changes(const std::set<uint64_t>& taken) { changed_.insert(taken.begin(), taken.end()); }

 private:
  const uint32_t entries_per_page_;
  const uint64_t budget_pages_;
  std::map<uint64_t, PageLocation> dir_;
  std::unordered_map<uint64_t, Page> pages_;
  std::list<uint64_t> lru_;  // cached pages, most recent first
  uint64_t dirty_ = 0;
  std::set<uint64_t> changed_;
};

}  // namespace vblk::store
