// Scale check: build a large image with many GiB written at scattered
// offsets, then time how long opening it takes and how much memory that
// costs. Run through bench/scale_open.sh, which measures the open in a fresh
// process with /usr/bin/time.
//
//   scale_open create IMAGE CAPACITY_GIB WRITTEN_GIB
//   scale_open open IMAGE [--rw]
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "vblk/image_store.h"

using namespace vblk;
using Clock = std::chrono::steady_clock;

static int create(const std::string& path, uint64_t capacity_gib, uint64_t written_gib) {
  FormatOptions f;
  f.capacity_bytes = capacity_gib << 30;
  f.force = true;
  if (Status s = ImageStore::create(path, f); !s) {
    std::fprintf(stderr, "%s\n", s.to_string().c_str());
    return 1;
  }
  auto st = ImageStore::open(path, {});
  if (!st) {
    std::fprintf(stderr, "%s\n", st.status().to_string().c_str());
    return 1;
  }
  // 1 MiB chunks, half random and half repetitive (about 2:1 with zstd),
  // each at a random 1 MiB-aligned place on the device.
  const size_t chunk = 1 << 20;
  std::vector<uint8_t> data(chunk);
  std::mt19937_64 rng(7);
  const uint64_t chunks = (written_gib << 30) / chunk;
  const uint64_t slots = (capacity_gib << 30) / chunk;
  auto t0 = Clock::now();
  for (uint64_t i = 0; i < chunks; ++i) {
    for (size_t b = 0; b < chunk; b += 4096) {
      for (size_t k = 0; k < 2048; k += 8) {
        uint64_t r = rng();
        std::memcpy(&data[b + k], &r, 8);
      }
      std::memset(&data[b + 2048], static_cast<int>(i & 0xff), 2048);
    }
    uint64_t at = (rng() % slots) * (chunk / 4096);
    if (Status s = (*st)->write_blocks(at, data); !s) {
      std::fprintf(stderr, "%s\n", s.to_string().c_str());
      return 1;
    }
    if (i % 1024 == 1023)
      std::fprintf(stderr, "  %llu GiB written\n", static_cast<unsigned long long>((i + 1) >> 10));
  }
  if (Status s = (*st)->close(); !s) {
    std::fprintf(stderr, "%s\n", s.to_string().c_str());
    return 1;
  }
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  auto stats = (*st)->stats();
  std::printf("created: %llu GiB device, %llu GiB written in %.1f s (%.0f MiB/s), stored %.2f GiB\n",
              (unsigned long long)capacity_gib, (unsigned long long)written_gib, secs,
              static_cast<double>(written_gib << 10) / secs, static_cast<double>(stats.stored_bytes) / (1 << 30));
  return 0;
}

static int open_image(const std::string& path, bool rw) {
  OpenOptions o;
  o.read_only = !rw;
  auto t0 = Clock::now();
  auto st = ImageStore::open(path, o);
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  if (!st) {
    std::fprintf(stderr, "%s\n", st.status().to_string().c_str());
    return 1;
  }
  auto stats = (*st)->stats();
  // Touch a few random blocks to show lookups load pages on demand.
  std::vector<uint8_t> buf(4096);
  std::mt19937_64 rng(1);
  auto t1 = Clock::now();
  for (int i = 0; i < 1000; ++i) (void)(*st)->read_blocks(rng() % (*st)->block_count(), 1, buf);
  double read_secs = std::chrono::duration<double>(Clock::now() - t1).count();
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  std::printf("open (%s): %.3f s; used blocks %llu; 1000 random block reads %.3f s; max RSS %ld MiB\n",
              rw ? "read-write" : "read-only", secs, (unsigned long long)stats.used_blocks, read_secs,
              ru.ru_maxrss / 1024);
  return 0;
}

int main(int argc, char** argv) {
  if (argc >= 5 && std::string(argv[1]) == "create")
    return create(argv[2], std::stoull(argv[3]), std::stoull(argv[4]));
  if (argc >= 3 && std::string(argv[1]) == "open") return open_image(argv[2], argc > 3 && std::string(argv[3]) == "--rw");
  std::fprintf(stderr, "usage: scale_open create IMAGE CAPACITY_GIB WRITTEN_GIB | open IMAGE [--rw]\n");
  return 2;
}
