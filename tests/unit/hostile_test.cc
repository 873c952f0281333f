// Hand-made hostile images (tests/hostile/hostile_images.h) through the
// library, the way each tool uses it: every image is opened read-only (as
// vblk-inspect and vblk-export do: info, stats, state map, reads, scrub)
// and writable on an in-memory copy (as vblkfs does: writes, flush,
// close), in a child process with a time limit. Each must be rejected,
// found damaged or served as its case says, without a crash, a hang or
// (under the sanitizers) a memory error; valid cases whose edit keeps the
// data must read back the base image's bytes. tests/hostile/hostile.sh runs
// the tools themselves over the same images.
//
// The images are made and tried once, before the tests run; each case is
// then a test of its own (HostileImages.<case name>) that reports its
// outcome, so a failure names the case.
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <string>

#include "../hostile/hostile_images.h"
#include "test_util.h"

namespace vblk {
namespace {

class HostileCase : public ::testing::Test {
 public:
  explicit HostileCase(hostile::Generator::Outcome outcome) : outcome_(std::move(outcome)) {}
  void TestBody() override { EXPECT_EQ(outcome_.problem, "") << outcome_.name << " (" << outcome_.what << ")"; }

 private:
  hostile::Generator::Outcome outcome_;
};

}  // namespace
}  // namespace vblk

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  spdlog::level::level_enum previous = spdlog::default_logger()->level();
  spdlog::default_logger()->set_level(spdlog::level::off);
  vblk::test::TempDir dir;
  vblk::hostile::Generator g;
  g.dir = dir.path("hostile");
  g.run_all();
  spdlog::default_logger()->set_level(previous);
  std::printf("hostile images: %s\n", g.summary().c_str());
  for (const auto& o : g.outcomes) {
    ::testing::RegisterTest("HostileImages", o.name.c_str(), nullptr, nullptr, __FILE__, __LINE__,
                            [o]() -> ::testing::Test* { return new vblk::HostileCase(o); });
  }
  // What no single case can say: every case that keeps the data was
  // compared (a renamed case compares nothing), and the set is whole.
  const size_t compared = g.compared_with_base, keeps = vblk::hostile::Generator::kKeepsTheData.size();
  const int written = g.written;
  ::testing::RegisterTest("HostileImages", "AllCasesThatKeepTheDataWereCompared", nullptr, nullptr, __FILE__,
                          __LINE__, [=]() -> ::testing::Test* {
                            struct T : ::testing::Test {
                              size_t compared, keeps;
                              int written;
                              void TestBody() override {
                                EXPECT_EQ(compared, keeps);
                                EXPECT_GT(written, 200);
                              }
                            };
                            auto* t = new T;
                            t->compared = compared, t->keeps = keeps, t->written = written;
                            return t;
                          });
  return RUN_ALL_TESTS();
}
