// PageIndex: the page directory, loading on demand, dirty pages and
// eviction.
#include "store/page_index.h"

#include <gtest/gtest.h>

#include <set>

namespace vblk::store {
namespace {

constexpr uint32_t kPerPage = 4;
// A cache budget of this many pages (PageIndex keeps at least 16).
constexpr uint64_t kBudgetPages = 16;

PageIndex make_index() { return PageIndex(kPerPage, kBudgetPages * kPerPage * sizeof(format::IndexEntry)); }

// Loads pages whose entries all have record_offset == page number + 1000.
struct CountingLoader {
  int loads = 0;
  Status fail_with = Status::ok();
  bool mark_dirty = false;
  PageIndex::Loader fn() {
    return [this](uint64_t page_no, const PageLocation&, std::vector<format::IndexEntry>* entries, bool* dirty) {
      ++loads;
      if (!fail_with) return fail_with;
      entries->assign(kPerPage, format::IndexEntry{});
      for (auto& e : *entries) e.record_offset = page_no + 1000;
      *dirty = mark_dirty;
      return Status::ok();
    };
  }
};

TEST(PageIndex, APageNeitherStoredNorCachedIsAbsentUnlessCreated) {
  PageIndex index = make_index();
  CountingLoader loader;
  auto absent = index.get(3, false, loader.fn());
  ASSERT_TRUE(absent.is_ok());
  EXPECT_EQ(*absent, nullptr);
  auto created = index.get(3, true, loader.fn());
  ASSERT_TRUE(created.is_ok());
  ASSERT_NE(*created, nullptr);
  EXPECT_EQ((*created)->entries.size(), kPerPage);
  EXPECT_EQ(loader.loads, 0);
  EXPECT_EQ(index.present(0, 10), std::vector<uint64_t>{3});
}

TEST(PageIndex, StoredPagesLoadOnceAndStayUntilEvicted) {
  PageIndex index = make_index();
  CountingLoader loader;
  index.load_stored(7, {4096, 100});
  auto page = index.get(7, false, loader.fn());
  ASSERT_TRUE(page.is_ok());
  EXPECT_EQ((*page)->entries[0].record_offset, 1007u);
  ASSERT_TRUE(index.get(7, false, loader.fn()).is_ok());
  EXPECT_EQ(loader.loads, 1);
}

TEST(PageIndex, ALoadFailureIsReturnedAndNothingIsCached) {
  PageIndex index = make_index();
  CountingLoader loader;
  loader.fail_with = Status::corruption("bad page");
  index.load_stored(1, {4096, 100});
  auto page = index.get(1, false, loader.fn());
  EXPECT_TRUE(page.status().is_corruption());
  EXPECT_EQ(index.cached_count(), 0u);
}

TEST(PageIndex, EvictionKeepsDirtyPagesAndDropsTheLeastRecentClean) {
  PageIndex index = make_index();
  CountingLoader loader;
  for (uint64_t p = 0; p < 2 * kBudgetPages; ++p) index.load_stored(p, {4096 + p, 100});
  for (uint64_t p = 0; p < 2 * kBudgetPages; ++p) ASSERT_TRUE(index.get(p, false, loader.fn()).is_ok());
  index.mark_dirty(index.cached(0));
  index.evict();
  EXPECT_EQ(index.cached_count(), kBudgetPages);
  EXPECT_NE(index.cached(0), nullptr) << "dirty: kept";
  EXPECT_EQ(index.cached(1), nullptr) << "least recent clean: evicted";
  EXPECT_NE(index.cached(2 * kBudgetPages - 1), nullptr) << "most recent: kept";
  EXPECT_EQ(index.dirty_count(), 1u);
}

TEST(PageIndex, StoringADirtyPageCleansItAndReturnsWhereItWas) {
  PageIndex index = make_index();
  CountingLoader loader;
  auto page = index.get(5, true, loader.fn());
  ASSERT_TRUE(page.is_ok());
  index.mark_dirty(*page);
  index.mark_dirty(*page);
  EXPECT_EQ(index.dirty_count(), 1u);
  EXPECT_EQ(index.dirty_pages(), std::vector<uint64_t>{5});
  EXPECT_FALSE(index.mark_stored(5, {8192, 64}).has_value()) << "never stored before";
  EXPECT_EQ(index.dirty_count(), 0u);
  auto old = index.mark_stored(5, {16384, 64});
  ASSERT_TRUE(old.has_value());
  EXPECT_EQ(old->offset, 8192u);
  EXPECT_EQ(index.stored_at(5)->offset, 16384u);
}

TEST(PageIndex, ALoaderMayHandBackDirtyEntries) {
  PageIndex index = make_index();
  CountingLoader loader;
  loader.mark_dirty = true;  // a repair rebuilt them
  index.load_stored(2, {4096, 100});
  ASSERT_TRUE(index.get(2, false, loader.fn()).is_ok());
  EXPECT_EQ(index.dirty_count(), 1u);
}

TEST(PageIndex, DropForgetsStoredAndCachedPages) {
  PageIndex index = make_index();
  CountingLoader loader;
  index.load_stored(9, {4096, 100});
  auto page = index.get(9, false, loader.fn());
  ASSERT_TRUE(page.is_ok());
  index.mark_dirty(*page);
  auto old = index.drop(9);
  ASSERT_TRUE(old.has_value());
  EXPECT_EQ(old->length, 100u);
  EXPECT_EQ(index.dirty_count(), 0u);
  EXPECT_TRUE(index.present(0, 100).empty());
  EXPECT_FALSE(index.drop(9).has_value());
}

TEST(PageIndex, PresentListsStoredAndCachedPagesInRangeOnce) {
  PageIndex index = make_index();
  CountingLoader loader;
  index.load_stored(1, {4096, 100});
  index.load_stored(8, {4096, 100});
  ASSERT_TRUE(index.get(1, false, loader.fn()).is_ok());
  ASSERT_TRUE(index.get(4, true, loader.fn()).is_ok());
  EXPECT_EQ(index.present(0, ~0ull), (std::vector<uint64_t>{1, 4, 8}));
  EXPECT_EQ(index.present(2, 7), std::vector<uint64_t>{4});
  index.reset();
  EXPECT_TRUE(index.present(0, ~0ull).empty());
}

// What a DELTA checkpoint writes: the directory entries that changed since
// the last take, a stored page's drop included, a load's not.
TEST(PageIndex, ChangesAreTheDirectoryEntriesChangedSinceTheLastTake) {
  PageIndex index = make_index();
  CountingLoader loader;
  index.load_stored(1, {4096, 100});
  index.load_stored(2, {8192, 100});
  EXPECT_TRUE(index.changes().empty()) << "loading a checkpoint changes nothing";
  index.mark_stored(2, {12288, 100});
  index.mark_stored(5, {16384, 100});
  EXPECT_EQ(index.take_changes(), (std::set<uint64_t>{2, 5}));
  EXPECT_TRUE(index.changes().empty());
  EXPECT_TRUE(index.drop(1).has_value());
  ASSERT_TRUE(index.get(7, true, loader.fn()).is_ok());
  EXPECT_FALSE(index.drop(7).has_value());
  EXPECT_EQ(index.changes(), std::set<uint64_t>{1}) << "a page never stored leaves nothing to remove";
  // A failed checkpoint: what it took are changes again, beside the new ones.
  const std::set<uint64_t> taken = index.take_changes();
  index.mark_stored(9, {20480, 100});
  index.restore_changes(taken);
  EXPECT_EQ(index.changes(), (std::set<uint64_t>{1, 9}));
  index.reset();
  EXPECT_TRUE(index.changes().empty());
}

}  // namespace
}  // namespace vblk::store
