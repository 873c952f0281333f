// BlockRangeLock: ranges that share a block exclude each other, ranges that
// do not are held together, overlapping requests go in in arrival order.

#include "driver/block_range_lock.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <limits>
#include <memory>
#include <new>
#include <random>
#include <thread>
#include <vector>

// When set, the next allocation of this thread fails (operator new below).
thread_local bool fail_next_allocation = false;

// Allocation for this test program, through malloc so that it pairs with
// the operator delete below (also under AddressSanitizer, which checks
// that). Not inlined: GCC would take free() after operator new for a
// mismatch.
void* operator new(std::size_t n) {
  if (fail_next_allocation) {
    fail_next_allocation = false;
    throw std::bad_alloc();
  }
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace vblk::driver {
namespace {

using namespace std::chrono_literals;
using Guard = BlockRangeLock::Guard;

// Waits (up to 5 s) until `lock` has n requests in flight, held or waiting.
void wait_in_flight(const BlockRangeLock& lock, size_t n) {
  for (int i = 0; i < 5000 && lock.in_flight() != n; ++i) std::this_thread::sleep_for(1ms);
  ASSERT_EQ(lock.in_flight(), n);
}

// A thread that takes [first, first + count) and holds it until released.
class Holder {
 public:
  Holder(BlockRangeLock& lock, uint64_t first, uint64_t count)
      : thread_([this, &lock, first, count] {
          Guard g(lock, first, count);
          granted_ = true;
          while (!release_) std::this_thread::sleep_for(100us);
        }) {}
  ~Holder() {
    release_ = true;
    thread_.join();
  }
  // Waits up to `limit` for the grant.
  bool granted_within(std::chrono::milliseconds limit) const {
    for (auto end = std::chrono::steady_clock::now() + limit; std::chrono::steady_clock::now() < end;) {
      if (granted_) return true;
      std::this_thread::sleep_for(100us);
    }
    return granted_.load();
  }
  void release() { release_ = true; }

 private:
  std::atomic<bool> granted_{false}, release_{false};
  std::thread thread_;
};

TEST(BlockRangeLock, RangesSharingOneBlockExcludeEachOther) {
  BlockRangeLock lock;
  auto first = std::make_unique<Guard>(lock, 0, 17);
  Holder second(lock, 16, 17);  // shares block 16
  wait_in_flight(lock, 2);
  EXPECT_FALSE(second.granted_within(100ms));
  first.reset();
  EXPECT_TRUE(second.granted_within(5000ms));
}

// Blocks 0-16 and 17-33: with mutexes striped by 16-block regions these
// shared region 1; blocks 0 and 1024 shared a stripe. Neither may wait here.
TEST(BlockRangeLock, RangesSideBySideOrFarApartAreHeldTogether) {
  BlockRangeLock lock;
  Guard a(lock, 0, 17);
  Holder b(lock, 17, 17);
  EXPECT_TRUE(b.granted_within(5000ms));
  Holder c(lock, 1024, 1);
  EXPECT_TRUE(c.granted_within(5000ms));
  EXPECT_EQ(lock.in_flight(), 3u);
}

// B waits for A; C overlaps only B. C must not overtake B (which could then
// wait forever behind a stream of such requests): it waits until B is done.
TEST(BlockRangeLock, OverlappingRequestsAreGrantedInArrivalOrder) {
  BlockRangeLock lock;
  auto a = std::make_unique<Guard>(lock, 0, 10);
  Holder b(lock, 5, 10);  // blocks 5-14, overlaps a
  wait_in_flight(lock, 2);
  Holder c(lock, 12, 8);  // blocks 12-19, overlaps only b
  wait_in_flight(lock, 3);
  EXPECT_FALSE(c.granted_within(100ms));
  a.reset();
  EXPECT_TRUE(b.granted_within(5000ms));
  EXPECT_FALSE(c.granted_within(100ms));
  b.release();
  EXPECT_TRUE(c.granted_within(5000ms));
}

TEST(BlockRangeLock, EmptyRangeNeverWaitsAndTheLastBlockCanBeHeld) {
  BlockRangeLock lock;
  constexpr uint64_t kLast = std::numeric_limits<uint64_t>::max();
  auto all = std::make_unique<Guard>(lock, 0, kLast);  // blocks 0 .. kLast - 1
  { Guard empty(lock, 5, 0); }
  EXPECT_EQ(lock.in_flight(), 1u);
  Holder last(lock, kLast, 1);  // block kLast alone: free
  EXPECT_TRUE(last.granted_within(5000ms));
  Holder clamped(lock, kLast - 1, 100);  // runs past the end: clamped, overlaps both
  wait_in_flight(lock, 3);
  EXPECT_FALSE(clamped.granted_within(100ms));
  all.reset();
  EXPECT_FALSE(clamped.granted_within(100ms));  // block kLast is still held
  last.release();
  EXPECT_TRUE(clamped.granted_within(5000ms));
}

// A request that goes straight in makes no condition variable: it
// allocates nothing.
TEST(BlockRangeLock, ARequestThatGoesStraightInAllocatesNothing) {
  BlockRangeLock lock;
  Holder other(lock, 100, 8);
  ASSERT_TRUE(other.granted_within(5000ms));
  fail_next_allocation = true;
  { Guard g(lock, 0, 8); }
  EXPECT_TRUE(fail_next_allocation);  // not used up
  fail_next_allocation = false;
}

// A request that has to wait and cannot make its condition variable throws
// and leaves the list as it was: the holder's release lets in the request
// that arrives next.
TEST(BlockRangeLock, ARequestThatCannotWaitThrowsAndHoldsNothing) {
  BlockRangeLock lock;
  Holder first(lock, 0, 8);
  ASSERT_TRUE(first.granted_within(5000ms));
  fail_next_allocation = true;
  EXPECT_THROW(Guard g(lock, 4, 8), std::bad_alloc);
  fail_next_allocation = false;
  EXPECT_EQ(lock.in_flight(), 1u);
  Holder next(lock, 4, 8);
  wait_in_flight(lock, 2);
  EXPECT_FALSE(next.granted_within(100ms));
  first.release();
  EXPECT_TRUE(next.granted_within(5000ms));
}

// Eight threads take random ranges of a 64-block space and, while holding
// one, mark its blocks: no block is ever marked by two holders at once.
TEST(BlockRangeLock, ManyThreadsNeverHoldABlockTogether) {
  constexpr uint64_t kBlocks = 64;
  BlockRangeLock lock;
  std::vector<std::atomic<int>> holders(kBlocks);
  std::atomic<int> overlaps{0};
  std::atomic<uint64_t> grants{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(t);
      for (int i = 0; i < 3000; ++i) {
        const uint64_t first = rng() % kBlocks;
        const uint64_t count = 1 + rng() % std::min<uint64_t>(12, kBlocks - first);
        Guard g(lock, first, count);
        grants.fetch_add(1);
        for (uint64_t b = first; b < first + count; ++b)
          if (holders[b].fetch_add(1) != 0) overlaps.fetch_add(1);
        if (i % 64 == 0) std::this_thread::yield();
        for (uint64_t b = first; b < first + count; ++b) holders[b].fetch_sub(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_EQ(grants.load(), 8u * 3000u);
  EXPECT_EQ(lock.in_flight(), 0u);
}

}  // namespace
}  // namespace vblk::driver
