// The admin interface of a device stack (vblk/admin_interface.h): what
// each layer answers itself and what it forwards down (ImageDevice from its
// store, FaultDevice its rules), and the live GuardedAdmin over a Driver,
// whose changes of stored state wait for the driver's range lock and drop
// what the driver cached.

#include "vblk/admin_interface.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "driver/guarded_admin.h"
#include "image_fixtures.h"
#include "test_util.h"
#include "vblk/driver.h"
#include "vblk/fault_device.h"
#include "vblk/image_device.h"
#include "vblk/mem_device.h"

namespace vblk {
namespace {

constexpr uint32_t kBs = 4096;

using std::chrono::milliseconds;

// FaultDevice(ImageDevice) on the mixed image of image_fixtures.h (blocks
// 0-63 one record of text, 64-95 random, the rest FREE), as vblk-inject
// opens an image; `driven()` puts a Driver and a GuardedAdmin above it, as
// the daemon serves one.
class AdminTest : public ::testing::Test {
 protected:
  void SetUp() override {
    img_ = dir_.path("img");
    ASSERT_NO_FATAL_FAILURE(test::make_text_and_random_image(img_));
    auto dev = ImageDevice::open(img_, OpenOptions{});
    ASSERT_TRUE(dev.is_ok()) << dev.status().to_string();
    store_ = &(*dev)->store();
    auto faults = std::make_unique<FaultDevice>(std::move(*dev));
    faults_ = faults.get();
    top_ = std::move(faults);
  }
  void TearDown() override {
    if (store_ != nullptr) {
      EXPECT_TRUE(store_->close().is_ok());
    }
  }
  // Moves the stack under a Driver; admin_ is then its GuardedAdmin.
  void driven() {
    driver_ = std::make_unique<Driver>(std::move(top_), DriverOptions{});
    guarded_ = std::make_unique<GuardedAdmin>(*driver_, *faults_);
  }
  std::vector<uint8_t> read(uint64_t block, Status* st) {
    std::vector<uint8_t> out(kBs);
    auto n = driver_->read(block * kBs, out);
    *st = n.status();
    return out;
  }

  test::TempDir dir_;
  std::string img_;
  ImageStore* store_ = nullptr;
  FaultDevice* faults_ = nullptr;
  std::unique_ptr<BlockDevice> top_;  // until driven()
  std::unique_ptr<Driver> driver_;
  std::unique_ptr<GuardedAdmin> guarded_;
};

TEST_F(AdminTest, FaultDeviceKeepsTheRulesAndForwardsTheRestToTheImage) {
  AdminInterface& admin = *faults_;
  EXPECT_EQ(admin.block_count(), 256u);
  ASSERT_TRUE(admin.add_fault_rule(flaky_rule(5, 2)).is_ok());
  ASSERT_TRUE(admin.add_fault_rule(remap_rule(10, 4)).is_ok());
  ASSERT_EQ(faults_->list().size(), 2u);
  EXPECT_EQ(admin.fault_rules().size(), 2u);
  EXPECT_EQ(admin.cut_fault_rules(0, 256, FaultKind::kRemapBad), 1u);
  EXPECT_EQ(faults_->list().size(), 1u) << "only the remap rule goes";

  ASSERT_TRUE(admin.set_bad(100, 2, true).is_ok());
  EXPECT_EQ(*store_->state(100), BlockState::kBad) << "the mark reached the image";
  EXPECT_EQ(admin.bad_ranges(), store_->bad_ranges());
  auto loc = admin.locate(70);
  ASSERT_TRUE(loc.is_ok()) << loc.status().to_string();
  EXPECT_EQ(loc->record_offset, store_->locate(70)->record_offset);
  EXPECT_FALSE(*admin.stored_zero(70));

  auto record = admin.corrupt_block(10);
  ASSERT_TRUE(record.is_ok()) << record.status().to_string();
  EXPECT_EQ(*record, store_->locate(10)->record_offset);
  EXPECT_EQ(store_->locate(10)->record_blocks, 1u) << "stored alone before the damage";
  std::vector<uint8_t> out(kBs);
  EXPECT_TRUE(store_->read_blocks(10, 1, out).is_corruption());
  EXPECT_TRUE(store_->read_blocks(11, 1, out).is_ok());

  auto cut = admin.power_cut(/*then_power_on=*/true);
  ASSERT_TRUE(cut.is_ok()) << cut.status().to_string();
  EXPECT_FALSE(store_->info().powered_off);
  admin.clear_fault_rules();
  EXPECT_TRUE(faults_->list().empty());
}

TEST_F(AdminTest, ImageDeviceHasNoRules) {
  auto& image = dynamic_cast<ImageDevice&>(faults_->target());
  AdminInterface& admin = image;
  EXPECT_TRUE(admin.fault_rules().empty());
  Status st = admin.add_fault_rule(flaky_rule(5, 1));
  EXPECT_EQ(st.code(), Status::Code::kNotSupported) << st.to_string();
  EXPECT_EQ(admin.cut_fault_rules(0, 256, std::nullopt), 0u);
  ASSERT_TRUE(admin.set_bad(3, 1, true).is_ok());
  EXPECT_EQ(admin.bad_ranges(), (std::vector<std::pair<uint64_t, uint64_t>>{{3, 1}}));
}

TEST(FaultDeviceAdmin, OverADeviceWithoutOneMarksAndRulesOnly) {
  FaultDevice dev(std::make_unique<MemDevice>(512, 64));
  AdminInterface& admin = dev;
  ASSERT_TRUE(admin.set_bad(10, 3, true).is_ok());
  ASSERT_TRUE(admin.set_bad(20, 1, true).is_ok());
  EXPECT_EQ(admin.bad_ranges(), (std::vector<std::pair<uint64_t, uint64_t>>{{10, 3}, {20, 1}}))
      << "from the device's states";
  ASSERT_TRUE(admin.add_fault_rule(latency_rule(std::chrono::microseconds(5), 0, 0)).is_ok());
  EXPECT_EQ(dev.list().at(0).count, 64u) << "count 0 is to the end, as add_latency";
  for (Status st : {admin.locate(1).status(), admin.stored_zero(1).status(), admin.corrupt_block(1).status(),
                    admin.power_cut(false).status()}) {
    EXPECT_EQ(st.code(), Status::Code::kNotSupported) << st.to_string();
  }
}

TEST_F(AdminTest, GuardedRuleSetThroughTheTopReachesTheFaultDevice) {
  driven();
  ASSERT_TRUE(guarded_->add_fault_rule(flaky_rule(3, 1)).is_ok());
  ASSERT_EQ(faults_->list().size(), 1u);
  EXPECT_EQ(faults_->list()[0].kind, FaultKind::kFlakyWrite);
  EXPECT_EQ(faults_->list()[0].first, 3u);
  std::vector<uint8_t> data(kBs, 9);
  ASSERT_TRUE(driver_->write(3 * kBs, data).is_ok());
  EXPECT_EQ(driver_->stats().retries, 1u) << "the rule fired under the driver";
  EXPECT_TRUE(guarded_->fault_rules().empty()) << "used up";
}

// Runs change() while another thread holds `block` in the driver's range
// lock: it must not finish before the lock is released.
void expect_waits_for_range_lock(Driver& driver, uint64_t block, const std::function<Status()>& change) {
  std::promise<void> entered, release;
  std::thread holder([&] {
    (void)driver.modify_below(block, 1, [&](BlockDevice&) {
      entered.set_value();
      release.get_future().wait();
      return Status::ok();
    });
  });
  entered.get_future().wait();
  auto done = std::async(std::launch::async, change);
  EXPECT_EQ(done.wait_for(milliseconds(200)), std::future_status::timeout) << "it did not wait for the range lock";
  release.set_value();
  holder.join();
  Status st = done.get();
  EXPECT_TRUE(st.is_ok()) << st.to_string();
}

TEST_F(AdminTest, GuardedSetBadWaitsForTheRangeLockAndDropsTheCachedBlock) {
  driven();
  Status st;
  read(5, &st);  // now cached
  ASSERT_TRUE(st.is_ok()) << st.to_string();
  expect_waits_for_range_lock(*driver_, 5, [&] { return guarded_->set_bad(5, 1, true); });
  read(5, &st);
  EXPECT_TRUE(st.is_bad_block()) << "a cached copy answered: " << st.to_string();
  // Another block is not held: its change does not wait.
  ASSERT_TRUE(guarded_->set_bad(50, 1, true).is_ok());
  EXPECT_EQ(guarded_->bad_ranges(), (std::vector<std::pair<uint64_t, uint64_t>>{{5, 1}, {50, 1}}));
  ASSERT_TRUE(guarded_->set_bad(5, 1, false).is_ok());
  EXPECT_EQ(read(5, &st), std::vector<uint8_t>(kBs, 0));
  EXPECT_TRUE(st.is_ok()) << st.to_string();
}

TEST_F(AdminTest, GuardedCorruptWaitsForTheRangeLockAndDropsTheCachedBlock) {
  driven();
  Status st;
  read(10, &st);
  ASSERT_TRUE(st.is_ok()) << st.to_string();
  expect_waits_for_range_lock(*driver_, 10, [&] { return guarded_->corrupt_block(10).status(); });
  read(10, &st);
  EXPECT_TRUE(st.is_corruption()) << "a cached copy answered: " << st.to_string();
  read(11, &st);
  EXPECT_TRUE(st.is_ok()) << st.to_string();
}

TEST_F(AdminTest, GuardedPowerCutHoldsEveryBlock) {
  driven();
  std::vector<uint8_t> data(kBs, 7);
  ASSERT_TRUE(driver_->write(200 * kBs, data).is_ok());  // not flushed: the cut drops it
  Status st;
  ASSERT_EQ(read(200, &st), data);  // now cached
  expect_waits_for_range_lock(*driver_, 255, [&] { return guarded_->power_cut(true).status(); });
  EXPECT_EQ(read(200, &st), std::vector<uint8_t>(kBs, 0)) << "a cached copy of a dropped write answered";
  EXPECT_TRUE(st.is_ok()) << st.to_string();
}

}  // namespace
}  // namespace vblk
