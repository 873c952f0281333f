// What a checkpoint costs, full against delta (vblk(5), CHECKPOINTS): the
// metadata it writes and the time it takes after 1000 random 4 KiB writes,
// and the time and memory an open then takes. Run through
// bench/checkpoint_cost.sh, which opens in a fresh process each time.
//
//   checkpoint_cost create IMAGE SIZE [--per-page]
//       an image of SIZE (K/M/G/T suffixes) written whole in 1 MiB runs, or
//       with --per-page one 4 KiB block in each index page (what the
//       metadata of a fully written image holds, without writing it all)
//   checkpoint_cost update IMAGE full|delta
//       1000 random 4 KiB writes, then a checkpoint: full (every one is,
//       OpenOptions::max_delta_chain 0) or by the default rule
//   checkpoint_cost open IMAGE
//       a read-only open: its time, the chain it loaded, the peak RSS
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "vblk/size_parse.h"
#include "vblk/image_store.h"

using namespace vblk;
using Clock = std::chrono::steady_clock;

namespace {

constexpr uint32_t kBs = 4096;

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

int fail(const Status& s) {
  std::fprintf(stderr, "checkpoint_cost: %s\n", s.to_string().c_str());
  return 1;
}

// Half random, half a repeated byte: about 2:1 with zstd.
void fill(std::mt19937_64& rng, uint8_t* block) {
  for (size_t k = 0; k < kBs / 2; k += 8) {
    const uint64_t r = rng();
    std::memcpy(block + k, &r, 8);
  }
  std::memset(block + kBs / 2, static_cast<int>(rng() & 0xff), kBs / 2);
}

int create(const std::string& path, uint64_t bytes, bool per_page) {
  FormatOptions f;
  f.capacity_bytes = bytes;
  f.force = true;
  if (Status s = ImageStore::create(path, f); !s) return fail(s);
  OpenOptions o;
  // Fewer, larger checkpoints while filling (dirty pages wait for one).
  o.index_cache_bytes = 1ull << 30;
  auto st = ImageStore::open(path, o);
  if (!st) return fail(st.status());
  std::mt19937_64 rng(7);
  const auto t0 = Clock::now();
  uint64_t writes = 0;
  if (per_page) {
    // One small block per index page of 1024 entries.
    std::vector<uint8_t> block(kBs, 0);
    for (uint64_t first = 0; first < bytes / kBs; first += 1024, ++writes) {
      const uint64_t r = rng();
      std::memcpy(block.data(), &r, 8);
      if (Status s = (*st)->write_blocks(first + r % 1024, block); !s) return fail(s);
    }
  } else {
    std::vector<uint8_t> run(1 << 20);
    for (uint64_t at = 0; at < bytes; at += run.size(), ++writes) {
      for (size_t b = 0; b < run.size(); b += kBs) fill(rng, run.data() + b);
      if (Status s = (*st)->write_blocks(at / kBs, run); !s) return fail(s);
    }
  }
  if (Status s = (*st)->close(); !s) return fail(s);
  std::printf("created %s: %llu writes in %.1f s\n", path.c_str(), static_cast<unsigned long long>(writes),
              since(t0));
  return 0;
}

int update(const std::string& path, bool full) {
  OpenOptions o;
  o.background_maintenance = false;
  if (full) o.max_delta_chain = 0;
  auto st = ImageStore::open(path, o);
  if (!st) return fail(st.status());
  ImageStore& s = **st;
  std::mt19937_64 rng(full ? 11 : 13);
  std::vector<uint8_t> block(kBs);
  // The first write takes the open's own checkpoint, and the writes run
  // the cleaner (inline: no maintenance thread), which takes checkpoints
  // to release what it emptied.
  const uint64_t generation = s.info().generation;
  const auto w0 = Clock::now();
  for (int i = 0; i < 1000; ++i) {
    fill(rng, block.data());
    if (Status w = s.write_blocks(rng() % s.block_count(), block); !w) return fail(w);
  }
  const double write_secs = since(w0);
  const ImageInfo before = s.info();
  const auto t0 = Clock::now();
  if (Status c = s.checkpoint(); !c) return fail(c);
  const double secs = since(t0);
  const ImageInfo after = s.info();
  // A delta adds its bytes to the chain; a full one is the chain.
  const uint64_t meta = after.checkpoint_deltas ? after.checkpoint_chain_bytes - before.checkpoint_chain_bytes
                                                : after.checkpoint_chain_bytes;
  if (Status c = s.close(); !c) return fail(c);
  std::printf("writes: %.2f s, %llu checkpoints taken meanwhile\n", write_secs,
              static_cast<unsigned long long>(before.generation - generation));
  std::printf("checkpoint: %s, %llu bytes of metadata, %.3f s (chain: %llu deltas, %llu bytes)\n",
              after.checkpoint_deltas ? "delta" : "full", static_cast<unsigned long long>(meta), secs,
              static_cast<unsigned long long>(after.checkpoint_deltas),
              static_cast<unsigned long long>(after.checkpoint_chain_bytes));
  return 0;
}

int open_image(const std::string& path) {
  OpenOptions o;
  o.read_only = true;
  const auto t0 = Clock::now();
  auto st = ImageStore::open(path, o);
  const double secs = since(t0);
  if (!st) return fail(st.status());
  const ImageInfo info = (*st)->info();
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  std::printf("open: %.3f s, max RSS %ld MiB (chain: %llu deltas, %llu bytes)\n", secs, ru.ru_maxrss / 1024,
              static_cast<unsigned long long>(info.checkpoint_deltas),
              static_cast<unsigned long long>(info.checkpoint_chain_bytes));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> a(argv + 1, argv + argc);
  if (a.size() >= 3 && a[0] == "create") {
    auto bytes = parse_size(a[2]);
    if (!bytes) return fail(bytes.status());
    return create(a[1], *bytes, a.size() > 3 && a[3] == "--per-page");
  }
  if (a.size() == 3 && a[0] == "update" && (a[2] == "full" || a[2] == "delta")) return update(a[1], a[2] == "full");
  if (a.size() == 2 && a[0] == "open") return open_image(a[1]);
  std::fprintf(stderr,
               "usage: checkpoint_cost create IMAGE SIZE [--per-page] | update IMAGE full|delta | open IMAGE\n");
  return 2;
}
