// The rules file beside an image (inject/rules_file.h): save and load,
// another image's file, a file without a uuid line, malformed lines.

#include "inject/rules_file.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "inject/command.h"
#include "test_util.h"
#include "vblk/fault_device.h"
#include "vblk/mem_device.h"

namespace vblk {
namespace {

using std::chrono::microseconds;

constexpr const char* kUuidA = "1b4e28ba-2fa1-41d2-883f-0016d3cca427";
constexpr const char* kUuidB = "6fa459ea-ee8a-4ca4-894e-db77e160355e";

TEST(InjectRulesFile, SaveLoadRoundTripAndRemoveWhenEmpty) {
  test::TempDir dir;
  const std::string path = dir.path("img.faults");
  const inject::ImageId img{"img", kUuidA};
  FaultDevice a(std::make_unique<MemDevice>(512, 64));
  ASSERT_TRUE(a.add_flaky(5, 2).is_ok());
  ASSERT_TRUE(a.add_latency(microseconds(20000), 0, 10).is_ok());
  ASSERT_TRUE(a.add_remap(10, 3).is_ok());
  ASSERT_TRUE(inject::save_rules(path, img, a.list()).is_ok());
  FaultDevice b(std::make_unique<MemDevice>(512, 64));
  auto n = inject::load_rules(path, img, b);
  ASSERT_TRUE(n.is_ok()) << n.status().to_string();
  EXPECT_EQ(n->applied, 3u);
  EXPECT_EQ(n->file_uuid, kUuidA);
  EXPECT_EQ(n->ignored, "");
  ASSERT_EQ(b.list().size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(inject::rule_command(b.list()[i]), inject::rule_command(a.list()[i]));
  ASSERT_TRUE(inject::save_rules(path, img, {}).is_ok());
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_EQ(inject::load_rules(path, img, b)->applied, 0u) << "a missing file is no rules";
}

TEST(InjectRulesFile, AnotherImagesFileIsNotApplied) {
  test::TempDir dir;
  const std::string path = dir.path("img.faults");
  FaultDevice a(std::make_unique<MemDevice>(512, 64));
  ASSERT_TRUE(a.add_flaky(5, 2).is_ok());
  ASSERT_TRUE(inject::save_rules(path, {"old", kUuidA}, a.list()).is_ok());
  FaultDevice b(std::make_unique<MemDevice>(512, 64));
  auto n = inject::load_rules(path, {"img", kUuidB}, b);
  ASSERT_TRUE(n.is_ok()) << n.status().to_string();
  EXPECT_EQ(n->applied, 0u);
  EXPECT_TRUE(b.list().empty());
  EXPECT_EQ(n->ignored, path + ": fault rules of image " + kUuidA + ", not of img (uuid " + kUuidB + "): not applied");
  // Upper-case UUIDs are the same UUIDs.
  std::ofstream(path) << "uuid " << std::string(kUuidB).replace(0, 8, "6FA459EA") << "\nflaky 1 1\n";
  EXPECT_EQ(inject::load_rules(path, {"img", kUuidB}, b)->applied, 1u);
}

TEST(InjectRulesFile, FileWithoutUuidIsApplied) {
  test::TempDir dir;
  const std::string path = dir.path("img.faults");
  std::ofstream(path) << "# vblk fault rules for img\nflaky 5 2\nremap 10-12\n";
  FaultDevice d(std::make_unique<MemDevice>(512, 64));
  auto n = inject::load_rules(path, {"img", kUuidA}, d);
  ASSERT_TRUE(n.is_ok()) << n.status().to_string();
  EXPECT_EQ(n->applied, 2u);
  EXPECT_EQ(n->file_uuid, "");
  EXPECT_EQ(n->ignored, "");
}

TEST(InjectRulesFile, BadLineNamesFileAndLine) {
  test::TempDir dir;
  const std::string path = dir.path("img.faults");
  const inject::ImageId img{"img", kUuidA};
  std::ofstream(path) << "# comment\nflaky 1 1\n\nbad 3\n";
  FaultDevice d(std::make_unique<MemDevice>(512, 64));
  auto n = inject::load_rules(path, img, d);
  ASSERT_FALSE(n.is_ok());
  EXPECT_NE(n.status().message().find(path + ": line 4"), std::string::npos) << n.status().message();
  std::ofstream(path) << "flaky 99 1\n";
  EXPECT_TRUE(inject::load_rules(path, img, d).status().is_out_of_range());
  std::ofstream(path) << "uuid " << kUuidA << "\nuuid " << kUuidB << "\n";
  n = inject::load_rules(path, img, d);
  ASSERT_FALSE(n.is_ok());
  EXPECT_NE(n.status().message().find(path + ": line 2"), std::string::npos) << n.status().message();
  std::ofstream(path) << "uuid\n";
  EXPECT_FALSE(inject::load_rules(path, img, d).is_ok()) << "a uuid line without the UUID";
}

}  // namespace
}  // namespace vblk
