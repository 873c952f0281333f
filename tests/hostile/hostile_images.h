#pragma once
// Hand-made hostile images: the generator behind make_hostile (the tool
// test tests/hostile/hostile.sh) and the unit test hostile_test (the same
// images through the library, also under the sanitizers).
//
// Every image starts from one valid base image (data, zero blocks, trims,
// bad blocks, a checkpoint and an unreplayed log tail after it) and breaks
// one thing: the file is cut at a structure boundary, a magic, version or
// feature bit is wrong, a length or count is huge or negative, a map entry
// points outside the file or at another structure, or the contents are
// absurd while the checksums are right (they are re-sealed with XXH3 so the
// parsers get past them).
//
// DIR/manifest.tsv has one line per image: NAME <TAB> EXPECT <TAB> WHAT.
// EXPECT is what every tool must agree with:
//   reject   the image cannot be opened: every tool fails;
//   damaged  it opens, but a scrub finds damage: --check and export fail;
//   valid    it is a valid image: every tool succeeds (vblk-export may
//            refuse its BAD blocks).
// Each image is first opened here, in a child process with a time limit,
// read-only (as vblk-inspect and vblk-export do) and writable on an
// in-memory copy (as vblkfs does); the result must match the case's stated
// expectation (truncations take the result as theirs). A crash, a hang, a
// mismatch or an open that succeeds one way and fails the other is printed
// as a PROBLEM line and counted in Generator::problems.
//
// Everything here has internal linkage: include this header in one source
// file per program.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <zstd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <optional>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "format/checkpoint_meta.h"
#include "format/format.h"
#include "format/unit_table.h"
#include "io/mem_file.h"
#include "store/open.h"
#include "store/store_impl.h"
#include "vblk/image_store.h"

namespace vblk::hostile {
namespace {

using namespace vblk;
using Bytes = std::vector<uint8_t>;
using format::RecordHeader;
using format::RecordType;

enum class Expect { kReject, kDamaged, kValid, kOracle };
const char* name_of(Expect e) {
  switch (e) {
    case Expect::kReject: return "reject";
    case Expect::kDamaged: return "damaged";
    case Expect::kValid: return "valid";
    case Expect::kOracle: return "oracle";
  }
  return "?";
}

// ---- the base image -------------------------------------------------------------

constexpr uint32_t kBs = 4096;
constexpr uint64_t kBlocks = 2048;  // 8 MiB
constexpr uint32_t kSegment = 1 << 20;
constexpr uint64_t kDataStart = 12288;

Bytes block_data(uint64_t tag, bool compressible) {
  Bytes b(kBs);
  uint64_t x = tag * 0x9e3779b97f4a7c15ull + 1;
  for (size_t i = 0; i < b.size(); i += 8) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    uint64_t v = compressible && i >= kBs / 4 ? tag : x;
    std::memcpy(b.data() + i, &v, 8);
  }
  return b;
}

Bytes blocks(uint64_t first, uint64_t n, bool compressible) {
  Bytes out;
  for (uint64_t i = 0; i < n; ++i) {
    Bytes b = block_data(first + i, compressible);
    out.insert(out.end(), b.begin(), b.end());
  }
  return out;
}

#define HOSTILE_CHECK_OK(expr)                                                                        \
  do {                                                                                        \
    ::vblk::Status s_ = (expr);                                                               \
    if (!s_) {                                                                                \
      std::fprintf(stderr, "make_hostile: %s: %s\n", #expr, s_.to_string().c_str());        \
      std::exit(1);                                                                           \
    }                                                                                         \
  } while (0)

// Builds the base image in memory: a checkpoint holding index pages, the
// metadata and a bad-block list, followed by a flushed log tail of DATA,
// ZERO, TRIM, BAD_SET and BAD_CLEAR records.
Bytes build_base() {
  FormatOptions f;
  f.capacity_bytes = kBlocks * kBs;
  f.segment_size = kSegment;
  f.data_start = kDataStart;
  auto sb = store::superblock_for("base.img", f);
  HOSTILE_CHECK_OK(sb.status());
  sb->entries_per_page = 64;  // 32 index pages for 2048 blocks
  auto file = std::make_unique<io::MemFile>("base.img");
  io::MemFile* mem = file.get();
  HOSTILE_CHECK_OK(store::write_empty_image(*file, *sb));
  // Compressed at the image's level (as an import is): each record of more
  // than one unit takes the smaller of its unit layouts (vblk(5),
  // Compression unit), so the base holds both.
  OpenOptions o;
  o.defer_compression = false;
  auto st = store::open_image_file(std::move(file), o);
  HOSTILE_CHECK_OK(st.status());
  ImageStore& s = **st;
  HOSTILE_CHECK_OK(s.write_blocks(0, blocks(0, 64, true)));
  HOSTILE_CHECK_OK(s.write_blocks(64, blocks(64, 100, false)));
  HOSTILE_CHECK_OK(s.write_blocks(200, Bytes(10 * kBs)));  // ZERO
  HOSTILE_CHECK_OK(s.write_blocks(300, blocks(300, 40, true)));
  HOSTILE_CHECK_OK(s.write_blocks(20, blocks(1020, 8, true)));  // overwrite: dead records
  HOSTILE_CHECK_OK(s.trim_blocks(30, 10));
  HOSTILE_CHECK_OK(s.set_bad(400, 4, true));
  HOSTILE_CHECK_OK(s.write_blocks(1500, blocks(1500, 20, true)));
  // 32 KiB written four times over: the chained frame stores the repeats
  // in a few bytes each, independent frames in full: chained units.
  Bytes repeated;
  for (int i = 0; i < 4; ++i) {
    const Bytes unit = blocks(800, 8, true);
    repeated.insert(repeated.end(), unit.begin(), unit.end());
  }
  HOSTILE_CHECK_OK(s.write_blocks(800, repeated));
  HOSTILE_CHECK_OK(s.checkpoint());
  // The log tail, replayed on open.
  HOSTILE_CHECK_OK(s.write_blocks(500, blocks(500, 30, true)));
  HOSTILE_CHECK_OK(s.write_blocks(600, Bytes(3 * kBs)));
  HOSTILE_CHECK_OK(s.trim_blocks(100, 5));
  HOSTILE_CHECK_OK(s.set_bad(700, 2, true));
  HOSTILE_CHECK_OK(s.set_bad(401, 1, false));
  HOSTILE_CHECK_OK(s.write_blocks(10, blocks(2010, 2, false)));
  HOSTILE_CHECK_OK(s.flush());
  Bytes image = mem->contents();
  HOSTILE_CHECK_OK(s.close());
  return image;
}

// ---- reading the base image's structures -------------------------------------------

struct Rec {
  uint64_t off;
  RecordHeader h;
  uint32_t length() const { return format::record_total_length(h.stored_len); }
};

// The checkpoint metadata as the codec has it, plus bytes to append after
// it (hostile trailing data).
struct Meta : format::CheckpointMeta {
  Bytes trailing;
};

struct Layout {
  format::Superblock sb;
  int slot = 0;  // the slot in force
  format::Checkpoint cp;
  std::vector<uint64_t> segment_headers;
  std::vector<Rec> records;  // every record, in file order
  Meta meta;
  uint64_t tail_end = 0;     // file offset where the replayed log ends
  uint64_t scratch = 0;      // unused space at the end of the head segment grows down from here
};

Bytes decompress(const Bytes& image, const Rec& r) {
  const uint8_t* p = image.data() + r.off + format::kRecordHeaderSize;
  size_t stored = r.h.stored_len;
  if (r.h.flags & format::kRecordFlagUnitTable) {
    const size_t table = format::unit_table_size(format::get_u32(p + 4));
    p += table, stored -= table;
  }
  Bytes raw(r.h.raw_len);
  if (r.h.flags & format::kRecordFlagCompressed) {
    size_t n = ZSTD_decompress(raw.data(), raw.size(), p, stored);
    if (ZSTD_isError(n) || n != raw.size()) {
      std::fprintf(stderr, "make_hostile: base image record at %llu does not decompress\n",
                   static_cast<unsigned long long>(r.off));
      std::exit(1);
    }
  } else {
    std::memcpy(raw.data(), p, raw.size());
  }
  return raw;
}

// The base image's metadata, through the store's own decoder.
Meta parse_meta(const Bytes& m, const Layout& l, uint64_t file_size) {
  format::MetaBounds b;
  b.resizable = (l.sb.incompat_features & format::kFeatureResizable) != 0;
  b.delta = (l.sb.incompat_features & format::kFeatureDeltaCheckpoints) != 0;
  b.superblock_block_count = l.sb.block_count;
  b.block_size = l.sb.block_size;
  b.segment_size = l.sb.segment_size;
  b.entries_per_page = l.sb.entries_per_page;
  b.data_start = l.sb.data_start;
  b.file_size = file_size;
  b.segment_count = l.cp.segment_count;
  auto decoded = format::decode_checkpoint_meta(m, b);
  if (!decoded) {
    std::fprintf(stderr, "make_hostile: base image metadata: %s\n", decoded.status().message().c_str());
    std::exit(1);
  }
  Meta out;
  static_cast<format::CheckpointMeta&>(out) = std::move(*decoded);
  return out;
}

Bytes encode_meta(const Meta& m) {
  Bytes out = format::encode_checkpoint_meta(m);
  out.insert(out.end(), m.trailing.begin(), m.trailing.end());
  return out;
}

Layout parse(const Bytes& image) {
  Layout l;
  auto sb = format::decode_superblock({image.data(), format::kSuperblockSize}, "base");
  HOSTILE_CHECK_OK(sb.status());
  l.sb = *sb;
  uint64_t best = 0;
  for (int slot = 0; slot < 2; ++slot) {
    auto cp = format::decode_checkpoint({image.data() + format::kCheckpointOffset[slot], format::kCheckpointSize});
    if (cp && cp->generation >= best) best = cp->generation, l.cp = *cp, l.slot = slot;
  }
  for (uint64_t seg = 0; seg < l.cp.segment_count; ++seg) {
    const uint64_t start = kDataStart + seg * kSegment;
    if (start + format::kSegmentHeaderSize > image.size()) break;
    if (!format::decode_segment_header({image.data() + start, format::kSegmentHeaderSize})) continue;
    l.segment_headers.push_back(start);
    for (uint64_t pos = format::kSegmentHeaderSize; pos + format::kRecordHeaderSize <= kSegment;) {
      const uint64_t off = start + pos;
      if (off + format::kRecordHeaderSize > image.size()) break;
      auto h = format::decode_record_header({image.data() + off, format::kRecordHeaderSize});
      if (!h) break;
      Rec r{off, *h};
      if (off + r.length() > image.size()) break;
      l.records.push_back(r);
      pos += r.length();
    }
  }
  // The metadata of the checkpoint in force, chunk by chunk.
  std::vector<Bytes> chunks;
  for (uint64_t at = l.cp.meta_last_chunk; at != 0;) {
    auto it = std::find_if(l.records.begin(), l.records.end(), [&](const Rec& r) { return r.off == at; });
    if (it == l.records.end()) {
      std::fprintf(stderr, "make_hostile: base image metadata chunk not found\n");
      std::exit(1);
    }
    chunks.insert(chunks.begin(), decompress(image, *it));
    at = it->h.count == 0 ? 0 : it->h.first;
  }
  Bytes meta;
  for (auto& c : chunks) meta.insert(meta.end(), c.begin(), c.end());
  l.meta = parse_meta(meta, l, image.size());
  // Where the replayed log ends: after the last record of the checkpoint's generation.
  l.tail_end = kDataStart + l.cp.head_segment * kSegment + l.cp.head_fill;
  for (const Rec& r : l.records)
    if (r.h.generation == l.cp.generation && r.h.seq >= l.cp.next_record_seq) l.tail_end = std::max(l.tail_end, r.off + r.length());
  l.scratch = kDataStart + (l.cp.head_segment + 1) * kSegment;
  if (l.scratch - l.tail_end < 256 * 1024) {
    std::fprintf(stderr, "make_hostile: base image head segment has no room for relocated records\n");
    std::exit(1);
  }
  return l;
}

std::vector<Rec> records_of(const Layout& l, RecordType type, bool tail) {
  std::vector<Rec> out;
  for (const Rec& r : l.records) {
    bool in_tail = r.h.generation == l.cp.generation && r.h.seq >= l.cp.next_record_seq;
    if (r.h.type == type && in_tail == tail) out.push_back(r);
  }
  return out;
}

// ---- editing ----------------------------------------------------------------------

void reseal(Bytes& image, uint64_t at, size_t size) {
  format::put_u64(image.data() + at + size - 8, format::hash64(image.data() + at, size - 8));
}
void reseal_superblock(Bytes& image) { reseal(image, 0, format::kSuperblockSize); }

void put_superblock(Bytes& image, const format::Superblock& sb) {
  format::encode_superblock(sb, std::span<uint8_t, format::kSuperblockSize>(image.data(), format::kSuperblockSize));
}

void put_slot(Bytes& image, int slot, const format::Checkpoint& cp) {
  format::encode_checkpoint(cp, std::span<uint8_t, format::kCheckpointSize>(
                                    image.data() + format::kCheckpointOffset[slot], format::kCheckpointSize));
}

void put_record_header(Bytes& image, uint64_t off, const RecordHeader& h) {
  format::encode_record_header(
      h, std::span<uint8_t, format::kRecordHeaderSize>(image.data() + off, format::kRecordHeaderSize));
}

// Re-seals a record after its payload changed: with a unit table whose
// ends still fit, each unit's checksum, then the payload hash (of the table
// when there is one), then the header.
void reseal_record(Bytes& image, uint64_t off) {
  const uint8_t flags = image[off + 5];
  const uint32_t stored = format::get_u32(image.data() + off + 36);
  uint8_t* payload = image.data() + off + format::kRecordHeaderSize;
  if ((flags & format::kRecordFlagUnitTable) && stored >= format::kUnitTableHeadSize) {
    const uint32_t n = format::get_u32(payload + 4);
    const size_t table = format::unit_table_size(n);
    uint32_t start = 0;
    for (uint32_t i = 0; table <= stored && i < n; ++i) {
      uint8_t* e = payload + format::kUnitTableHeadSize + size_t{i} * format::kUnitTableEntrySize;
      const uint32_t end = format::get_u32(e);
      if (end < start || table + end > stored) break;
      format::put_u64(e + 8, format::hash64(payload + table + start, end - start));
      start = end;
    }
  }
  format::put_u64(image.data() + off + 48, format::payload_hash(flags, {payload, stored}));
  reseal(image, off, format::kRecordHeaderSize);
}

// Writes a record into the unused end of the head segment (beyond the log)
// and returns its offset.
uint64_t place_record(Bytes& image, Layout& l, RecordHeader h, const Bytes& payload) {
  h.stored_len = static_cast<uint32_t>(payload.size());
  if (!(h.flags & format::kRecordFlagCompressed)) h.raw_len = h.stored_len;
  h.payload_hash = format::payload_hash(h.flags, payload);
  const uint32_t len = format::record_total_length(h.stored_len);
  l.scratch -= len;
  const uint64_t off = l.scratch;
  if (image.size() < off + len) image.resize(off + len, 0);
  std::fill(image.begin() + static_cast<ptrdiff_t>(off), image.begin() + static_cast<ptrdiff_t>(off + len), 0);
  put_record_header(image, off, h);
  if (!payload.empty()) std::memcpy(image.data() + off + format::kRecordHeaderSize, payload.data(), payload.size());
  return off;
}

// Replaces the metadata of the checkpoint in force: one META record with
// `meta` as its payload, the slot pointing at it with a matching hash.
void install_meta_bytes(Bytes& image, Layout& l, const Bytes& meta) {
  RecordHeader h;
  h.type = RecordType::kMeta;
  h.seq = 1;
  h.generation = l.cp.generation - 1;
  h.first = 0;
  h.count = 0;
  uint64_t off = place_record(image, l, h, meta);
  format::Checkpoint cp = l.cp;
  cp.meta_last_chunk = off;
  cp.meta_chunks = 1;
  cp.meta_bytes = meta.size();
  cp.meta_hash = format::hash64(meta.data(), meta.size());
  put_slot(image, l.slot, cp);
}
void install_meta(Bytes& image, Layout& l, const Meta& m) { install_meta_bytes(image, l, encode_meta(m)); }

// A DELTA of the base image's checkpoint that changes nothing (its counters,
// capacity and bad list; no page or segment listed).
Meta empty_delta(const Layout& l) {
  Meta d;
  d.version = format::kMetaVersionDelta;
  d.used_blocks = l.meta.used_blocks;
  d.zero_blocks = l.meta.zero_blocks;
  d.trimmed_blocks = l.meta.trimmed_blocks;
  d.stored_bytes = l.meta.stored_bytes;
  d.block_count = l.meta.block_count;
  d.bad_ranges = l.meta.bad_ranges;
  return d;
}

// What a case may change of the links install_links writes: link k's
// metadata (knowing where the older links lie and where it will itself),
// then its bytes.
struct LinkEdits {
  std::function<void(size_t k, Meta& m, const std::vector<format::MetaLocation>& older, uint64_t own)> meta;
  std::function<void(size_t k, Bytes& bytes)> bytes;
};

// Replaces the metadata of the checkpoint in force by a chain: links[0]
// (the base) and each later link one generation newer, the last one the
// slot's, each a META record in the scratch area. As a writer's would, each
// DELTA names the link before it, has its depth, and lists the head
// segment raised over the older links' records. The slot takes generation
// `generation` (the base image's keeps its log tail; a higher one drops it).
void install_links(Bytes& image, Layout& l, std::vector<Meta> links, const LinkEdits& edits = {},
                   uint64_t generation = 0) {
  if (generation == 0) generation = l.cp.generation;
  const uint64_t head = l.cp.head_segment;
  const uint64_t head_start = l.sb.data_start + head * l.sb.segment_size;
  const uint32_t head_live = head < l.meta.segments.size() ? l.meta.segments[head].live_bytes : 0;
  const uint32_t top = static_cast<uint32_t>(l.scratch - head_start);  // the older links lie below it
  std::vector<format::MetaLocation> at;
  uint32_t older_bytes = 0;
  for (size_t k = 0; k < links.size(); ++k) {
    Meta& m = links[k];
    if (m.is_delta()) {
      m.depth = k;
      m.prev = k ? at[k - 1] : format::MetaLocation{};
      auto it = std::find_if(m.segment_changes.begin(), m.segment_changes.end(),
                             [&](const format::MetaSegmentChange& c) { return c.segment >= head; });
      if (it == m.segment_changes.end() || it->segment != head) it = m.segment_changes.insert(it, {head, {}});
      it->entry = {head_live + older_bytes, top};
    }
    const uint64_t own = l.scratch - format::record_total_length(static_cast<uint32_t>(encode_meta(m).size()));
    if (edits.meta) edits.meta(k, m, at, own);
    Bytes bytes = encode_meta(m);
    if (edits.bytes) edits.bytes(k, bytes);
    RecordHeader h;
    h.type = RecordType::kMeta;
    h.seq = 1;
    h.generation = generation - (links.size() - k);
    const uint64_t off = place_record(image, l, h, bytes);
    at.push_back({off, 1, bytes.size(), format::hash64(bytes.data(), bytes.size())});
    older_bytes += format::record_total_length(static_cast<uint32_t>(bytes.size()));
  }
  format::Checkpoint cp = l.cp;
  cp.generation = generation;
  cp.meta_last_chunk = at.back().last_chunk;
  cp.meta_chunks = 1;
  cp.meta_bytes = at.back().bytes;
  cp.meta_hash = at.back().hash;
  put_slot(image, l.slot, cp);
}

// The capacity in force becomes `blocks`: the superblock's, and the
// metadata's (the base image is resizable: the metadata carries it).
void set_capacity(Bytes& image, Layout& l, uint64_t blocks, Meta m) {
  format::Superblock sb = l.sb;
  sb.block_count = blocks;
  put_superblock(image, sb);
  m.block_count = blocks;
  install_meta(image, l, m);
}

// The image as one without the resizable feature: the bit cleared, and
// metadata of `version` without the capacity.
void make_unresizable(Bytes& image, Layout& l, Meta m, uint64_t version) {
  format::Superblock sb = l.sb;
  sb.incompat_features &= ~format::kFeatureResizable;
  put_superblock(image, sb);
  m.version = version;
  m.block_count.reset();
  install_meta(image, l, m);
}

// The entries of index page `page_no` as the base image stores them.
std::vector<format::IndexEntry> page_entries(const Bytes& image, const Layout& l, uint64_t page_no) {
  for (const format::MetaPageEntry& p : l.meta.pages) {
    if (p.page_no != page_no) continue;
    auto it = std::find_if(l.records.begin(), l.records.end(), [&](const Rec& r) { return r.off == p.record_offset; });
    Bytes raw = decompress(image, *it);
    std::vector<format::IndexEntry> out(l.sb.entries_per_page);
    for (size_t i = 0; i < out.size(); ++i) out[i] = format::decode_index_entry(raw.data() + i * format::kIndexEntrySize);
    return out;
  }
  std::fprintf(stderr, "make_hostile: base image has no index page %llu\n", static_cast<unsigned long long>(page_no));
  std::exit(1);
}

// Replaces index page `page_no` by `entries` (an uncompressed PAGE record in
// the scratch area) and points the metadata at it.
void install_page(Bytes& image, Layout& l, uint64_t page_no, const std::vector<format::IndexEntry>& entries) {
  Bytes raw(entries.size() * format::kIndexEntrySize);
  for (size_t i = 0; i < entries.size(); ++i) format::encode_index_entry(entries[i], raw.data() + i * format::kIndexEntrySize);
  RecordHeader h;
  h.type = RecordType::kPage;
  h.seq = 1;
  h.generation = l.cp.generation - 1;
  h.first = page_no;
  uint64_t off = place_record(image, l, h, raw);
  Meta m = l.meta;
  for (format::MetaPageEntry& p : m.pages)
    if (p.page_no == page_no) p.record_offset = off, p.record_length = format::record_total_length(static_cast<uint32_t>(raw.size()));
  install_meta(image, l, m);
}

// Index page 4 (blocks 256..319) holds data written before the checkpoint
// and nothing the log tail touches, so damage there is found by a scrub,
// not by the replay. Blocks 300, 301 and 310 are in it.
constexpr uint64_t kPage = 4;
constexpr size_t kA = 300 - 256, kB = 301 - 256, kC = 310 - 256;

size_t page_index(const Layout& l) {
  for (size_t i = 0; i < l.meta.pages.size(); ++i)
    if (l.meta.pages[i].page_no == kPage) return i;
  std::fprintf(stderr, "make_hostile: base image has no index page %llu\n", static_cast<unsigned long long>(kPage));
  std::exit(1);
}

// ---- the oracle ------------------------------------------------------------------

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

constexpr int kSecondsPerImage = 20;

// Opens the image as the tools do, in a child process. Returns the
// expectation it meets, or a description of what went wrong.
// With `reference` (the base image's file), every block read must also
// match what the reference holds: for valid cases whose edit keeps the data.
std::variant<Expect, std::string> oracle(const std::string& path, const std::string& reference = "") {
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    alarm(kSecondsPerImage);
    if (!kSanitized) {
      struct rlimit lim {8ull << 30, 8ull << 30};
      setrlimit(RLIMIT_AS, &lim);
    }
    OpenOptions ro;
    ro.read_only = true;
    auto st = ImageStore::open(path, ro);
    // The writable open works on an in-memory copy; a file with a huge hole
    // is copied up to the end of its data.
    Bytes bytes;
    {
      std::ifstream in(path, std::ios::binary);
      const uint64_t size = std::filesystem::file_size(path);
      bytes.resize(std::min<uint64_t>(size, 64ull << 20));
      in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
      if (size > bytes.size()) {
        // A MemFile cannot hold the hole: keep the bytes, then all zeros to the end.
        while (!bytes.empty() && bytes.back() == 0) bytes.pop_back();
      }
    }
    auto rw = store::open_image_file(std::make_unique<io::MemFile>(path, std::move(bytes)), {});
    if (st.is_ok() != rw.is_ok()) {
      std::fprintf(stderr, "read-only open: %s; writable open: %s\n", st.status().to_string().c_str(),
                   rw.status().to_string().c_str());
      _exit(13);
    }
    if (!st) _exit(12);
    // What vblk-inspect does: info, stats, state map, a block's location,
    // the scrub; what vblk-export does: read every USED run; what a random
    // reader does: read single blocks.
    ImageStore& s = **st;
    (void)s.info();
    (void)s.stats();
    (void)s.bad_ranges();
    std::vector<std::pair<uint64_t, uint64_t>> used;
    (void)s.state_runs(0, s.block_count(), [&](uint64_t f, uint64_t c, BlockState b) {
      if (b == BlockState::kUsed && used.size() < 10000) used.push_back({f, c});
    });
    for (uint64_t b : {uint64_t{0}, uint64_t{300}, s.block_count() - 1}) (void)s.locate(b);
    std::unique_ptr<ImageStore> ref;
    if (!reference.empty()) {
      auto r = ImageStore::open(reference, ro);
      if (!r) _exit(16);
      ref = std::move(*r);
    }
    bool reads_ok = true, same_data = true;
    Bytes buf, ref_buf;
    auto read = [&](uint64_t first, uint64_t n) {
      buf.resize(n * s.block_size());
      const bool ok = s.read_blocks(first, n, buf).is_ok();
      reads_ok &= ok;
      if (ok && ref) {
        ref_buf.resize(buf.size());
        same_data &= ref->read_blocks(first, n, ref_buf).is_ok() && ref_buf == buf;
      }
    };
    for (auto [f, c] : used) {
      for (uint64_t b = f; b < f + c && b < f + 4096; b += 64) {
        uint64_t n = std::min<uint64_t>(64, f + c - b);
        read(b, n);
        // And single blocks, which read and check only the units of their
        // record up to their own (a block in unit 1 of a 32-block record).
        for (uint64_t k : {uint64_t{9}, n / 2 + 9})
          if (k < n) read(b + k, 1);
      }
    }
    auto rep = s.check();
    // What vblkfs does: a writable open, then writes, a flush, a close.
    ImageStore& w = **rw;
    (void)w.check();
    Bytes one(w.block_size(), 0x5a);
    if (w.write_blocks(0, one).is_ok()) (void)w.flush();
    (void)w.close();
    if (!rep || !rep->clean()) _exit(11);
    if (!reads_ok) _exit(14);
    if (!same_data) _exit(15);
    _exit(10);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFSIGNALED(status))
    return WTERMSIG(status) == SIGALRM ? "did not finish within " + std::to_string(kSecondsPerImage) + " s"
                                       : "crashed with signal " + std::to_string(WTERMSIG(status));
  switch (WEXITSTATUS(status)) {
    case 10: return Expect::kValid;
    case 11: return Expect::kDamaged;
    case 12: return Expect::kReject;
    case 13: return std::string("read-only and writable opens disagree");
    case 14: return std::string("a scrub found it clean, yet a read of a USED block failed");
    case 15: return std::string("valid, yet a read returned other bytes than the base image holds there");
    case 16: return std::string("the base image (the reference) did not open");
    default: return "exited with " + std::to_string(WEXITSTATUS(status));
  }
}

// ---- the cases -------------------------------------------------------------------

struct Generator {
  std::string dir;
  Bytes base;
  Layout layout;
  std::ofstream manifest;
  int written = 0, problems = 0;
  size_t compared_with_base = 0;
  std::map<std::string, int> by_expect;

  // What became of each case, in order: "" when it behaved as its case
  // says, else the problem (also printed as a PROBLEM line).
  struct Outcome {
    std::string name, what, problem;
  };
  std::vector<Outcome> outcomes;

  void emit(const std::string& name, Expect expect, const std::string& what, const Bytes& image,
            uint64_t sparse_size = 0) {
    const std::string problem = try_case(name, expect, what, image, sparse_size);
    if (!problem.empty()) {
      std::fprintf(stderr, "PROBLEM %s (%s): %s\n", name.c_str(), what.c_str(), problem.c_str());
      ++problems;
    }
    outcomes.push_back({name, what, problem});
  }

  // Writes the case's image and runs the oracle on it; "" when it behaves
  // as expected, else what went wrong.
  std::string try_case(const std::string& name, Expect expect, const std::string& what, const Bytes& image,
                       uint64_t sparse_size) {
    const std::string path = dir + "/" + name + ".img";
    {
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out.write(reinterpret_cast<const char*>(image.data()), static_cast<std::streamsize>(image.size()));
    }
    if (sparse_size) std::filesystem::resize_file(path, sparse_size);
    auto t0 = std::chrono::steady_clock::now();
    const bool keeps_data = kKeepsTheData.count(name) > 0;
    compared_with_base += keeps_data;
    auto got = oracle(path, keeps_data ? reference_path() : "");
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (auto* err = std::get_if<std::string>(&got)) return "opening it " + *err;
    Expect seen = std::get<Expect>(got);
    Expect final = expect == Expect::kOracle ? seen : expect;
    if (expect != Expect::kOracle && seen != expect)
      return std::string("expected ") + name_of(expect) + ", the library finds it " + name_of(seen);
    manifest << name << '\t' << name_of(final) << '\t' << what << '\n';
    ++written;
    ++by_expect[name_of(final)];
    if (secs > 5) return "opening and checking it took " + std::to_string(secs) + " s";
    return "";
  }

  // A copy of the base image with `edit` applied to it and a fresh layout.
  void variant(const std::string& name, Expect expect, const std::string& what,
               const std::function<void(Bytes&, Layout&)>& edit) {
    Bytes image = base;
    Layout l = layout;
    edit(image, l);
    emit(name, expect, what, image);
  }

  // Valid cases whose edit keeps every block's data: each read must return
  // what the base image holds there.
  inline static const std::set<std::string> kKeepsTheData = {
      "base",         "page-relocated",     "entry-length-says-raw",       "unit-size-4k",
      "indep-unit-size-4k", "indep-unit-unsized", "sparse-1tib",         "delta-chain",
      "delta-removes-unlisted-page", "delta-restates-page"};
  // The base image as a file, for the oracle to compare reads against.
  std::string reference_path() const { return dir + "/base-reference.bin"; }

  // Builds the base image and writes every case into dir.
  void run_all() {
    std::filesystem::create_directories(dir);
    manifest.open(dir + "/manifest.tsv", std::ios::trunc);
    base = build_base();
    layout = parse(base);
    {
      std::ofstream out(reference_path(), std::ios::binary | std::ios::trunc);
      out.write(reinterpret_cast<const char*>(base.data()), static_cast<std::streamsize>(base.size()));
    }
    other_cases();
    superblock_cases();
    slot_cases();
    meta_cases();
    delta_cases();
    page_cases();
    log_cases();
    unit_table_cases();
    truncation_cases();
    manifest.close();
    // A name in kKeepsTheData that no case has (renamed, mistyped) would
    // silently compare nothing.
    if (compared_with_base != kKeepsTheData.size()) {
      std::fprintf(stderr, "PROBLEM: %zu of the %zu cases that keep the data were compared with the base image\n",
                   compared_with_base, kKeepsTheData.size());
      ++problems;
    }
  }
  // "N images (N damaged, N reject, N valid)"
  std::string summary() const {
    std::string s = std::to_string(written) + " images (";
    const char* sep = "";
    for (auto& [k, n] : by_expect) s += sep + std::to_string(n) + " " + k, sep = ", ";
    return s + ")";
  }

  void superblock_cases();
  void truncation_cases();
  void slot_cases();
  void meta_cases();
  void delta_cases();
  void page_cases();
  void log_cases();
  void unit_table_cases();
  void other_cases();
};

void Generator::superblock_cases() {
  emit("empty", Expect::kReject, "an empty file", {});
  variant("magic-wrong", Expect::kReject, "wrong magic", [](Bytes& b, Layout&) { b[0] = 'v'; });
  variant("magic-qcow2", Expect::kReject, "a qcow2 magic", [](Bytes& b, Layout&) {
    std::fill(b.begin(), b.begin() + 512, 0);
    const uint8_t q[] = {'Q', 'F', 'I', 0xfb, 0, 0, 0, 3};
    std::memcpy(b.data(), q, sizeof q);
  });
  variant("version-future", Expect::kReject, "format version 2, checksum re-sealed", [](Bytes& b, Layout&) {
    format::put_u32(b.data() + 8, 2);
    reseal_superblock(b);
  });
  variant("version-future-unsealed", Expect::kReject, "format version 9 with the old checksum",
          [](Bytes& b, Layout&) { format::put_u32(b.data() + 8, 9); });
  variant("version-zero", Expect::kReject, "format version 0", [](Bytes& b, Layout&) {
    format::put_u32(b.data() + 8, 0);
    reseal_superblock(b);
  });
  variant("version-huge", Expect::kReject, "format version 0xffffffff", [](Bytes& b, Layout&) {
    format::put_u32(b.data() + 8, 0xffffffffu);
    reseal_superblock(b);
  });
  variant("checksum-wrong", Expect::kReject, "superblock checksum off by one", [](Bytes& b, Layout&) { b[504] ^= 1; });
  variant("label-byte-flipped", Expect::kReject, "one label byte changed, checksum not re-sealed",
          [](Bytes& b, Layout&) { b[110] ^= 0x20; });
  auto sb_case = [&](const std::string& name, Expect e, const std::string& what,
                     const std::function<void(format::Superblock&)>& f) {
    variant(name, e, what, [&](Bytes& b, Layout& l) {
      format::Superblock sb = l.sb;
      f(sb);
      put_superblock(b, sb);
    });
  };
  sb_case("feature-incompat-unknown", Expect::kReject, "unknown incompatible feature bit 0x40",
          [](auto& sb) { sb.incompat_features |= 0x40; });
  sb_case("feature-incompat-all", Expect::kReject, "every incompatible feature bit set",
          [](auto& sb) { sb.incompat_features = ~0ull; });
  sb_case("feature-compat-unknown", Expect::kValid, "unknown compatible feature bit 0x8 (may be ignored)",
          [](auto& sb) { sb.compat_features = 8; });
  sb_case("feature-autoclear-unknown", Expect::kValid, "unknown autoclear feature bit 0x10 (a writer clears it)",
          [](auto& sb) { sb.autoclear_features = 0x10; });
  sb_case("header-length-4096", Expect::kReject, "superblock length 4096", [](auto& sb) { sb.header_length = 4096; });
  sb_case("header-length-zero", Expect::kReject, "superblock length 0", [](auto& sb) { sb.header_length = 0; });
  sb_case("block-size-zero", Expect::kReject, "block size 0", [](auto& sb) { sb.block_size = 0; });
  sb_case("block-size-odd", Expect::kReject, "block size 1000", [](auto& sb) { sb.block_size = 1000; });
  sb_case("block-size-huge", Expect::kReject, "block size 2^31", [](auto& sb) { sb.block_size = 1u << 31; });
  sb_case("block-size-other", Expect::kDamaged, "block size 8192 (records hold 4096-byte blocks)",
          [](auto& sb) { sb.block_size = 8192; sb.max_record_bytes = 131072; });
  sb_case("segment-size-zero", Expect::kReject, "segment size 0", [](auto& sb) { sb.segment_size = 0; });
  sb_case("segment-size-huge", Expect::kReject, "segment size 2^31", [](auto& sb) { sb.segment_size = 1u << 31; });
  sb_case("segment-size-odd", Expect::kReject, "segment size 3 MiB", [](auto& sb) { sb.segment_size = 3u << 20; });
  sb_case("block-count-zero", Expect::kReject, "capacity 0 blocks", [](auto& sb) { sb.block_count = 0; });
  sb_case("block-count-negative", Expect::kReject, "capacity 2^64-1 blocks (-1)",
          [](auto& sb) { sb.block_count = ~0ull; });
  sb_case("block-count-2p63", Expect::kReject, "capacity 2^63 blocks", [](auto& sb) { sb.block_count = 1ull << 63; });
  variant("block-count-too-small", Expect::kReject, "capacity smaller than the blocks the log writes",
          [](Bytes& b, Layout& l) { set_capacity(b, l, 16, l.meta); });
  variant("block-count-1pib", Expect::kValid, "capacity 1 PiB (the limit), data as before",
          [](Bytes& b, Layout& l) { set_capacity(b, l, (1ull << 50) / 4096, l.meta); });
  sb_case("block-count-sb-small", Expect::kValid,
          "superblock capacity 16 blocks on a resizable image (the checkpoint's capacity is in force)",
          [](auto& sb) { sb.block_count = 16; });
  sb_case("compression-unknown", Expect::kReject, "compression method 7",
          [](auto& sb) { sb.compression = static_cast<format::Compression>(7); });
  sb_case("level-negative", Expect::kReject, "compression level -1", [](auto& sb) { sb.compression_level = -1; });
  sb_case("level-huge", Expect::kReject, "compression level 2^31-1",
          [](auto& sb) { sb.compression_level = 0x7fffffff; });
  sb_case("entries-per-page-zero", Expect::kReject, "0 entries per index page",
          [](auto& sb) { sb.entries_per_page = 0; });
  sb_case("entries-per-page-odd", Expect::kReject, "100 entries per index page",
          [](auto& sb) { sb.entries_per_page = 100; });
  sb_case("entries-per-page-huge", Expect::kReject, "2^20 entries per index page",
          [](auto& sb) { sb.entries_per_page = 1u << 20; });
  sb_case("entries-per-page-other", Expect::kReject, "128 entries per index page (pages hold 64)",
          [](auto& sb) { sb.entries_per_page = 128; });
  sb_case("max-record-zero", Expect::kReject, "record size limit 0", [](auto& sb) { sb.max_record_bytes = 0; });
  sb_case("max-record-negative", Expect::kReject, "record size limit 2^32-1",
          [](auto& sb) { sb.max_record_bytes = ~0u; });
  sb_case("data-start-zero", Expect::kReject, "data start 0", [](auto& sb) { sb.data_start = 0; });
  sb_case("data-start-negative", Expect::kReject, "data start 2^64-4096",
          [](auto& sb) { sb.data_start = 0ull - 4096; });
  sb_case("data-start-unaligned", Expect::kReject, "data start 12289", [](auto& sb) { sb.data_start = 12289; });
  sb_case("data-start-moved", Expect::kOracle, "data start 16384 (the segments are at 12288)",
          [](auto& sb) { sb.data_start = 16384; });
  sb_case("uuid-changed", Expect::kReject, "another uuid (slots and segments do not match)",
          [](auto& sb) { sb.uuid[0] ^= 0xff; });
  variant("label-unterminated", Expect::kReject, "label fills all 64 bytes, checksum re-sealed",
          [](Bytes& b, Layout&) {
            std::memset(b.data() + 104, 'x', 64);
            reseal_superblock(b);
          });
  variant("superblock-reserved", Expect::kReject, "superblock reserved byte set, checksum re-sealed",
          [](Bytes& b, Layout&) {
            b[300] = 1;
            reseal_superblock(b);
          });
}

void Generator::truncation_cases() {
  // Every structure boundary: inside and at the end of the superblock and
  // the slots, at data_start, around each segment header and each record
  // (its start, the end of its header, the middle and end of its payload).
  std::set<uint64_t> cuts = {1, 8, 16, 511, 512, 4096, 4097, 4600, 4608, 8192, 8200, 8704, kDataStart};
  for (uint64_t sh : layout.segment_headers) cuts.insert({sh, sh + 8, sh + 63, sh + 64});
  // Records: every PAGE and META record and every record of the log tail;
  // of the others the first few of each type.
  std::map<RecordType, int> seen;
  for (const Rec& r : layout.records) {
    const bool tail = r.h.generation == layout.cp.generation && r.h.seq >= layout.cp.next_record_seq;
    if (!tail && r.h.type != RecordType::kPage && r.h.type != RecordType::kMeta && ++seen[r.h.type] > 2) continue;
    cuts.insert({r.off + 1, r.off + 63, r.off + 64});
    if (r.h.stored_len) cuts.insert({r.off + 64 + r.h.stored_len / 2, r.off + 64 + r.h.stored_len - 1});
  }
  cuts.insert(base.size() - 1);
  for (uint64_t c : cuts) {
    if (c >= base.size()) continue;
    Bytes image(base.begin(), base.begin() + static_cast<ptrdiff_t>(c));
    // Superblock and slots cut: nothing can be opened.
    Expect e = c < 8704 ? Expect::kReject : Expect::kOracle;
    emit("truncated-" + std::to_string(c), e, "file cut at byte " + std::to_string(c), image);
  }
}

void Generator::slot_cases() {
  auto cp_case = [&](const std::string& name, Expect e, const std::string& what,
                     const std::function<void(format::Checkpoint&, const Layout&)>& f) {
    variant(name, e, what, [&](Bytes& b, Layout& l) {
      format::Checkpoint cp = l.cp;
      f(cp, l);
      put_slot(b, l.slot, cp);
    });
  };
  variant("slots-both-zero", Expect::kReject, "both checkpoint slots zeroed", [](Bytes& b, Layout&) {
    std::fill(b.begin() + 4096, b.begin() + 8704, 0);
  });
  variant("slots-both-magic", Expect::kReject, "both slots with a wrong magic", [](Bytes& b, Layout&) {
    b[4096] ^= 1;
    b[8192] ^= 1;
  });
  variant("slot-newest-torn", Expect::kOracle, "the newest slot's checksum broken (the older slot is used)",
          [](Bytes& b, Layout& l) { b[format::kCheckpointOffset[l.slot] + 100] ^= 1; });
  cp_case("slot-generation-max", Expect::kOracle, "checkpoint generation 2^64-1",
          [](auto& cp, auto&) { cp.generation = ~0ull; });
  cp_case("slot-seq-zero", Expect::kOracle, "next record sequence 0 (the log tail does not follow)",
          [](auto& cp, auto&) { cp.next_record_seq = 0; });
  cp_case("slot-head-huge", Expect::kReject, "head segment 2^40", [](auto& cp, auto&) { cp.head_segment = 1ull << 40; });
  cp_case("slot-head-beyond", Expect::kReject, "head segment = segment count",
          [](auto& cp, auto&) { cp.head_segment = cp.segment_count; });
  cp_case("slot-head-fill-zero", Expect::kReject, "head fill 0", [](auto& cp, auto&) { cp.head_fill = 0; });
  cp_case("slot-head-fill-huge", Expect::kReject, "head fill 2^31", [](auto& cp, auto&) { cp.head_fill = 1u << 31; });
  cp_case("slot-head-fill-unaligned", Expect::kOracle, "head fill not a multiple of 8",
          [](auto& cp, auto&) { cp.head_fill += 3; });
  cp_case("slot-head-none", Expect::kOracle, "no head segment but metadata",
          [](auto& cp, auto&) { cp.head_segment = format::kNoSegment; });
  cp_case("slot-meta-chunks-huge", Expect::kReject, "2^31 metadata chunks",
          [](auto& cp, auto&) { cp.meta_chunks = 1u << 31; });
  cp_case("slot-meta-chunks-zero", Expect::kReject, "0 metadata chunks but a last chunk",
          [](auto& cp, auto&) { cp.meta_chunks = 0; });
  cp_case("slot-meta-chunks-two", Expect::kReject, "2 metadata chunks (there is 1)",
          [](auto& cp, auto&) { cp.meta_chunks = 2; });
  cp_case("slot-meta-last-zero", Expect::kReject, "metadata location 0 with a log",
          [](auto& cp, auto&) { cp.meta_last_chunk = 0; });
  cp_case("slot-meta-last-beyond", Expect::kReject, "metadata location beyond the file",
          [](auto& cp, auto&) { cp.meta_last_chunk = 1ull << 40; });
  cp_case("slot-meta-last-negative", Expect::kReject, "metadata location 2^64-8",
          [](auto& cp, auto&) { cp.meta_last_chunk = 0ull - 8; });
  cp_case("slot-meta-last-in-slots", Expect::kReject, "metadata location inside the slot area",
          [](auto& cp, auto&) { cp.meta_last_chunk = 4096; });
  cp_case("slot-meta-last-unaligned", Expect::kReject, "metadata location 3 bytes into the record",
          [](auto& cp, auto&) { cp.meta_last_chunk += 3; });
  cp_case("slot-meta-at-data", Expect::kReject, "metadata location pointing at a DATA record",
          [](auto& cp, const Layout& l) { cp.meta_last_chunk = records_of(l, RecordType::kData, false)[0].off; });
  cp_case("slot-meta-at-page", Expect::kReject, "metadata location pointing at a PAGE record",
          [](auto& cp, const Layout& l) { cp.meta_last_chunk = records_of(l, RecordType::kPage, false)[0].off; });
  cp_case("slot-meta-bytes-huge", Expect::kReject, "metadata length 2^62",
          [](auto& cp, auto&) { cp.meta_bytes = 1ull << 62; });
  cp_case("slot-meta-bytes-short", Expect::kReject, "metadata length one byte short",
          [](auto& cp, auto&) { cp.meta_bytes -= 1; });
  cp_case("slot-meta-hash", Expect::kReject, "metadata hash wrong, slot re-sealed",
          [](auto& cp, auto&) { cp.meta_hash ^= 1; });
  cp_case("slot-segments-huge", Expect::kReject, "segment count 2^60",
          [](auto& cp, auto&) { cp.segment_count = 1ull << 60; });
  cp_case("slot-segments-zero", Expect::kReject, "segment count 0", [](auto& cp, auto&) { cp.segment_count = 0; });
  cp_case("slot-uuid", Expect::kValid, "newest slot uuid differs, re-sealed (the older slot is used)",
          [](auto& cp, auto&) { cp.uuid[3] ^= 1; });
  variant("slot-reserved", Expect::kOracle, "newest slot reserved byte set, re-sealed", [](Bytes& b, Layout& l) {
    b[format::kCheckpointOffset[l.slot] + 200] = 1;
    reseal(b, format::kCheckpointOffset[l.slot], format::kCheckpointSize);
  });
}

void Generator::meta_cases() {
  auto meta_case = [&](const std::string& name, Expect e, const std::string& what,
                       const std::function<void(Meta&, const Layout&)>& f) {
    variant(name, e, what, [&](Bytes& b, Layout& l) {
      Meta m = l.meta;
      f(m, l);
      install_meta(b, l, m);
    });
  };
  meta_case("meta-relocated", Expect::kValid, "the metadata rewritten elsewhere, unchanged (control case)",
            [](Meta&, auto&) {});
  meta_case("meta-version", Expect::kReject, "metadata version 4", [](Meta& m, auto&) { m.version = 4; });
  variant("meta-version-1", Expect::kValid,
          "an image without the resizable feature, metadata version 1 (no released segments: reads the same)",
          [](Bytes& b, Layout& l) { make_unresizable(b, l, l.meta, 1); });
  variant("meta-version-2", Expect::kValid, "an image without the resizable feature, metadata version 2",
          [](Bytes& b, Layout& l) { make_unresizable(b, l, l.meta, 2); });
  variant("meta-released-v1", Expect::kReject, "a released segment in version 1 metadata", [](Bytes& b, Layout& l) {
    Meta m = l.meta;
    m.segments.resize(l.cp.segment_count);
    m.segments.back() = {format::kSegmentReleased, 0};
    make_unresizable(b, l, m, 1);
  });
  variant("meta-version-3-unresizable", Expect::kReject,
          "metadata version 3 (with a capacity) on an image without the resizable feature",
          [](Bytes& b, Layout& l) {
            format::Superblock sb = l.sb;
            sb.incompat_features &= ~format::kFeatureResizable;
            put_superblock(b, sb);
          });
  meta_case("meta-version-2-resizable", Expect::kReject, "metadata version 2 (no capacity) on a resizable image",
            [](Meta& m, auto&) { m.version = 2, m.block_count.reset(); });
  meta_case("meta-capacity-missing", Expect::kReject, "metadata version 3 without its capacity",
            [](Meta& m, auto&) { m.block_count.reset(); });
  meta_case("meta-capacity-zero", Expect::kReject, "metadata capacity 0 blocks", [](Meta& m, auto&) { m.block_count = 0; });
  meta_case("meta-capacity-huge", Expect::kReject, "metadata capacity 2^63 blocks",
            [](Meta& m, auto&) { m.block_count = 1ull << 63; });
  meta_case("meta-capacity-negative", Expect::kReject, "metadata capacity 2^64-1 blocks",
            [](Meta& m, auto&) { m.block_count = ~0ull; });
  meta_case("meta-capacity-grown", Expect::kValid, "metadata capacity twice the superblock's (a grown image)",
            [](Meta& m, auto&) { m.block_count = 2 * kBlocks; });
  meta_case("meta-released-fill", Expect::kReject, "a released segment with a fill",
            [](Meta& m, auto&) { m.segments[0] = {format::kSegmentReleased, 64}; });
  meta_case("meta-head-released", Expect::kReject, "the head segment recorded as released",
            [](Meta& m, const Layout& l) {
              m.segments.resize(std::max<size_t>(m.segments.size(), l.cp.head_segment + 1));
              m.segments[l.cp.head_segment] = {format::kSegmentReleased, 0};
            });
  meta_case("meta-chunk-released", Expect::kReject, "the segment of the metadata itself recorded as released",
            [](Meta& m, const Layout& l) {
              const size_t seg = (l.cp.meta_last_chunk - l.sb.data_start) / l.sb.segment_size;
              m.segments.resize(std::max(m.segments.size(), seg + 1));
              m.segments[seg] = {format::kSegmentReleased, 0};
            });
  meta_case("meta-used-huge", Expect::kReject, "more used blocks than the capacity",
            [](Meta& m, auto&) { m.used_blocks = ~0ull; });
  meta_case("meta-zero-gt-used", Expect::kReject, "more zero blocks than used blocks",
            [](Meta& m, auto&) { m.zero_blocks = m.used_blocks + 1; });
  meta_case("meta-trailing", Expect::kReject, "metadata with trailing bytes",
            [](Meta& m, auto&) { m.trailing = Bytes(8, 0); });
  variant("meta-truncated", Expect::kReject, "metadata cut inside the page table", [](Bytes& b, Layout& l) {
    Bytes meta = encode_meta(l.meta);
    meta.resize(60);
    install_meta_bytes(b, l, meta);
  });
  variant("meta-page-count-huge", Expect::kReject, "page table count 2^60", [](Bytes& b, Layout& l) {
    Bytes meta = encode_meta(l.meta);
    format::put_u64(meta.data() + 40, 1ull << 60);
    install_meta_bytes(b, l, meta);
  });
  variant("meta-page-count-negative", Expect::kReject, "page table count 2^64-1", [](Bytes& b, Layout& l) {
    Bytes meta = encode_meta(l.meta);
    format::put_u64(meta.data() + 40, ~0ull);
    install_meta_bytes(b, l, meta);
  });
  meta_case("meta-page-beyond-capacity", Expect::kReject, "index page number beyond the capacity",
            [](Meta& m, auto&) { m.pages[0].page_no = 1000; });
  meta_case("meta-page-duplicate", Expect::kReject, "the same page number twice",
            [](Meta& m, auto&) { m.pages[1].page_no = m.pages[0].page_no; });
  meta_case("meta-page-outside-file", Expect::kReject, "index page beyond the end of the file",
            [](Meta& m, auto&) { m.pages[0].record_offset = 1ull << 40; });
  meta_case("meta-page-negative", Expect::kReject, "index page at offset 2^64-64",
            [](Meta& m, auto&) { m.pages[0].record_offset = 0ull - 64; });
  meta_case("meta-page-in-slots", Expect::kReject, "index page inside the slot area",
            [](Meta& m, auto&) { m.pages[0].record_offset = 4096; });
  meta_case("meta-page-length-zero", Expect::kReject, "index page record length 0",
            [](Meta& m, auto&) { m.pages[0].record_length = 0; });
  meta_case("meta-page-length-huge", Expect::kReject, "index page record length 2^32-1",
            [](Meta& m, auto&) { m.pages[0].record_length = ~0u; });
  meta_case("meta-page-reserved", Expect::kReject, "page table reserved field set",
            [](Meta& m, auto&) { m.pages[0].reserved = 1; });
  meta_case("meta-page-at-data", Expect::kDamaged, "index page pointing at a DATA record",
            [](Meta& m, const Layout& l) { m.pages[page_index(l)].record_offset = records_of(l, RecordType::kData, false)[0].off; });
  meta_case("meta-page-at-meta", Expect::kDamaged, "index page pointing at the metadata itself",
            [](Meta& m, const Layout& l) { m.pages[page_index(l)].record_offset = l.cp.meta_last_chunk; });
  meta_case("meta-pages-shared", Expect::kDamaged, "two index pages pointing at the same record",
            [](Meta& m, const Layout& l) {
              m.pages[page_index(l) + 1].record_offset = m.pages[page_index(l)].record_offset;
              m.pages[page_index(l) + 1].record_length = m.pages[page_index(l)].record_length;
            });
  meta_case("meta-page-unaligned", Expect::kDamaged, "index page pointing 8 bytes into its record",
            [](Meta& m, const Layout& l) { m.pages[page_index(l)].record_offset += 8; });
  meta_case("meta-page-at-zeros", Expect::kDamaged, "index page pointing at unused space",
            [](Meta& m, const Layout& l) { m.pages[page_index(l)].record_offset = l.tail_end + 4096; });
  meta_case("meta-segments-more", Expect::kReject, "segment table longer than the segment count",
            [](Meta& m, const Layout& l) { m.segments.resize(l.cp.segment_count + 1); });
  meta_case("meta-segment-live-gt-fill", Expect::kReject, "a segment with more live bytes than its fill",
            [](Meta& m, auto&) { m.segments[0].live_bytes = m.segments[0].fill + 1; });
  meta_case("meta-segment-fill-huge", Expect::kReject, "a segment fill beyond the segment size",
            [](Meta& m, auto&) { m.segments[0] = {0, ~0u}; });
  variant("meta-bad-count-huge", Expect::kReject, "bad-block list count 2^63", [](Bytes& b, Layout& l) {
    Bytes meta = encode_meta(l.meta);
    const size_t after_bad = l.meta.block_count ? 8 : 0;
    format::put_u64(meta.data() + meta.size() - after_bad - 8 - 16 * l.meta.bad_ranges.size(), 1ull << 63);
    install_meta_bytes(b, l, meta);
  });
  meta_case("meta-bad-beyond", Expect::kReject, "bad range beyond the capacity",
            [](Meta& m, auto&) { m.bad_ranges = {{kBlocks - 1, 5}}; });
  meta_case("meta-bad-negative", Expect::kReject, "bad range of 2^64-1 blocks",
            [](Meta& m, auto&) { m.bad_ranges = {{1, ~0ull}}; });
  meta_case("meta-bad-empty-range", Expect::kReject, "bad range of 0 blocks", [](Meta& m, auto&) { m.bad_ranges = {{5, 0}}; });
  meta_case("meta-bad-overlap", Expect::kReject, "overlapping bad ranges",
            [](Meta& m, auto&) { m.bad_ranges = {{10, 10}, {15, 10}}; });
  meta_case("meta-bad-unsorted", Expect::kReject, "bad ranges out of order",
            [](Meta& m, auto&) { m.bad_ranges = {{100, 1}, {10, 1}}; });
  // Valid but large: a 1 PiB disk whose bad list holds many huge ranges.
  variant("meta-bad-many-huge", Expect::kValid, "1 PiB capacity, 20000 bad ranges of 2^22 blocks each",
          [](Bytes& b, Layout& l) {
            Meta m = l.meta;
            m.bad_ranges.clear();
            for (uint64_t i = 0; i < 20000; ++i) m.bad_ranges.push_back({(1ull << 26) + (i << 23), 1ull << 22});
            set_capacity(b, l, (1ull << 50) / 4096, m);
          });
  variant("meta-chain-loop", Expect::kReject, "two metadata chunks, the first naming itself as its predecessor",
          [](Bytes& b, Layout& l) {
            Bytes meta = encode_meta(l.meta);
            RecordHeader h;
            h.type = RecordType::kMeta;
            h.generation = l.cp.generation - 1;
            h.count = 1;
            Bytes part(meta.begin() + 16, meta.end());
            uint64_t off = place_record(b, l, h, part);
            h.first = off;  // chunk 1 names itself as chunk 0
            put_record_header(b, off, h);
            reseal_record(b, off);
            format::Checkpoint cp = l.cp;
            cp.meta_last_chunk = off;
            cp.meta_chunks = 2;
            cp.meta_bytes = meta.size();
            cp.meta_hash = format::hash64(meta.data(), meta.size());
            put_slot(b, l.slot, cp);
          });
}

void Generator::delta_cases() {
  // The base image's checkpoint (generation 2) as a chain: its FULL
  // metadata as generation 1's, and a DELTA on it as generation 2's.
  auto chain_case = [&](const std::string& name, Expect e, const std::string& what, const LinkEdits& edits,
                        const std::function<void(Meta& delta)>& delta_edit = {}) {
    variant(name, e, what, [&](Bytes& b, Layout& l) {
      Meta d = empty_delta(l);
      if (delta_edit) delta_edit(d);
      install_links(b, l, {l.meta, d}, edits);
    });
  };
  auto newest = [](const std::function<void(Meta&, const std::vector<format::MetaLocation>&, uint64_t)>& f) {
    LinkEdits e;
    e.meta = [f](size_t k, Meta& m, const std::vector<format::MetaLocation>& older, uint64_t own) {
      if (k == 1) f(m, older, own);
    };
    return e;
  };
  chain_case("delta-chain", Expect::kValid, "the checkpoint as a FULL base and a DELTA that changes nothing", {});
  chain_case("delta-removes-unlisted-page", Expect::kValid,
             "a DELTA that removes a page the base does not list (changes nothing)", {},
             [](Meta& d) { d.pages = {{30, 0, 0, 0}}; });
  chain_case("delta-restates-page", Expect::kValid, "a DELTA that names page 4 where the base has it", {},
             [&](Meta& d) { d.pages = {layout.meta.pages[page_index(layout)]}; });
  variant("delta-chain-deep", Expect::kValid,
          "a FULL base and three DELTAs (the slot's generation raised: the log tail is not replayed)",
          [](Bytes& b, Layout& l) {
            install_links(b, l, {l.meta, empty_delta(l), empty_delta(l), empty_delta(l)}, {}, l.cp.generation + 2);
          });
  chain_case("delta-self", Expect::kReject, "a DELTA naming its own record as the previous metadata",
             newest([](Meta& m, auto&, uint64_t own) { m.prev.last_chunk = own; }));
  variant("delta-later", Expect::kReject, "a DELTA naming the metadata of a later checkpoint as the previous",
          [](Bytes& b, Layout& l) {
            // A META record of generation 2 (a checkpoint 3's) with the base's metadata.
            RecordHeader h;
            h.type = RecordType::kMeta;
            h.seq = 1;
            h.generation = l.cp.generation;
            const Bytes full = encode_meta(l.meta);
            const uint64_t later = place_record(b, l, h, full);
            LinkEdits e;
            e.meta = [&](size_t k, Meta& m, auto&, uint64_t) {
              if (k == 1) m.prev = {later, 1, full.size(), format::hash64(full.data(), full.size())};
            };
            install_links(b, l, {l.meta, empty_delta(l)}, e);
          });
  variant("delta-cycle", Expect::kReject,
          "two DELTAs, each naming the other as the previous metadata (generations 3 and 4, the log tail dropped)",
          [](Bytes& b, Layout& l) {
            // Link 0 is placed first: it names where link 1 will lie (both
            // list the head segment).
            const uint64_t second = l.scratch - 2 * format::record_total_length(static_cast<uint32_t>(
                                                        encode_meta(empty_delta(l)).size() + format::kMetaSegmentChangeSize));
            LinkEdits e;
            e.meta = [&](size_t k, Meta& m, auto&, uint64_t) {
              m.depth = k + 1;
              if (k == 0) m.prev = {second, 1, 200, 0};
            };
            install_links(b, l, {empty_delta(l), empty_delta(l)}, e, l.cp.generation + 2);
          });
  chain_case("delta-base-missing", Expect::kReject, "a DELTA whose previous metadata lies where there is no record",
             newest([&](Meta& m, auto&, uint64_t) { m.prev.last_chunk = layout.tail_end + 4096; }));
  chain_case("delta-base-is-data", Expect::kReject, "a DELTA whose previous metadata is a DATA record",
             newest([&](Meta& m, auto&, uint64_t) { m.prev.last_chunk = records_of(layout, RecordType::kData, false)[0].off; }));
  chain_case("delta-base-hash", Expect::kReject, "a DELTA naming its base with a wrong checksum",
             newest([](Meta& m, auto&, uint64_t) { m.prev.hash ^= 1; }));
  chain_case("delta-base-length", Expect::kReject, "a DELTA naming its base with a length 8 bytes short",
             newest([](Meta& m, auto&, uint64_t) { m.prev.bytes -= 8; }));
  chain_case("delta-base-chunks-huge", Expect::kReject, "a DELTA naming a base of 2^31 chunks",
             newest([](Meta& m, auto&, uint64_t) { m.prev.chunks = 1u << 31; }));
  chain_case("delta-base-outside", Expect::kReject, "a DELTA naming a base beyond the end of the file",
             newest([](Meta& m, auto&, uint64_t) { m.prev.last_chunk = 1ull << 40; }));
  chain_case("delta-depth-wrong", Expect::kReject, "a DELTA of depth 2 whose previous metadata is FULL",
             newest([](Meta& m, auto&, uint64_t) { m.depth = 2; }));
  chain_case("delta-depth-huge", Expect::kReject, "a DELTA of depth 2^40",
             newest([](Meta& m, auto&, uint64_t) { m.depth = 1ull << 40; }));
  variant("delta-reaches-generation-0", Expect::kReject,
          "two DELTAs as generations 1 and 2: the first names the metadata of generation 0, which has none",
          [](Bytes& b, Layout& l) {
            LinkEdits e;
            e.meta = [&](size_t k, Meta& m, auto&, uint64_t) {
              m.depth = k + 1;
              if (k == 0) m.prev = {l.cp.meta_last_chunk, l.cp.meta_chunks, l.cp.meta_bytes, l.cp.meta_hash};
            };
            install_links(b, l, {empty_delta(l), empty_delta(l)}, e);
          });
  auto count_at = [](size_t k_at, uint64_t huge) {
    LinkEdits e;
    e.bytes = [=](size_t k, Bytes& bytes) {
      if (k != 1) return;
      // The counts: pages at 88, then segment changes, then bad ranges.
      const uint64_t pages = format::get_u64(bytes.data() + 88);
      const size_t changes = format::kMetaDeltaHeaderSize + pages * format::kMetaPageEntrySize;
      const size_t bad = changes + 8 + format::get_u64(bytes.data() + changes) * format::kMetaSegmentChangeSize;
      format::put_u64(bytes.data() + (k_at == 0 ? 88 : k_at == 1 ? changes : bad), huge);
    };
    return e;
  };
  chain_case("delta-page-count-huge", Expect::kReject, "a DELTA listing 2^60 pages", count_at(0, 1ull << 60));
  chain_case("delta-segment-count-huge", Expect::kReject, "a DELTA listing 2^64-1 segments", count_at(1, ~0ull));
  chain_case("delta-bad-count-huge", Expect::kReject, "a DELTA listing 2^63 bad ranges", count_at(2, 1ull << 63));
  chain_case("delta-segment-beyond", Expect::kReject, "a DELTA listing a segment beyond the segment count", {},
             [&](Meta& d) { d.segment_changes = {{layout.cp.segment_count + 3, {0, 0}}}; });
  chain_case("delta-pages-unsorted", Expect::kReject, "a DELTA listing pages out of order", {},
             [](Meta& d) { d.pages = {{9, 0, 0, 0}, {3, 0, 0, 0}}; });
  chain_case("delta-page-outside-file", Expect::kReject, "a DELTA moving page 4 beyond the end of the file", {},
             [](Meta& d) { d.pages = {{kPage, 1ull << 40, 200, 0}}; });
  chain_case("delta-page-at-data", Expect::kDamaged, "a DELTA moving page 4 onto a DATA record", {},
             [&](Meta& d) {
               const Rec r = records_of(layout, RecordType::kData, false)[0];
               d.pages = {{kPage, r.off, r.length(), 0}};
             });
  chain_case("delta-shrink-keeps-pages", Expect::kReject,
             "a DELTA shrinking the capacity to one page without removing the base's pages beyond it", {},
             [](Meta& d) { d.block_count = 64, d.bad_ranges.clear(), d.used_blocks = d.zero_blocks = d.trimmed_blocks = 0; });
  variant("delta-record-unkept-head", Expect::kReject,
          "a DELTA recording the segment of its base's record as free", [](Bytes& b, Layout& l) {
            LinkEdits e;
            e.meta = [&](size_t k, Meta& m, auto&, uint64_t) {
              if (k == 1)
                for (auto& c : m.segment_changes)
                  if (c.segment == l.cp.head_segment) c.entry = {0, 0};
            };
            install_links(b, l, {l.meta, empty_delta(l)}, e);
          });
  variant("delta-without-feature", Expect::kReject,
          "a FULL base and a DELTA on an image without the delta_checkpoints feature bit", [](Bytes& b, Layout& l) {
            format::Superblock sb = l.sb;
            sb.incompat_features &= ~format::kFeatureDeltaCheckpoints;
            put_superblock(b, sb);
            install_links(b, l, {l.meta, empty_delta(l)});
          });
}

void Generator::page_cases() {
  auto page_case = [&](const std::string& name, Expect e, const std::string& what,
                       const std::function<void(std::vector<format::IndexEntry>&, const Layout&)>& f) {
    variant(name, e, what, [&](Bytes& b, Layout& l) {
      auto entries = page_entries(b, l, kPage);
      f(entries, l);
      install_page(b, l, kPage, entries);
    });
  };
  page_case("page-relocated", Expect::kValid, "index page 4 rewritten uncompressed elsewhere (control case)",
            [](auto&, auto&) {});
  page_case("entry-outside-file", Expect::kDamaged, "block 300 mapped beyond the end of the file",
            [](auto& e, auto&) { e[kA].record_offset = 1ull << 40; });
  page_case("entry-negative", Expect::kDamaged, "block 300 mapped at offset 2^64-64",
            [](auto& e, auto&) { e[kA].record_offset = 0ull - 64; });
  page_case("entry-in-superblock", Expect::kDamaged, "block 300 mapped at offset 64 (the superblock)",
            [](auto& e, auto&) { e[kA].record_offset = 64; });
  page_case("entry-at-meta", Expect::kDamaged, "block 300 mapped at the metadata record",
            [](auto& e, const Layout& l) { e[kA].record_offset = l.cp.meta_last_chunk; });
  page_case("entry-at-page", Expect::kDamaged, "block 300 mapped at an index page record",
            [](auto& e, const Layout& l) { e[kA].record_offset = l.meta.pages[1].record_offset; });
  page_case("entry-at-other-block", Expect::kDamaged, "block 300 mapped at block 301's record (blocks point at each other)",
            [](auto& e, auto&) { e[kA] = e[kB]; });
  page_case("entry-swapped", Expect::kDamaged, "blocks 300 and 310 swapped (same record)",
            [](auto& e, auto&) { std::swap(e[kA], e[kC]); });
  page_case("entry-unaligned", Expect::kDamaged, "block 300 mapped 8 bytes into its record",
            [](auto& e, auto&) { e[kA].record_offset += 8; });
  page_case("entry-index-beyond", Expect::kDamaged, "block 300 at index 200 of a record of fewer blocks",
            [](auto& e, auto&) { e[kA].index_in_record = 200, e[kA].blocks_minus_one = 255; });
  page_case("entry-index-gt-count", Expect::kDamaged, "index in record greater than the record's block count",
            [](auto& e, auto&) { e[kA].index_in_record = e[kA].blocks_minus_one + 1; });
  page_case("entry-length-huge", Expect::kDamaged, "record length 2^32-1",
            [](auto& e, auto&) { e[kA].record_length = ~0u; });
  page_case("entry-length-says-raw", Expect::kValid,
            "record length that of block 300's record stored raw (a hint: the header says what it is)",
            [](auto& e, auto&) {
              e[kA].record_length = format::record_total_length((e[kA].blocks_minus_one + 1u) * kBs);
            });
  page_case("entry-length-zero", Expect::kDamaged, "record length 0", [](auto& e, auto&) { e[kA].record_length = 0; });
  page_case("entry-state-unknown", Expect::kDamaged, "block state 7", [](auto& e, auto&) { e[kA].state = 7; });
  page_case("entry-state-bad", Expect::kDamaged, "block state 3 (BAD lives in the bad list)",
            [](auto& e, auto&) { e[kA].state = 3; });
  page_case("entry-free-with-data", Expect::kDamaged, "a FREE block with a record",
            [](auto& e, auto&) { e[kA].state = 0; });
  page_case("entry-zero-block", Expect::kValid, "block 300 USED without payload (reads zeros)",
            [](auto& e, auto&) { e[kA] = {0, 0, 0, 1, 0}; });
  variant("page-count-wrong", Expect::kDamaged, "index page record holding half a page", [](Bytes& b, Layout& l) {
    auto entries = page_entries(b, l, kPage);
    entries.resize(entries.size() / 2);
    install_page(b, l, kPage, entries);
  });
  variant("page-empty", Expect::kDamaged, "index page record with an empty payload", [](Bytes& b, Layout& l) {
    RecordHeader h;
    h.type = RecordType::kPage;
    h.generation = l.cp.generation - 1;
    h.first = kPage;
    uint64_t off = place_record(b, l, h, {});
    Meta m = l.meta;
    m.pages[page_index(l)].record_offset = off;
    m.pages[page_index(l)].record_length = format::record_total_length(0);
    install_meta(b, l, m);
  });
  variant("page-zstd-bomb", Expect::kDamaged, "index page record claiming a 16 MiB decompressed size",
          [](Bytes& b, Layout& l) {
            Bytes raw(16u << 20, 0);
            Bytes z(ZSTD_compressBound(raw.size()));
            z.resize(ZSTD_compress(z.data(), z.size(), raw.data(), raw.size(), 19));
            RecordHeader h;
            h.type = RecordType::kPage;
            h.flags = format::kRecordFlagCompressed;
            h.raw_len = static_cast<uint32_t>(raw.size());
            h.generation = l.cp.generation - 1;
            h.first = kPage;
            uint64_t off = place_record(b, l, h, z);
            Meta m = l.meta;
            m.pages[page_index(l)].record_offset = off;
            m.pages[page_index(l)].record_length = format::record_total_length(static_cast<uint32_t>(z.size()));
            install_meta(b, l, m);
          });
  variant("page-zstd-garbage", Expect::kDamaged, "index page record whose zstd frame is garbage (hash re-sealed)",
          [](Bytes& b, Layout& l) {
            const Rec r = *std::find_if(l.records.begin(), l.records.end(),
                                        [&](const Rec& x) { return x.off == l.meta.pages[page_index(l)].record_offset; });
            for (uint32_t i = 4; i < r.h.stored_len; ++i) b[r.off + 64 + i] ^= 0x5a;
            reseal_record(b, r.off);
          });
}

void Generator::log_cases() {
  // Records of the tail are replayed on open: a record that passes its
  // checks but breaks a rule is damage and the open fails; one that fails
  // its checks is damage too when a FLUSH record after it claims it durable
  // (the base image's log ends with one): replay goes on past it and its
  // blocks fail to read.
  const std::vector<Rec> data = records_of(layout, RecordType::kData, true);
  const std::vector<Rec> zero = records_of(layout, RecordType::kZero, true);
  const std::vector<Rec> trim = records_of(layout, RecordType::kTrim, true);
  const std::vector<Rec> bad = records_of(layout, RecordType::kBadSet, true);
  auto rec_case = [&](const std::string& name, Expect e, const std::string& what, const Rec& r,
                      const std::function<void(RecordHeader&)>& f) {
    variant(name, e, what, [&](Bytes& b, Layout&) {
      RecordHeader h = r.h;
      f(h);
      put_record_header(b, r.off, h);
    });
  };
  rec_case("log-data-beyond", Expect::kReject, "a replayed DATA record for blocks beyond the capacity", data[0],
           [](auto& h) { h.first = kBlocks; });
  rec_case("log-data-negative", Expect::kReject, "a replayed DATA record at block 2^64-2", data[0],
           [](auto& h) { h.first = ~0ull - 1; });
  rec_case("log-data-count-zero", Expect::kReject, "a replayed DATA record of 0 blocks", data[0],
           [](auto& h) { h.count = 0; });
  rec_case("log-data-count-huge", Expect::kReject, "a replayed DATA record of 2^32-1 blocks", data[0],
           [](auto& h) { h.count = ~0u; });
  rec_case("log-data-count-lies", Expect::kDamaged, "a replayed DATA record claiming 2 more blocks than it holds",
           data[0], [](auto& h) { h.count += 2; });
  rec_case("log-data-raw-len", Expect::kDamaged,
           "a replayed DATA record whose raw length, 16 MiB, is not what its unit table covers (fails its checks: "
           "damage under a flush)",
           data[0], [](auto& h) { h.raw_len = 16u << 20; });
  rec_case("log-zero-beyond", Expect::kReject, "a replayed ZERO record running past the capacity", zero[0],
           [](auto& h) { h.count = kBlocks; });
  rec_case("log-trim-huge", Expect::kReject, "a replayed TRIM record of 2^32-1 blocks", trim[0],
           [](auto& h) { h.count = ~0u; });
  rec_case("log-bad-beyond", Expect::kReject, "a replayed BAD_SET record past the capacity", bad[0],
           [](auto& h) { h.first = kBlocks - 1; });
  rec_case("log-type-unknown", Expect::kDamaged, "a replayed record of type 9 (damage under a flush)",
           data[0], [](auto& h) { h.type = static_cast<RecordType>(9); });
  rec_case("log-seq-skip", Expect::kDamaged,
           "a replayed record with a sequence number from the future (damage under a flush)",
           data[0], [](auto& h) { h.seq += 1000; });
  rec_case("log-generation-old", Expect::kDamaged, "a replayed record of an older generation (damage under a flush)",
           data[0],
           [](auto& h) { h.generation -= 1; });
  rec_case("log-stored-len-huge", Expect::kDamaged,
           "a replayed record with a 4 GiB payload length (damage under a flush)",
           data[0], [](auto& h) { h.stored_len = ~0u, h.raw_len = ~0u; });
  rec_case("log-stored-len-past-segment", Expect::kDamaged,
           "a replayed record whose payload runs past its segment (damage under a flush)", data[0],
           [](auto& h) { h.flags = format::kRecordFlagCompressed, h.stored_len = kSegment; });
  // Huge but valid: on a 1 PiB disk, records covering 2^30 blocks.
  auto huge_disk = [&](const std::string& name, Expect e, const std::string& what, const Rec& r, RecordType type) {
    variant(name, e, what, [&](Bytes& b, Layout& l) {
      set_capacity(b, l, (1ull << 50) / 4096, l.meta);
      RecordHeader h = r.h;
      h.type = type;
      h.first = 1ull << 32;
      h.count = 1u << 30;
      put_record_header(b, r.off, h);
    });
  };
  huge_disk("log-trim-1g-blocks", Expect::kValid, "1 PiB disk, a replayed TRIM of 2^30 blocks", trim[0],
            RecordType::kTrim);
  huge_disk("log-bad-set-1g-blocks", Expect::kValid, "1 PiB disk, a replayed BAD_SET of 2^30 blocks", bad[0],
            RecordType::kBadSet);
  huge_disk("log-bad-clear-1g-blocks", Expect::kValid, "1 PiB disk, a replayed BAD_CLEAR of 2^30 blocks", bad[0],
            RecordType::kBadClear);
  huge_disk("log-zero-1g-blocks", Expect::kReject,
            "1 PiB disk, a replayed ZERO record of 2^30 blocks (16 GiB of index to replay)", zero[0],
            RecordType::kZero);
  variant("log-data-payload-garbage", Expect::kDamaged,
          "a replayed DATA record with a garbage zstd frame after its unit table, checksums matching (ends "
          "nothing; reads fail)",
          [&](Bytes& b, Layout&) {
            if (!(data[0].h.flags & format::kRecordFlagUnitTable)) std::exit(1);  // the base image changed
            const size_t table = format::unit_table_size(format::get_u32(b.data() + data[0].off + 64 + 4));
            for (size_t i = table; i < data[0].h.stored_len; ++i) b[data[0].off + 64 + i] ^= 0xa5;
            reseal_record(b, data[0].off);
          });
  variant("segment-header-next-wrong", Expect::kOracle, "the second segment header names another segment",
          [&](Bytes& b, Layout& l) {
            if (l.segment_headers.size() < 2) return;
            uint64_t at = l.segment_headers[1];
            format::put_u64(b.data() + at + 16, 7);
            reseal(b, at, format::kSegmentHeaderSize);
          });
}

void Generator::unit_table_cases() {
  // A checkpointed (not replayed) DATA record with a unit table, in each
  // layout: damage to it must fail the reads that need it, and
  // vblk-inspect --check.
  const std::vector<Rec> data = records_of(layout, RecordType::kData, false);
  auto with_table = [&](bool independent) {
    const auto r = std::find_if(data.begin(), data.end(), [&](const Rec& d) {
      return (d.h.flags & format::kRecordFlagUnitTable) && d.h.raw_len == 32 * kBs &&
             ((d.h.flags & format::kRecordFlagIndependentUnits) != 0) == independent;
    });
    if (r == data.end()) {
      std::fprintf(stderr, "make_hostile: base image has no checkpointed record with %s units\n",
                   independent ? "independent" : "chained");
      std::exit(1);
    }
    return *r;
  };
  for (const bool independent : {false, true}) {
    const Rec r = with_table(independent);
    const std::string prefix = independent ? "indep-" : "";
    const std::string layout_note = independent ? " (independent units)" : " (chained units)";
    const uint64_t payload = r.off + format::kRecordHeaderSize;
    const uint64_t entry1 = payload + format::kUnitTableHeadSize + format::kUnitTableEntrySize;  // unit 1's
    // The table's length, from the unit count in its head (bytes 4-7).
    const uint64_t unit_count_at = payload + 4;
    auto table_of = [=](const Bytes& b) { return format::unit_table_size(format::get_u32(b.data() + unit_count_at)); };
    auto table_case = [&](const std::string& name, const std::string& what, const std::function<void(Bytes&)>& f) {
      variant(prefix + name, Expect::kDamaged, what + layout_note, [&](Bytes& b, Layout&) { f(b); });
    };
    table_case("unit-damaged", "a byte of unit 1's compressed data flipped", [&](Bytes& b) {
      b[payload + table_of(b) + format::get_u32(b.data() + entry1 - format::kUnitTableEntrySize) + 1] ^= 0x10;
    });
    table_case("unit-table-damaged", "a byte of the unit table flipped (unit 1's checksum)",
               [&](Bytes& b) { b[entry1 + 9] ^= 1; });
    table_case("unit-hash-lies", "unit 1's checksum wrong, the table's checksum matching it", [&](Bytes& b) {
      b[entry1 + 9] ^= 1;
      format::put_u64(b.data() + r.off + 48, format::payload_hash(r.h.flags, {b.data() + payload, table_of(b)}));
      reseal(b, r.off, format::kRecordHeaderSize);
    });
    table_case("unit-ends-lie", "units 1 and 2 end at the same offset, checksums matching", [&](Bytes& b) {
      format::put_u32(b.data() + entry1 + format::kUnitTableEntrySize, format::get_u32(b.data() + entry1));
      reseal_record(b, r.off);
    });
    table_case("unit-ends-past-frame", "the last unit ends past the payload, checksums matching", [&](Bytes& b) {
      uint8_t* last = b.data() + entry1 + 2 * format::kUnitTableEntrySize;
      format::put_u32(last, format::get_u32(last) + 8);
      reseal_record(b, r.off);
    });
    table_case("unit-ends-mid-block",
               independent ? "unit 0 ends one byte into unit 1's frame (a frame spanning units), checksums matching"
                           : "unit 0 ends one byte into unit 1's zstd block, checksums matching",
               [&](Bytes& b) {
                 uint8_t* first = b.data() + entry1 - format::kUnitTableEntrySize;
                 format::put_u32(first, format::get_u32(first) + 1);
                 reseal_record(b, r.off);
               });
    table_case("unit-count-huge", "the table's head claims 2^20 units, more than the payload holds",
               [&](Bytes& b) { format::put_u32(b.data() + payload + 4, 1u << 20); });
    table_case("unit-size-other", "unit size 16 KiB (the units are 32 KiB), checksums matching", [&](Bytes& b) {
      format::put_u32(b.data() + payload, 16 * 1024);
      reseal_record(b, r.off);
    });
  }

  // The 128 KiB record of blocks 32-63 written again from `frames` (one
  // frame, or one per unit) after a table of units of unit_bytes, with
  // `flags`, the index pointing at it.
  const auto old =
      std::find_if(data.begin(), data.end(), [](const Rec& d) { return d.h.first == 32 && d.h.count == 32; });
  if (old == data.end() || !(old->h.flags & format::kRecordFlagUnitTable)) {
    std::fprintf(stderr, "make_hostile: base image has no 128 KiB record of blocks 32-63 with a unit table\n");
    std::exit(1);
  }
  const Bytes old_raw = decompress(base, *old);
  auto relocate = [old](Bytes& b, Layout& l, uint32_t unit_bytes, uint8_t flags, const std::vector<Bytes>& frames,
                        const std::vector<uint32_t>& ends) {
    Bytes packed;
    for (const Bytes& f : frames) packed.insert(packed.end(), f.begin(), f.end());
    Bytes payload(format::unit_table_size(static_cast<uint32_t>(ends.size())));
    format::encode_unit_table(unit_bytes, ends, packed, payload);
    payload.insert(payload.end(), packed.begin(), packed.end());
    RecordHeader h = old->h;
    h.flags = flags;
    const uint64_t off = place_record(b, l, h, payload);
    auto entries = page_entries(b, l, 0);
    for (format::IndexEntry& e : entries)
      if (e.record_offset == old->off)
        e.record_offset = off, e.record_length = format::record_total_length(static_cast<uint32_t>(payload.size()));
    install_page(b, l, 0, entries);
  };
  // One zstd frame of `raw` at level 3 (with its content size unless
  // `unsized`), or the chained frame of units of unit_bytes (ends appended).
  auto one_frame = [](std::span<const uint8_t> raw, bool unsized = false) {
    ZSTD_CCtx* c = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, 3);
    if (unsized) ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 0);
    Bytes frame(ZSTD_compressBound(raw.size()));
    const size_t n = ZSTD_compress2(c, frame.data(), frame.size(), raw.data(), raw.size());
    ZSTD_freeCCtx(c);
    if (ZSTD_isError(n)) std::exit(1);
    frame.resize(n);
    return frame;
  };
  auto chained_frame = [&](uint32_t unit_bytes, std::vector<uint32_t>* ends) {
    ZSTD_CCtx* c = ZSTD_createCCtx();
    ZSTD_CCtx_setPledgedSrcSize(c, old_raw.size());
    Bytes frame(ZSTD_compressBound(old_raw.size()));
    ZSTD_outBuffer ob{frame.data(), frame.size(), 0};
    for (size_t at = 0; at < old_raw.size(); at += unit_bytes) {
      ZSTD_inBuffer ib{old_raw.data() + at, unit_bytes, 0};
      const ZSTD_EndDirective how = at + unit_bytes == old_raw.size() ? ZSTD_e_end : ZSTD_e_flush;
      for (size_t left = 1; left != 0;) {
        left = ZSTD_compressStream2(c, &ob, &ib, how);
        if (ZSTD_isError(left)) std::exit(1);
      }
      ends->push_back(static_cast<uint32_t>(ob.pos));
    }
    ZSTD_freeCCtx(c);
    frame.resize(ob.pos);
    return frame;
  };
  // Independent frames of the record's units of unit_bytes; `edit` may
  // replace unit i's frame.
  auto independent_frames = [&](uint32_t unit_bytes, const std::function<void(size_t, Bytes&)>& edit,
                                std::vector<uint32_t>* ends) {
    std::vector<Bytes> frames;
    uint32_t at = 0;
    for (size_t i = 0; i * unit_bytes < old_raw.size(); ++i) {
      frames.push_back(one_frame({old_raw.data() + i * unit_bytes, unit_bytes}));
      edit(i, frames.back());
      ends->push_back(at += static_cast<uint32_t>(frames.back().size()));
    }
    return frames;
  };
  const std::function<void(size_t, Bytes&)> unchanged = [](size_t, Bytes&) {};
  constexpr uint8_t kChained = format::kRecordFlagCompressed | format::kRecordFlagUnitTable;
  constexpr uint8_t kIndependent = kChained | format::kRecordFlagIndependentUnits;
  // Valid, though not what vblk writes: units of 4 KiB (a 520-byte table).
  // Every block must read back as before.
  variant("unit-size-4k", Expect::kValid, "a record with 32 chained units of 4 KiB (valid; vblk writes 32 KiB units)",
          [&](Bytes& b, Layout& l) {
            std::vector<uint32_t> ends;
            const Bytes frame = chained_frame(kBs, &ends);
            relocate(b, l, kBs, kChained, {frame}, ends);
          });
  variant("indep-unit-size-4k", Expect::kValid,
          "a record with 32 independent units of 4 KiB (valid; vblk writes 32 KiB units)", [&](Bytes& b, Layout& l) {
            std::vector<uint32_t> ends;
            const std::vector<Bytes> frames = independent_frames(kBs, unchanged, &ends);
            relocate(b, l, kBs, kIndependent, frames, ends);
          });
  constexpr uint32_t kUnit = 32 * 1024;
  auto unit_case = [&](const std::string& name, Expect e, const std::string& what,
                       const std::function<void(size_t, Bytes&)>& edit) {
    variant(name, e, what, [&](Bytes& b, Layout& l) {
      std::vector<uint32_t> ends;
      const std::vector<Bytes> frames = independent_frames(kUnit, edit, &ends);
      relocate(b, l, kUnit, kIndependent, frames, ends);
    });
  };
  const std::span<const uint8_t> raw(old_raw);
  unit_case("indep-unit-short", Expect::kDamaged, "independent unit 1 decodes to 16 KiB, checksums matching",
            [&](size_t i, Bytes& f) {
              if (i == 1) f = one_frame(raw.subspan(kUnit, kUnit / 2));
            });
  unit_case("indep-unit-long", Expect::kDamaged, "independent unit 3 decodes to 48 KiB, checksums matching",
            [&](size_t i, Bytes& f) {
              if (i == 3) f = one_frame(raw.subspan(kUnit, kUnit + kUnit / 2));
            });
  unit_case("indep-unit-long-unsized", Expect::kDamaged,
            "independent unit 3 decodes to 48 KiB, its frame without a content size, checksums matching",
            [&](size_t i, Bytes& f) {
              if (i == 3) f = one_frame(raw.subspan(kUnit, kUnit + kUnit / 2), true);
            });
  unit_case("indep-unit-two-frames", Expect::kDamaged,
            "independent unit 2 is two frames of 16 KiB (its bytes, but not one frame), checksums matching",
            [&](size_t i, Bytes& f) {
              if (i != 2) return;
              f = one_frame(raw.subspan(2 * kUnit, kUnit / 2));
              const Bytes second = one_frame(raw.subspan(2 * kUnit + kUnit / 2, kUnit / 2));
              f.insert(f.end(), second.begin(), second.end());
            });
  unit_case("indep-unit-unsized", Expect::kValid,
            "independent unit 1's frame without a content size (valid: it decodes to exactly its 32 KiB)",
            [&](size_t i, Bytes& f) {
              if (i == 1) f = one_frame(raw.subspan(kUnit, kUnit), true);
            });
  variant("indep-flag-on-chained-frame", Expect::kDamaged,
          "the independent-units flag on a record whose units are one chained frame (each unit's bytes a frame "
          "spanning units), checksums matching",
          [&](Bytes& b, Layout& l) {
            std::vector<uint32_t> ends;
            const Bytes frame = chained_frame(kUnit, &ends);
            relocate(b, l, kUnit, kIndependent, {frame}, ends);
          });
  variant("indep-flag-off-independent-frames", Expect::kDamaged,
          "a record of independent frames without the independent-units flag (chained, unit 1 would need "
          "unit 0's frame to go on), checksums matching",
          [&](Bytes& b, Layout& l) {
            std::vector<uint32_t> ends;
            const std::vector<Bytes> frames = independent_frames(kUnit, unchanged, &ends);
            relocate(b, l, kUnit, kChained, frames, ends);
          });
  const Rec indep = with_table(true);
  variant("indep-flag-without-table", Expect::kDamaged,
          "a record with the independent-units flag but no unit-table flag (header re-sealed)", [&](Bytes& b, Layout&) {
            RecordHeader h = indep.h;
            h.flags = format::kRecordFlagCompressed | format::kRecordFlagIndependentUnits;
            put_record_header(b, indep.off, h);
          });
  auto feature_case = [&](const std::string& name, const std::string& what, uint64_t bit) {
    variant(name, Expect::kDamaged, what, [this, bit](Bytes& b, Layout&) {
      format::Superblock sb = layout.sb;
      sb.incompat_features &= ~bit;
      put_superblock(b, sb);
    });
  };
  feature_case("unit-table-without-feature", "records with unit tables, the superblock without the feature bit",
               format::kFeatureUnitTables);
  feature_case("indep-units-without-feature",
               "records with independent units, the superblock without the independent_units feature bit",
               format::kFeatureIndependentUnits);
}

void Generator::other_cases() {
  Bytes random(2 << 20);
  uint64_t x = 88172645463325252ull;
  for (auto& c : random) x ^= x << 13, x ^= x >> 7, x ^= x << 17, c = static_cast<uint8_t>(x);
  emit("random", Expect::kReject, "2 MiB of random bytes", random);
  Bytes fake = random;
  std::memcpy(fake.data(), base.data(), format::kSuperblockSize);
  emit("random-after-superblock", Expect::kReject, "a valid superblock followed by random bytes", fake);
  Bytes zeros = base;
  std::fill(zeros.begin() + kDataStart, zeros.end(), 0);
  emit("segments-zeroed", Expect::kReject, "every segment zeroed (as if punched)", zeros);
  emit("sparse-1tib", Expect::kValid, "the base image extended by a 1 TiB hole", base, 1ull << 40);
  emit("base", Expect::kValid, "the base image itself (control case)", base);
}

}  // namespace
}  // namespace vblk::hostile
