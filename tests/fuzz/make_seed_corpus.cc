// Writes small, valid images covering every record type, and a record of
// two units (chained or independent), into a directory: the seed corpus
// for fuzz_open.
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "vblk/image_store.h"

using namespace vblk;

namespace {

Status build(const std::string& path, uint32_t bs, int variant) {
  FormatOptions f;
  f.capacity_bytes = uint64_t{bs} * 256;
  f.block_size = bs;
  f.segment_size = 1 << 20;
  f.data_start = 12288;
  f.force = true;
  VBLK_RETURN_IF_ERROR(ImageStore::create(path, f));
  if (variant == 0) return Status::ok();
  // Variant 1 compresses at the image's level, where a record of two units
  // may take chained units; the others write provisional records, whose
  // units are independent.
  OpenOptions o;
  o.defer_compression = variant != 1;
  auto st = ImageStore::open(path, o);
  if (!st) return st.status();
  std::mt19937 rng(variant);
  std::vector<uint8_t> data(size_t{bs} * 4);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i < data.size() / 2 ? rng() : 'a');
  VBLK_RETURN_IF_ERROR((*st)->write_blocks(3, data));
  std::vector<uint8_t> zeros(bs);
  VBLK_RETURN_IF_ERROR((*st)->write_blocks(9, zeros));
  VBLK_RETURN_IF_ERROR((*st)->trim_blocks(4, 1));
  VBLK_RETURN_IF_ERROR((*st)->set_bad(20, 2, true));
  if (variant == 2) VBLK_RETURN_IF_ERROR((*st)->checkpoint());
  VBLK_RETURN_IF_ERROR((*st)->write_blocks(100, data));
  // 64 KiB that compress well: one record of two 32 KiB units, for the
  // reads that decode only some of them.
  std::vector<uint8_t> text(64 * 1024);
  for (size_t i = 0; i < text.size(); ++i) text[i] = static_cast<uint8_t>(i % 1024 == 0 ? rng() : 'a' + i % 26);
  VBLK_RETURN_IF_ERROR((*st)->write_blocks(128, text));
  if (variant == 3) return (*st)->close();
  VBLK_RETURN_IF_ERROR((*st)->flush());
  (*st).release();  // leave an unreplayed log tail, as a crash would
  return Status::ok();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seed_corpus DIR\n");
    return 2;
  }
  std::filesystem::create_directories(argv[1]);
  int n = 0;
  for (uint32_t bs : {512u, 4096u})
    for (int variant = 0; variant < 4; ++variant) {
      std::string path = std::string(argv[1]) + "/seed-" + std::to_string(bs) + "-" + std::to_string(variant);
      if (Status s = build(path, bs, variant); !s) {
        std::fprintf(stderr, "make_seed_corpus: %s: %s\n", path.c_str(), s.to_string().c_str());
        return 1;
      }
      ++n;
    }
  std::printf("%d seed images in %s\n", n, argv[1]);
  return 0;
}
