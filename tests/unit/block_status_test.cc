// NBD block status from block states (nbd/block_status.h): every row of
// its table, REQ_ONE, and the failures of the queries it makes.

#include "nbd/block_status.h"

#include <gtest/gtest.h>

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "driver/guarded_admin.h"
#include "test_util.h"
#include "vblk/driver.h"
#include "vblk/fault_device.h"
#include "vblk/image_device.h"
#include "vblk/mem_device.h"

namespace vblk::nbd {

// For gtest's messages (found by argument-dependent lookup).
void PrintTo(const Extent& e, std::ostream* os) {
  *os << "{" << e.first << "+" << e.count << (e.hole ? " hole" : "") << (e.zero ? " zero" : "") << "}";
}

namespace {

// Driver(FaultDevice(ImageDevice)) on an image of 8 blocks: 0-1 FREE,
// 2 USED data, 3 USED zero, 4 BAD, 5 TRIMMED, 6 USED data, 7 FREE.
class BlockStatusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string img = dir_.path("img");
    FormatOptions fo;
    fo.capacity_bytes = 8 * kBs;
    ASSERT_TRUE(ImageStore::create(img, fo).is_ok());
    auto image = ImageDevice::open(img, OpenOptions{});
    ASSERT_TRUE(image.is_ok()) << image.status().to_string();
    store_ = &(*image)->store();
    auto dev = std::make_unique<FaultDevice>(std::move(*image));
    FaultDevice& faults = *dev;
    ASSERT_TRUE(faults.write_blocks(2, std::vector<uint8_t>(kBs, 1)).is_ok());
    ASSERT_TRUE(faults.write_blocks(3, std::vector<uint8_t>(kBs, 0)).is_ok());
    ASSERT_TRUE(faults.set_bad(4, 1, true).is_ok());
    ASSERT_TRUE(faults.write_blocks(5, std::vector<uint8_t>(kBs, 1)).is_ok());
    ASSERT_TRUE(faults.trim_blocks(5, 1).is_ok());
    ASSERT_TRUE(faults.write_blocks(6, std::vector<uint8_t>(kBs, 1)).is_ok());
    driver_ = std::make_unique<Driver>(std::move(dev), DriverOptions{});
    admin_ = std::make_unique<GuardedAdmin>(*driver_, faults);
  }
  void TearDown() override {
    if (store_ != nullptr) {
      EXPECT_TRUE(store_->close().is_ok());
    }
  }
  static constexpr uint32_t kBs = 4096;
  test::TempDir dir_;
  ImageStore* store_ = nullptr;
  std::unique_ptr<Driver> driver_;
  std::unique_ptr<GuardedAdmin> admin_;
};

TEST_F(BlockStatusTest, EveryStateAsItsFlags) {
  auto s = block_status(*driver_, *admin_, 0, 6, false);
  ASSERT_TRUE(s.is_ok()) << s.status().to_string();
  EXPECT_EQ(
      *s,
      (std::vector<Extent>{
          {0, 2, true, true}, {2, 1, false, false}, {3, 1, false, true}, {4, 1, false, false}, {5, 1, true, true}}));
}

TEST_F(BlockStatusTest, FirstOnlyStopsAfterTheFirstRun) {
  auto s = block_status(*driver_, *admin_, 1, 7, true);
  ASSERT_TRUE(s.is_ok()) << s.status().to_string();
  EXPECT_EQ(*s, (std::vector<Extent>{{1, 1, true, true}}));
  s = block_status(*driver_, *admin_, 2, 2, true);
  ASSERT_TRUE(s.is_ok()) << s.status().to_string();
  EXPECT_EQ(*s, (std::vector<Extent>{{2, 1, false, false}, {3, 1, false, true}}))
      << "a USED run is answered whole, block by block";
}

TEST_F(BlockStatusTest, OutOfRangeFails) {
  EXPECT_TRUE(block_status(*driver_, *admin_, 7, 2, false).status().is_out_of_range());
}

TEST(BlockStatus, AFailingStoredZeroQueryFailsTheAnswer) {
  // A FaultDevice over a MemDevice has no store to ask whether a USED
  // block is stored as zeros.
  auto mem = std::make_unique<FaultDevice>(std::make_unique<MemDevice>(512, 8));
  FaultDevice& faults = *mem;
  ASSERT_TRUE(faults.write_blocks(6, std::vector<uint8_t>(512, 1)).is_ok());
  Driver driver(std::move(mem), DriverOptions{});
  auto s = block_status(driver, faults, 0, 8, false);
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.status().code(), Status::Code::kNotSupported) << s.status().to_string();
  auto free_only = block_status(driver, faults, 0, 6, false);
  ASSERT_TRUE(free_only.is_ok()) << "FREE blocks need no query: " << free_only.status().to_string();
  EXPECT_EQ(*free_only, (std::vector<Extent>{{0, 6, true, true}}));
}

}  // namespace
}  // namespace vblk::nbd
