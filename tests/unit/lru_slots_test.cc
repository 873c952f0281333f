// The driver cache's LRU slot table against a model.
#include "driver/lru_slots.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace vblk {
namespace {

// LruSlots against a model (a list in LRU order): random finds, touches,
// assigns and erases over keys that collide in the hash table (few keys,
// small table, so probe runs wrap and deletions shift entries back).
TEST(LruSlots, MatchesAnLruModel) {
  for (uint32_t capacity : {1u, 2u, 7u, 64u}) {
    SCOPED_TRACE("capacity " + std::to_string(capacity));
    driver::LruSlots slots(capacity);
    std::vector<uint64_t> model;  // keys, most recently used first
    std::map<uint64_t, uint32_t> slot_of;
    std::mt19937_64 rng(capacity);
    for (int step = 0; step < 20000; ++step) {
      const uint64_t key = rng() % (3 * capacity + 1) * 0x10000;  // multiples: hash spreading matters
      const uint32_t found = slots.find(key);
      const auto in_model = std::find(model.begin(), model.end(), key);
      ASSERT_EQ(found != driver::LruSlots::kNone, in_model != model.end()) << "step " << step;
      if (found != driver::LruSlots::kNone) {
        ASSERT_EQ(found, slot_of[key]);
        ASSERT_EQ(slots.key(found), key);
        model.erase(in_model);
        if (rng() % 3 == 0) {
          slots.erase(found);
          slot_of.erase(key);
        } else {
          slots.touch(found);
          model.insert(model.begin(), key);
        }
      } else {
        if (model.size() == capacity) {
          slot_of.erase(model.back());
          model.pop_back();
        }
        const uint32_t slot = slots.assign(key);
        ASSERT_LT(slot, capacity);
        slot_of[key] = slot;
        model.insert(model.begin(), key);
      }
      ASSERT_EQ(slots.size(), model.size());
    }
    std::vector<uint64_t> order;
    for (uint32_t slot : slots.slots_in_use()) order.push_back(slots.key(slot));
    EXPECT_EQ(order, model);
  }
}

}  // namespace
}  // namespace vblk
