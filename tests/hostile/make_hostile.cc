// make_hostile: writes the hostile images (see hostile_images.h) and
// DIR/manifest.tsv, for tests/hostile/hostile.sh.
//
//   make_hostile DIR
#include "hostile_images.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_hostile DIR\n");
    return 2;
  }
  spdlog::set_level(spdlog::level::off);
  vblk::hostile::Generator g;
  g.dir = argv[1];
  g.run_all();
  std::printf("make_hostile: %s in %s\n", g.summary().c_str(), g.dir.c_str());
  if (g.problems) std::fprintf(stderr, "make_hostile: %d problems (see above)\n", g.problems);
  return g.problems ? 1 : 0;
}
