// Hand-made hostile images (tests/hostile/hostile_images.h) through the
// library, the way each tool uses it: every image is opened read-only (as
// vblk-inspect and vblk-export do: info, stats, state map, reads, scrub)
// and writable on an in-memory copy (as vblkfs does: writes, flush,
// close), in a child process with a time limit. Each must be rejected,
// found damaged or served as its case says, without a crash, a hang or
// (under the sanitizers) a memory error; valid cases whose edit keeps the
// data must read back the base image's bytes. tests/hostile/hostile.sh runs the
// tools themselves over the same images.
#include <gtest/gtest.h>

#include "../hostile/hostile_images.h"
#include "test_util.h"

namespace vblk {
namespace {

TEST(HostileImages, EachRejectedDamagedOrValidAsItsCaseSays) {
  spdlog::level::level_enum previous = spdlog::default_logger()->level();
  spdlog::default_logger()->set_level(spdlog::level::off);
  test::TempDir dir;
  hostile::Generator g;
  g.dir = dir.path("hostile");
  g.run_all();
  spdlog::default_logger()->set_level(previous);
  EXPECT_EQ(g.problems, 0) << "see the PROBLEM lines above";
  EXPECT_GT(g.written, 200);
  std::printf("hostile images: %s\n", g.summary().c_str());
}

}  // namespace
}  // namespace vblk
