#include "store/page_index.h"

#include <algorithm>

namespace vblk::store {

namespace {
// Fewer cached pages than this would evict pages a single request needs.
constexpr uint64_t kMinCachedPages = 16;
}  // namespace

PageIndex::PageIndex(uint32_t entries_per_page, uint64_t cache_bytes)
    : entries_per_page_(entries_per_page),
      budget_pages_(std::max<uint64_t>(cache_bytes / (uint64_t{entries_per_page} * sizeof(format::IndexEntry)),
                                       kMinCachedPages)) {}

std::optional<PageLocation> PageIndex::stored_at(uint64_t page_no) const {
  auto it = dir_.find(page_no);
  if (it == dir_.end()) return std::nullopt;
  return it->second;
}

std::optional<PageLocation> PageIndex::mark_stored(uint64_t page_no, const PageLocation& at) {
  std::optional<PageLocation> old = stored_at(page_no);
  dir_[page_no] = at;
  changed_.insert(page_no);
  if (auto it = pages_.find(page_no); it != pages_.end() && it->second.dirty) {
    it->second.dirty = false;
    --dirty_;
  }
  return old;
}

Result<Page*> PageIndex::get(uint64_t page_no, bool create, const Loader& load) {
  if (auto it = pages_.find(page_no); it != pages_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    return &it->second;
  }
  Page page;
  if (auto dir = dir_.find(page_no); dir != dir_.end()) {
    VBLK_RETURN_IF_ERROR(load(page_no, dir->second, &page.entries, &page.dirty));
    if (page.dirty) ++dirty_;
  } else if (!create) {
    return static_cast<Page*>(nullptr);
  } else {
    page.entries.resize(entries_per_page_);
  }
  lru_.push_front(page_no);
  page.lru = lru_.begin();
  auto [it, _] = pages_.emplace(page_no, std::move(page));
  return &it->second;
}

Page* PageIndex::cached(uint64_t page_no) {
  auto it = pages_.find(page_no);
  return it == pages_.end() ? nullptr : &it->second;
}

void PageIndex::mark_dirty(Page* page) {
  if (page->dirty) return;
  page->dirty = true;
  ++dirty_;
}

std::vector<uint64_t> PageIndex::dirty_pages() const {
  std::vector<uint64_t> out;
  for (auto& [page_no, page] : pages_)
    if (page.dirty) out.push_back(page_no);
  std::sort(out.begin(), out.end());
  return out;
}

void PageIndex::evict() {
  for (auto it = lru_.end(); pages_.size() > budget_pages_ && it != lru_.begin();) {
    --it;
    auto p = pages_.find(*it);
    if (p->second.dirty) continue;
    it = lru_.erase(it);
    pages_.erase(p);
  }
}

std::vector<uint64_t> PageIndex::present(uint64_t first_page, uint64_t last_page) const {
  std::vector<uint64_t> out;
  for (auto it = dir_.lower_bound(first_page); it != dir_.end() && it->first <= last_page; ++it)
    out.push_back(it->first);
  for (auto& [p, _] : pages_)
    if (p >= first_page && p <= last_page && !dir_.count(p)) out.push_back(p);
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<PageLocation> PageIndex::drop(uint64_t page_no) {
  std::optional<PageLocation> old = stored_at(page_no);
  // A page never stored leaves no entry to remove.
  if (old) changed_.insert(page_no);
  dir_.erase(page_no);
  if (auto p = pages_.find(page_no); p != pages_.end()) {
    if (p->second.dirty) --dirty_;
    lru_.erase(p->second.lru);
    pages_.erase(p);
  }
  return old;
}

void PageIndex::reset() {
  dir_.clear();
  pages_.clear();
  lru_.clear();
  dirty_ = 0;
  changed_.clear();
}

}  // namespace vblk::store
