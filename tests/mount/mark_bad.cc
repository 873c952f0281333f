// mark_bad IMAGE FIRST COUNT: marks blocks [FIRST, FIRST+COUNT) BAD in an
// image that is not mounted (no tool does this yet). Test aid for
// bad_block_eio.sh. Exit 0 on success, 1 with one line on stderr otherwise.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "vblk/image_store.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: mark_bad IMAGE FIRST COUNT\n");
    return 2;
  }
  const uint64_t first = std::strtoull(argv[2], nullptr, 10);
  const uint64_t count = std::strtoull(argv[3], nullptr, 10);
  auto store = vblk::ImageStore::open(argv[1], vblk::OpenOptions{});
  if (!store) {
    std::fprintf(stderr, "mark_bad: %s\n", store.status().to_string().c_str());
    return 1;
  }
  if (vblk::Status s = (*store)->set_bad(first, count, true); !s) {
    std::fprintf(stderr, "mark_bad: %s\n", s.to_string().c_str());
    return 1;
  }
  if (vblk::Status s = (*store)->close(); !s) {
    std::fprintf(stderr, "mark_bad: %s\n", s.to_string().c_str());
    return 1;
  }
  return 0;
}
