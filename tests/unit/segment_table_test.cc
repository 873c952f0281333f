// SegmentTable: the states of a segment's life, and the counts kept beside
// them.
#include "store/segment_table.h"

#include <gtest/gtest.h>

#include <vector>

namespace vblk::store {
namespace {

using S = SegmentState;

TEST(SegmentTable, OpensTheLowestFreeSegmentElseANewOne) {
  SegmentTable t;
  EXPECT_EQ(t.next_to_open(), 0u);
  ASSERT_TRUE(t.open(0));
  ASSERT_TRUE(t.open(1));
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(t.next_to_open(), 2u);
  EXPECT_FALSE(t.open(0)) << "a segment in use is not opened again";
  EXPECT_FALSE(t.open(5)) << "nor one beyond the next new one";
  EXPECT_EQ(t.count(S::kInUse), 2u);
}

TEST(SegmentTable, LoadFreesInUseSegmentsWithNothingInThem) {
  SegmentTable t;
  t.assign(4);
  t.set_counts(0, 100, 4096);
  t.load_released(1);
  t.set_counts(3, 50, 512);
  t.finish_load();
  EXPECT_EQ(t.state(0), S::kInUse);
  EXPECT_EQ(t.state(1), S::kReleased);
  EXPECT_EQ(t.state(2), S::kFree);
  EXPECT_EQ(t.state(3), S::kInUse);
  EXPECT_EQ(t.live_total(), 150u);
  EXPECT_EQ(t.next_to_open(), 2u);
  EXPECT_EQ(t.holding_data(), 2u);
  EXPECT_TRUE(t.reclaiming(1));
  EXPECT_EQ(t.reclaiming_count(), 1u);
}

// One segment through the whole cycle, checking at each step what a
// checkpoint would record and whether the head could take it.
TEST(SegmentTable, ASegmentIsFreeOneCheckpointAfterItIsReleased) {
  SegmentTable t;
  ASSERT_TRUE(t.open(0));
  t.set_fill(0, 1000);
  t.add_live(0, 600);
  ASSERT_TRUE(t.open(1));  // the head moved on
  t.begin_cleaning(0);
  EXPECT_EQ(t.state(0), S::kCleaning);
  EXPECT_EQ(t.holding_data(), 2u);
  t.remove_live(0, 600);  // its blocks were copied to the head
  t.emptied(0);
  EXPECT_TRUE(t.reclaiming(0));
  EXPECT_EQ(t.holding_data(), 1u);
  EXPECT_EQ(t.next_to_open(), 2u) << "an emptied segment is not allocatable";

  EXPECT_TRUE(t.checkpoint_written().empty());
  EXPECT_EQ(t.state(0), S::kReleased);
  EXPECT_EQ(t.take_released(), std::vector<uint64_t>{0});
  EXPECT_EQ(t.state(0), S::kPunching);
  t.punched(0);
  EXPECT_EQ(t.state(0), S::kPunched);
  EXPECT_EQ(t.next_to_open(), 2u) << "punched, but the checkpoint in force still calls it released";

  EXPECT_TRUE(t.checkpoint_written().empty());
  EXPECT_EQ(t.state(0), S::kFree);
  EXPECT_EQ(t.info(0).fill, 0u);
  EXPECT_EQ(t.next_to_open(), 0u);
}

TEST(SegmentTable, ACleaningLeftInPlaceReturnsToUse) {
  SegmentTable t;
  ASSERT_TRUE(t.open(0));
  t.begin_cleaning(0);
  t.mark_damaged(0);
  t.end_cleaning(0);
  EXPECT_EQ(t.state(0), S::kInUse);
  EXPECT_TRUE(t.damaged(0));
}

TEST(SegmentTable, TheReusePoolKeepsSegmentsUntilOpenedOrPunched) {
  SegmentTable t;
  for (uint64_t i = 0; i < 3; ++i) ASSERT_TRUE(t.open(i));
  for (uint64_t i = 0; i < 2; ++i) {
    t.begin_cleaning(i);
    t.emptied(i);
  }
  t.checkpoint_written();
  const auto released = t.take_released();
  ASSERT_EQ(released, (std::vector<uint64_t>{0, 1}));
  t.keep_unpunched(0);
  t.punched(1);
  EXPECT_EQ(t.reuse_pool(), std::set<uint64_t>{0});
  t.checkpoint_written();
  EXPECT_EQ(t.state(0), S::kFree);
  EXPECT_EQ(t.reuse_pool(), std::set<uint64_t>{0}) << "free, its old bytes still there";
  ASSERT_TRUE(t.open(0));
  EXPECT_TRUE(t.reuse_pool().empty()) << "opened: overwritten from its start";
}

TEST(SegmentTable, APunchedSegmentStillCountingLiveBytesIsReported) {
  SegmentTable t;
  ASSERT_TRUE(t.open(0));
  t.add_live(0, 10);
  t.begin_cleaning(0);
  t.emptied(0);
  t.checkpoint_written();
  t.take_released();
  t.punched(0);
  const auto still_live = t.checkpoint_written();
  ASSERT_EQ(still_live.size(), 1u);
  EXPECT_EQ(still_live[0], (std::pair<uint64_t, uint32_t>{0, 10}));
  EXPECT_EQ(t.live_total(), 0u) << "the bytes went with the segment";
}

TEST(SegmentTable, LiveCountsNeverWrapAndIgnoreSegmentsBeyondTheTable) {
  SegmentTable t;
  ASSERT_TRUE(t.open(0));
  t.add_live(0, 5);
  t.remove_live(0, 9);
  EXPECT_EQ(t.info(0).live, 0u);
  EXPECT_EQ(t.live_total(), 0u);
  t.add_live(7, 100);
  t.add_provisional(7, 100);
  EXPECT_EQ(t.live_total(), 0u);
}

TEST(SegmentTable, ResetForgetsEverything) {
  SegmentTable t;
  ASSERT_TRUE(t.open(0));
  t.add_live(0, 5);
  t.mark_damaged(0);
  t.reset();
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.live_total(), 0u);
  EXPECT_FALSE(t.open(1));
  ASSERT_TRUE(t.open(0));
  EXPECT_FALSE(t.damaged(0));
}

TEST(SegmentTable, EveryStateHasAName) {
  for (int s = 0; s < kSegmentStates; ++s)
    EXPECT_STRNE(segment_state_name(static_cast<S>(s)), "?");
}

// What a DELTA checkpoint writes: every segment whose state, fill or live
// bytes changed since the last take, ascending; loading marks none.
TEST(SegmentTable, ChangesAreTheSegmentsTouchedSinceTheLastTake) {
  SegmentTable t;
  t.assign(6);
  t.set_counts(0, 100, 4096);
  t.set_counts(1, 10, 512);
  t.load_released(2);
  t.finish_load();
  EXPECT_TRUE(t.changes().empty()) << "loading a checkpoint changes nothing";
  t.add_live(1, 5);
  t.remove_live(0, 50);
  t.remove_live(0, 10);  // listed once
  t.add_provisional(3, 7);  // not in the metadata: no change
  EXPECT_EQ(t.take_changes(), (std::vector<uint64_t>{0, 1}));
  EXPECT_TRUE(t.changes().empty());
  ASSERT_TRUE(t.open(6));  // a new segment
  ASSERT_TRUE(t.open(3));
  t.set_fill(3, 128);
  EXPECT_EQ(t.take_changes(), (std::vector<uint64_t>{3, 6}));
  // The reclaim transitions each change what a checkpoint records.
  t.begin_cleaning(1);
  t.emptied(1);
  EXPECT_EQ(t.take_changes(), std::vector<uint64_t>{1});
  t.checkpoint_written();
  EXPECT_EQ(t.take_released(), (std::vector<uint64_t>{1, 2}));
  t.punched(1);
  t.keep_unpunched(2);
  EXPECT_EQ(t.take_changes(), (std::vector<uint64_t>{1, 2}));
  // A failed checkpoint: what it took are changes again.
  t.add_live(0, 1);
  const std::vector<uint64_t> taken = t.take_changes();
  t.add_live(4, 1);
  t.restore_changes(taken);
  EXPECT_EQ(t.take_changes(), (std::vector<uint64_t>{0, 4}));
  t.reset();
  EXPECT_TRUE(t.changes().empty());
}

}  // namespace
}  // namespace vblk::store
