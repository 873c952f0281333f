// export_aid: puts blocks of an unmounted image into the states the export
// tests need, through the image store directly (no FUSE, no root).
//
//   export_aid IMAGE trim FIRST COUNT      blocks become TRIMMED
//   export_aid IMAGE bad FIRST COUNT       blocks become BAD
//   export_aid IMAGE corrupt BLOCK         flips a stored byte of BLOCK's record
//
// Exit 0 on success, 1 with one line on stderr otherwise, 2 on bad usage.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "vblk/image_store.h"

namespace {

int report(const vblk::Status& s) {
  std::fprintf(stderr, "export_aid: %s\n", s.to_string().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string op = argc > 2 ? argv[2] : "";
  const bool range_op = op == "trim" || op == "bad";
  if (!((range_op && argc == 5) || (op == "corrupt" && argc == 4))) {
    std::fprintf(stderr, "usage: export_aid IMAGE trim|bad FIRST COUNT | export_aid IMAGE corrupt BLOCK\n");
    return 2;
  }
  const uint64_t first = std::strtoull(argv[3], nullptr, 10);
  const uint64_t count = range_op ? std::strtoull(argv[4], nullptr, 10) : 1;
  auto store = vblk::ImageStore::open(argv[1], vblk::OpenOptions{});
  if (!store) return report(store.status());
  vblk::Status s = op == "trim"  ? (*store)->trim_blocks(first, count)
                   : op == "bad" ? (*store)->set_bad(first, count, true)
                                 : (*store)->corrupt_block(first);
  if (!s) return report(s);
  if (s = (*store)->close(); !s) return report(s);
  return 0;
}
