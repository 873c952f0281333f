// libFuzzer target: any bytes given as an image must be refused with a
// clean error or be served without a crash, hang or out-of-bounds access by
// everything that parses an image:
//   * a read-only open, as vblk-inspect and vblk-export do: info, stats,
//     the state map, block locations, reads of the USED blocks (whole runs
//     and their first blocks alone), the scrub;
//   * a writable open of an in-memory copy, as vblkfs does: recovery and its
//     checkpoint, reads, writes, a trim, a flush, a close; then the image
//     it leaves, read-only again.
// Each input is tried twice: as given, and with every checksum the input
// seems to have re-sealed (XXH3), so that mutations of structured fields
// get past the checksums to the parsers behind them.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "format/format.h"
#include "format/unit_table.h"
#include "io/mem_file.h"
#include "store/open.h"
#include "store/store_impl.h"
#include "vblk/image_store.h"

namespace {

using vblk::BlockState;
using Bytes = std::vector<uint8_t>;
namespace format = vblk::format;

// An in-memory image may not grow beyond this (hostile geometry must not
// make the fuzzer allocate gigabytes).
constexpr uint64_t kMaxImageBytes = 64ull << 20;

void reseal_at(Bytes& b, uint64_t at, uint64_t size) {
  if (at + size > b.size()) return;
  format::put_u64(b.data() + at + size - 8, format::hash64(b.data() + at, size - 8));
}

// Re-seals the payload hash of the record whose header is at `rec`, and
// first, with a unit table, each unit's checksum in the table (as far as
// the table's ends stay inside the payload).
void reseal_payload(uint8_t* rec, uint32_t stored) {
  const uint8_t flags = rec[5];
  uint8_t* payload = rec + format::kRecordHeaderSize;
  if ((flags & format::kRecordFlagUnitTable) && stored >= format::kUnitTableHeadSize) {
    const uint64_t units = format::get_u32(payload + 4);
    const uint64_t table = format::kUnitTableHeadSize + units * format::kUnitTableEntrySize;
    uint32_t start = 0;
    for (uint64_t i = 0; table <= stored && i < units; ++i) {
      uint8_t* e = payload + format::kUnitTableHeadSize + i * format::kUnitTableEntrySize;
      const uint32_t end = format::get_u32(e);
      if (end < start || table + end > stored) break;
      format::put_u64(e + 8, format::hash64(payload + table + start, end - start));
      start = end;
    }
  }
  format::put_u64(rec + 48, format::payload_hash(flags, {payload, stored}));
}

// Re-seals every checksum of the structures found where the format puts
// them: record payloads and headers, segment headers, a one-chunk
// metadata's hash, the slots and the superblock. Bounds come from the
// input itself and are all checked.
void reseal(Bytes& b) {
  if (b.size() < format::kSuperblockSize) return;
  const uint64_t seg_size = format::get_u32(b.data() + 60);
  const uint64_t data_start = format::get_u64(b.data() + 88);
  if (seg_size >= 4096 && seg_size <= (256u << 20) && data_start >= 12288 && data_start < b.size()) {
    for (uint64_t seg = data_start; seg + format::kSegmentHeaderSize <= b.size(); seg += seg_size) {
      if (format::get_u64(b.data() + seg) != format::kSegmentMagic) continue;
      reseal_at(b, seg, format::kSegmentHeaderSize);
      for (uint64_t pos = format::kSegmentHeaderSize; pos + format::kRecordHeaderSize <= seg_size;) {
        const uint64_t at = seg + pos;
        if (at + format::kRecordHeaderSize > b.size() || format::get_u32(b.data() + at) != format::kRecordMagic) break;
        const uint32_t stored = format::get_u32(b.data() + at + 36);
        if (b.size() - at - format::kRecordHeaderSize < stored) break;
        reseal_payload(b.data() + at, stored);
        reseal_at(b, at, format::kRecordHeaderSize);
        pos += format::record_total_length(stored);
      }
    }
  }
  for (uint64_t slot : format::kCheckpointOffset) {
    if (slot + format::kCheckpointSize > b.size()) continue;
    uint8_t* p = b.data() + slot;
    const uint64_t meta = format::get_u64(p + 48);
    if (format::get_u32(p + 36) == 1 && meta >= data_start && meta < b.size() &&
        b.size() - meta >= format::kRecordHeaderSize &&
        format::get_u32(b.data() + meta) == format::kRecordMagic) {
      const uint32_t stored = format::get_u32(b.data() + meta + 36);
      if (b.size() - meta - format::kRecordHeaderSize >= stored) {
        format::put_u64(p + 56, stored);
        format::put_u64(p + 64, format::hash64(b.data() + meta + format::kRecordHeaderSize, stored));
      }
    }
    reseal_at(b, slot, format::kCheckpointSize);
  }
  reseal_at(b, 0, format::kSuperblockSize);
}

// What the inspection and export tools do with an open image.
void inspect_and_export(vblk::ImageStore& st) {
  (void)st.info();
  (void)st.stats();
  (void)st.bad_ranges();
  std::vector<std::pair<uint64_t, uint64_t>> used;
  uint64_t runs = 0;
  (void)st.state_runs(0, st.block_count(), [&](uint64_t first, uint64_t count, BlockState s) {
    ++runs;
    if (s == BlockState::kUsed && used.size() < 64) used.push_back({first, count});
  });
  Bytes buf;
  uint64_t budget = 512;  // blocks read per input
  for (auto [first, count] : used) {
    const uint64_t n = std::min<uint64_t>({count, budget, 64});
    if (n == 0) break;
    buf.resize(n * st.block_size());
    (void)st.read_blocks(first, n, buf);
    // One block alone decodes only a prefix of its record's frame, or
    // (the last, in a later unit) only its own unit when they are independent.
    (void)st.read_blocks(first, 1, {buf.data(), st.block_size()});
    (void)st.read_blocks(first + n - 1, 1, {buf.data(), st.block_size()});
    (void)st.locate(first);
    (void)st.locate(first + n - 1);
    budget -= n;
  }
  (void)st.locate(st.block_count() - 1);
  (void)st.check();
}

void try_image(const Bytes& image) {
  // Read-only, through the host file as the tools open it.
  int fd = memfd_create("vblk-fuzz", MFD_CLOEXEC);
  if (fd < 0) return;
  for (size_t done = 0; done < image.size();) {
    ssize_t n = write(fd, image.data() + done, image.size() - done);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  vblk::OpenOptions ro;
  ro.read_only = true;
  if (auto st = vblk::ImageStore::open("/proc/self/fd/" + std::to_string(fd), ro); st.is_ok()) {
    inspect_and_export(**st);
    (void)(*st)->close();
  }
  close(fd);

  // Writable, on an in-memory copy: recovery, then what a daemon does.
  auto file = std::make_unique<vblk::io::MemFile>("fuzz.img", image, kMaxImageBytes);
  vblk::io::MemFile* mem = file.get();
  vblk::OpenOptions rw;
  rw.index_cache_bytes = 1 << 20;
  auto st = vblk::store::open_image_file(std::move(file), rw);
  if (!st) return;
  vblk::ImageStore& s = **st;
  inspect_and_export(s);
  const uint64_t blocks = s.block_count();
  const uint32_t bs = s.block_size();
  Bytes data(2 * size_t{s.block_size()}, 0);
  for (size_t i = 0; i < data.size() / 2; ++i) data[i] = static_cast<uint8_t>(i * 7);
  (void)s.write_blocks(0, {data.data(), std::min<size_t>(data.size(), blocks * s.block_size())});
  (void)s.write_blocks(blocks - 1, {data.data(), s.block_size()});
  (void)s.trim_blocks(blocks / 2, 1);
  (void)s.flush();
  if (!s.close().is_ok()) return;
  // What the session left is parsed again. (It need not open: accounting
  // taken from hostile index pages can make the checkpoint it wrote one
  // that a reader refuses, with a clear error.)
  Bytes after = mem->contents();
  st->reset();
  auto again = vblk::store::open_image_file(std::make_unique<vblk::io::MemFile>("fuzz.img", after, kMaxImageBytes), ro);
  if (!again) return;
  inspect_and_export(**again);
  Bytes back(bs);
  (void)(*again)->read_blocks(blocks - 1, 1, back);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Quiet: errors are expected on nearly every input.
  spdlog::set_level(spdlog::level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Bytes image(data, data + size);
  try_image(image);
  Bytes sealed = image;
  reseal(sealed);
  if (sealed != image) try_image(sealed);
  return 0;
}
