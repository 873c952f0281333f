// libFuzzer target: any bytes given as an image must open with a clean error
// or open and then survive inspection, checking and reads: never crash, hang
// or read out of bounds.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

#include "vblk/image_store.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Quiet: errors are expected on nearly every input.
  setenv("SPDLOG_LEVEL", "off", 1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  int fd = memfd_create("vblk-fuzz", MFD_CLOEXEC);
  if (fd < 0) return 0;
  size_t done = 0;
  while (done < size) {
    ssize_t n = write(fd, data + done, size - done);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  std::string path = "/proc/self/fd/" + std::to_string(fd);
  vblk::OpenOptions opts;
  opts.read_only = true;
  auto store = vblk::ImageStore::open(path, opts);
  if (store.is_ok()) {
    auto& st = *store;
    (void)st->info();
    (void)st->stats();
    (void)st->bad_ranges();
    uint64_t limit = std::min<uint64_t>(st->block_count(), 4096);
    (void)st->state_runs(0, limit, [](uint64_t, uint64_t, vblk::BlockState) {});
    std::vector<uint8_t> buf(st->block_size());
    for (uint64_t b = 0; b < std::min<uint64_t>(limit, 64); ++b) {
      (void)st->read_blocks(b, 1, buf);
      (void)st->locate(b);
    }
    (void)st->check();
    (void)st->close();
  }
  close(fd);
  return 0;
}
