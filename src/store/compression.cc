// zstd for record payloads: per-thread contexts, incompressible-data
// detection by samples, and the choice of level.
//
// Level choice. A level above 1 costs 2-3x the CPU of level 1 and on some
// data buys nothing: fio's half-random buffers, for one, come out 0.3%
// smaller at level 3 than at level 1 at 0.4x the speed, while /usr files
// come out 5.5% smaller. Below level 1, zstd's fast levels skip the entropy
// coding of literals and, the more negative, more of the input between
// match searches: where literals are random anyway they store as little as
// level 1 in a fraction of the time (4 KiB of fio's 50%-compressible data:
// 51.0% of the input at -5, -1, 1 and 3 alike, in 2.5, 5.1, 9.1 and 15.7
// us), while on the 128 KiB records of an ext4 disk of /usr files they
// store 11% (-1) and 38% (-5) more than level 1.
// Level 2 sits between: zstd's fast strategy as at level 1, with a larger
// hash table and shorter matches (for 128 KiB: 2^15 entries against 2^13,
// matches from 5 bytes against 6); on those /usr records it stores 3.3%
// less than level 1 and 2% more than level 3 in 0.75x level 3's time (one
// core: 243 against 183 MiB/s), and per record it is often within 1% of
// level 3 (a simulation of this choice over the 8726 records: with level 2
// a candidate, 2268 get it, 5056 level 3; 0.7% more bytes in all, 9-15%
// less time).
// So up to kMaxAdaptiveLevel a payload is compressed at the fastest of
// kCandidateLevels (-5, -1, 1, 2) below the image's level and that level,
// unless a slower one makes it at least kMinLevelGain smaller (pick_level):
//   - a payload of 16 KiB or more: the two 4 KiB samples that detect
//     incompressible data (at level 1, on every payload) are, on a trial,
//     also compressed at the other candidate levels, and the payload at the
//     level they pick; the next ones on the thread follow that pick.
//     Measured on 128 KiB records of /usr/lib: 0.5% larger in all than
//     level 3 throughout, as fast. (A trial on every payload spent 16% of
//     the daemon's CPU in an ext4 copy of /usr.)
//   - a smaller payload has no room for samples: a trial compresses it at
//     every candidate level and keeps the pick; the verdict holds for the
//     thread's next small payloads.
// Trials come every kLargeTrialEvery-th (kSmallTrialEvery-th) payload; each
// trial that picks what the last one did doubles the interval, up to 8
// times as long, and one that picks another level starts it over: steady
// data (a random-write workload) stops paying for trials that change
// nothing (on fio's buffers a 4 KiB trial at every candidate costs over a
// dozen payloads at -5), while data that changes is tried as often as
// before.
// Above kMaxAdaptiveLevel the level is always used: who asks for heavy
// compression asks for the last per cent.
//
// Decode units. A payload longer than kDecodeUnit is compressed as one
// frame whose blocks each hold kDecodeUnit bytes of input (the window still
// spans the whole payload, so later blocks refer back to earlier ones), and
// a read of one block decodes the frame only up to the block that holds it
// (decompress_payload_prefix): a random 4 KiB read of a 128 KiB record
// decodes 80 KiB on average instead of 128. On /usr files the blocks also
// store 0.8% less than one 128 KiB block at levels 1 and 3 (each block has
// entropy tables of its own), at 4-8% less speed. 16 KiB units (72 KiB
// decoded on average) were tried: on an ext4 disk of /usr files they store
// 0.4% more (358.2 against 356.9 MiB at level 3), and in bench/run random
// 4 KiB reads at QD16 gained 3% (49.6-51.2k against 48.7-49.4k IOPS) while
// the ext4 copy took 5% longer (4.68-4.70 against 4.41-4.46 s): more blocks,
// each with entropy tables to build. 64 KiB records would store 2.8% more.
// The 128 KiB one-shot frames of earlier writers decode as they are.
//
// Independent units (images with kFeatureIndependentUnits): a frame per
// unit instead, so a read of one block decodes 32 KiB, not 80 on average,
// and copies and hashes that unit alone. The price is the window the units
// no longer share, nearly nothing where units share little (fio's
// half-random buffers) and several per cent on text-like data (/usr files;
// bench/README.md, "Figures behind design choices"). The writer's choice
// (UnitLayout, store_impl.h; made in build_data_records): provisional
// records always take them (compressed once, fast, and replaced later);
// final ones are compressed both ways and keep them unless they cost more
// than kMaxIndependentUnitsCost over the chained frame (compress_laid_out).
#define ZSTD_STATIC_LINKING_ONLY  // ZSTD_decompressBegin/Continue: block-wise decoding
#include <zstd.h>
#include <zstd_errors.h>  // ZSTD_getErrorCode: a unit that decodes to more than its bytes

#include <algorithm>
#include <array>
#include <cassert>
#include <cstring>

#include "format/unit_table.h"
#include "store/compression.h"

namespace vblk::store {

namespace {

constexpr size_t kSample = 4096;
// A sample that level 1 shrinks by less than this counts as incompressible.
constexpr double kMinSampleSaving = 0.03;
constexpr double kMinLevelGain = 0.01;
constexpr int kMaxAdaptiveLevel = 9;
constexpr uint32_t kSmallTrialEvery = 16;
constexpr uint32_t kLargeTrialEvery = 4;
constexpr uint32_t kTrialBackoffMax = 8;

// Payloads compressed for one image level on a thread: the level the last
// trial picked (0: no trial yet), how many have followed it, and after how
// many the next trial comes.
struct Verdict {
  int pick = 0;
  uint32_t followed = 0;
  uint32_t interval = 0;
  // True when this payload is to follow the pick without a trial; counts it.
  bool follow() { return pick != 0 && ++followed < interval; }
  // A trial picked `level`: the interval doubles when that confirms the
  // last pick, up to kTrialBackoffMax times `every`, and is `every` again
  // when it does not.
  void tried(int level, uint32_t every) {
    interval = level == pick ? std::min(2 * interval, kTrialBackoffMax * every) : every;
    pick = level;
    followed = 0;
  }
};

struct ZstdContexts {
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ZSTD_DCtx* d = ZSTD_createDCtx();
  // One verdict per image level: a thread may compress for several (PAGE
  // records at level 1 between data records, or two images).
  std::array<Verdict, kMaxAdaptiveLevel + 1> small{}, large{};
  ~ZstdContexts() {
    ZSTD_freeCCtx(c);
    ZSTD_freeDCtx(d);
  }
};
ZstdContexts& zstd() {
  thread_local ZstdContexts ctx;
  return ctx;
}

// Compressed size of the 4 KiB at p, or kSample when zstd fails (a failed
// trial must not make data look compressible).
size_t sample_size(const uint8_t* p, int level) {
  std::array<uint8_t, ZSTD_COMPRESSBOUND(kSample)> buf;
  const size_t n = ZSTD_compressCCtx(zstd().c, buf.data(), buf.size(), p, kSample, level);
  return ZSTD_isError(n) ? kSample : n;
}

bool shrinks(size_t sample_bytes) {
  return static_cast<double>(sample_bytes) <= (1 - kMinSampleSaving) * kSample;
}

// Compresses into *out, after a unit table unless `layout` is kNone
// (REQUIRES in.size() > kDecodeUnit then), as one frame (kNone, kChained)
// or a frame per unit (kIndependent); false when the result would not save
// at least one 8-byte alignment unit (store raw then).
bool compress_at(std::span<const uint8_t> in, int level, UnitLayout layout, std::vector<uint8_t>* out) {
  assert(layout != UnitLayout::kSmaller);
  const bool unit_table = layout != UnitLayout::kNone;
  const uint32_t units =
      unit_table ? format::unit_count_for(static_cast<uint32_t>(in.size()), static_cast<uint32_t>(kDecodeUnit)) : 1;
  const size_t table = unit_table ? format::unit_table_size(units) : 0;
  // Room for the worst case of either layout: independent frames may each
  // take up to ZSTD_compressBound(0) (a frame's fixed cost) over their share
  // of the bound of one frame.
  out->resize(table + ZSTD_compressBound(in.size()) + units * ZSTD_compressBound(0));
  thread_local std::vector<uint32_t> ends;
  ends.clear();
  const std::span<uint8_t> frame(out->data() + table, out->size() - table);
  std::vector<uint32_t>* unit_ends = unit_table ? &ends : nullptr;
  const size_t n = layout == UnitLayout::kIndependent ? compress_independent_units(in, level, frame, unit_ends)
                                                      : compress_frame(in, level, frame, unit_ends);
  if (ZSTD_isError(n) || table + n + format::kRecordAlign >= in.size()) return false;
  if (unit_table)
    format::encode_unit_table(static_cast<uint32_t>(kDecodeUnit), ends, frame.first(n),
                              std::span<uint8_t>(out->data(), table));
  out->resize(table + n);
  return true;
}

// compress_at for any layout: with kSmaller, the payload is compressed both
// ways and stored with independent units unless that is more than
// kMaxIndependentUnitsCost larger than the chained frame (store_impl.h
// says why). *independent says which was kept.
bool compress_laid_out(std::span<const uint8_t> in, int level, UnitLayout layout, std::vector<uint8_t>* out,
                       bool* independent) {
  *independent = layout == UnitLayout::kIndependent;
  if (layout != UnitLayout::kSmaller) return compress_at(in, level, layout, out);
  thread_local std::vector<uint8_t> chained;
  const bool independent_ok = compress_at(in, level, UnitLayout::kIndependent, out);
  const bool chained_ok = compress_at(in, level, UnitLayout::kChained, &chained);
  if (independent_ok && (!chained_ok || !independent_units_cost_too_much(out->size(), chained.size()))) {
    *independent = true;
    return true;
  }
  if (!chained_ok) return false;
  out->swap(chained);
  return true;
}

// Of kCandidateLevels below `level`, and `level` (ascending, each tried
// once), the fastest unless a slower one's size_at() is at least
// kMinLevelGain below the pick so far.
template <typename SizeAt>
int pick_level(int level, SizeAt&& size_at) {
  int pick = 0;
  double best = 0;
  auto consider = [&](int candidate) {
    const double size = static_cast<double>(size_at(candidate));
    if (pick == 0 || size < (1 - kMinLevelGain) * best) pick = candidate, best = size;
  };
  for (const int candidate : kCandidateLevels)
    if (candidate < level) consider(candidate);
  consider(level);
  return pick;
}

// Small payload at an adaptive level: a trial at every candidate now and then.
// (Never a unit table: small payloads are one unit.)
static_assert(4 * kSample <= kDecodeUnit, "payloads compress_small takes must fit one decode unit");
bool compress_small(std::span<const uint8_t> in, int level, std::vector<uint8_t>* out, int* used_level) {
  Verdict& v = zstd().small[static_cast<size_t>(level)];
  if (v.follow()) {
    *used_level = v.pick;
    return compress_at(in, v.pick, UnitLayout::kNone, out);
  }
  // Each candidate's output, kept so the pick is not compressed twice.
  struct Tried {
    int level = 0;
    bool ok = false;
    std::vector<uint8_t> bytes;
  };
  std::array<Tried, kCandidateLevels.size() + 1> tried;
  size_t n = 0;
  const int pick = pick_level(level, [&](int l) {
    Tried& t = tried[n++];
    t.level = l;
    t.ok = compress_at(in, l, UnitLayout::kNone, &t.bytes);
    return t.ok ? t.bytes.size() : in.size();
  });
  // pick_level returns one of the levels it tried.
  const auto tried_end = tried.begin() + static_cast<std::ptrdiff_t>(n);
  const auto t = std::find_if(tried.begin(), tried_end, [&](const Tried& c) { return c.level == pick; });
  assert(t != tried_end);
  v.tried(pick, kSmallTrialEvery);
  *used_level = pick;
  if (t->ok) *out = std::move(t->bytes);
  return t->ok;
}

Status zstd_corruption(size_t code) { return Status::corruption(std::string("zstd: ") + ZSTD_getErrorName(code)); }
Status wrong_length() { return Status::corruption("decompressed payload has the wrong length"); }

}  // namespace

size_t compress_frame(std::span<const uint8_t> in, int level, std::span<uint8_t> out,
                      std::vector<uint32_t>* unit_ends) {
  ZSTD_CCtx* c = zstd().c;
  if (in.size() <= kDecodeUnit) {
    const size_t n = ZSTD_compressCCtx(c, out.data(), out.size(), in.data(), in.size(), level);
    if (unit_ends && !ZSTD_isError(n)) unit_ends->push_back(static_cast<uint32_t>(n));
    return n;
  }
  // A flush ends a block.
  ZSTD_CCtx_reset(c, ZSTD_reset_session_and_parameters);
  if (size_t r = ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level); ZSTD_isError(r)) return r;
  // The size in the frame header, and parameters tuned to it, as one-shot.
  if (size_t r = ZSTD_CCtx_setPledgedSrcSize(c, in.size()); ZSTD_isError(r)) return r;
  ZSTD_outBuffer ob{out.data(), out.size(), 0};
  for (size_t at = 0; at < in.size(); at += kDecodeUnit) {
    const bool last = at + kDecodeUnit >= in.size();
    ZSTD_inBuffer ib{in.data() + at, std::min(kDecodeUnit, in.size() - at), 0};
    size_t left;
    do {
      left = ZSTD_compressStream2(c, &ob, &ib, last ? ZSTD_e_end : ZSTD_e_flush);
      if (ZSTD_isError(left)) return left;
    } while (left != 0);
    if (unit_ends) unit_ends->push_back(static_cast<uint32_t>(ob.pos));
  }
  return ob.pos;
}

size_t compress_independent_units(std::span<const uint8_t> in, int level, std::span<uint8_t> out,
                                  std::vector<uint32_t>* unit_ends) {
  ZSTD_CCtx* c = zstd().c;
  size_t at_out = 0;
  for (size_t at = 0; at < in.size(); at += kDecodeUnit) {
    const size_t n = ZSTD_compressCCtx(c, out.data() + at_out, out.size() - at_out, in.data() + at,
                                       std::min(kDecodeUnit, in.size() - at), level);
    if (ZSTD_isError(n)) return n;
    at_out += n;
    if (unit_ends) unit_ends->push_back(static_cast<uint32_t>(at_out));
  }
  return at_out;
}

bool samples_incompressible(std::span<const uint8_t> in, size_t samples) {
  if (in.size() < 4 * kSample || samples < 2) return false;
  const size_t span = samples == 2 ? in.size() / 2 : in.size() - kSample;
  for (size_t k = 0; k < samples; ++k)
    if (shrinks(sample_size(in.data() + k * span / (samples - 1), 1))) return false;
  return true;
}

uint8_t compress_payload(std::span<const uint8_t> in, int level, UnitLayout layout, std::vector<uint8_t>* out,
                         int* used_level, bool exact_level) {
  if (level <= 0) return 0;
  int unused;
  if (!used_level) used_level = &unused;
  *used_level = level;
  const bool adaptive = !exact_level && level <= kMaxAdaptiveLevel;
  // (A payload of one unit needs no table: it is read whole anyway.)
  if (in.size() <= kDecodeUnit) layout = UnitLayout::kNone;
  // The record flags of what compress_laid_out put in *out, 0 when it
  // stored nothing.
  auto compressed = [&](int l) -> uint8_t {
    bool independent = false;
    if (!compress_laid_out(in, l, layout, out, &independent)) return 0;
    if (layout == UnitLayout::kNone) return format::kRecordFlagCompressed;
    return format::kRecordFlagCompressed | format::kRecordFlagUnitTable |
           (independent ? format::kRecordFlagIndependentUnits : 0);
  };
  if (in.size() < 4 * kSample) {
    if (!adaptive) return compressed(level);
    // (Never a unit table: small payloads are one unit.)
    return compress_small(in, level, out, used_level) ? format::kRecordFlagCompressed : 0;
  }
  // Two samples, at the start and in the middle.
  const std::array<const uint8_t*, 2> samples{in.data(), in.data() + in.size() / 2};
  auto samples_at = [&](int l) { return sample_size(samples[0], l) + sample_size(samples[1], l); };
  const size_t first = sample_size(samples[0], 1), middle = sample_size(samples[1], 1);
  if (!shrinks(first) && !shrinks(middle)) return 0;
  if (!adaptive) return compressed(level);
  Verdict& v = zstd().large[static_cast<size_t>(level)];
  if (!v.follow())
    v.tried(pick_level(level, [&](int l) { return l == 1 ? first + middle : samples_at(l); }), kLargeTrialEvery);
  *used_level = v.pick;
  return compressed(v.pick);
}

Status decode_payload(const format::RecordHeader& h, std::span<const uint8_t> payload, std::span<uint8_t> raw,
                      size_t needed) {
  if (!(h.flags & format::kRecordFlagCompressed)) {
    // (memcpy from or to the null data() of an empty vector is undefined;
    // found by fuzz_open with an empty uncompressed payload.)
    if (!payload.empty()) std::memcpy(raw.data(), payload.data(), std::min({payload.size(), raw.size(), needed}));
    return Status::ok();
  }
  if (!(h.flags & format::kRecordFlagUnitTable)) return decompress_payload_prefix(payload, raw, needed);
  auto table = format::decode_unit_table(payload, h.stored_len, h.raw_len, h.payload_hash);
  if (!table) return table.status();
  const uint32_t last = needed >= raw.size() ? table->unit_count() - 1 : table->unit_of(needed - 1);
  return decompress_units(*table, h.flags & format::kRecordFlagIndependentUnits, payload.subspan(table->size()), 0,
                          last, raw);
}

Status decompress_units(const format::UnitTable& table, bool independent, std::span<const uint8_t> bytes,
                        uint32_t first, uint32_t last, std::span<uint8_t> out) {
  // Invariant: the callers ask for units of the table, from unit 0 when chained.
  assert(first <= last && last < table.unit_count() && (independent || first == 0));
  if (table.end(last) - table.start(first) > bytes.size())
    return Status::corruption("zstd: payload ends inside its frame");
  auto wrong_unit_length = [](uint32_t unit) {
    return Status::corruption("unit table: unit " + std::to_string(unit) + " does not decode to its bytes");
  };
  ZSTD_DCtx* d = zstd().d;
  if (independent) {
    // Each unit is one whole frame that decodes to exactly its raw bytes,
    // into its place in out.
    const uint32_t base = table.start(first);
    for (uint32_t unit = first; unit <= last; ++unit) {
      const std::span<const uint8_t> in = bytes.subspan(table.start(unit) - base, table.end(unit) - table.start(unit));
      const size_t frame = ZSTD_findFrameCompressedSize(in.data(), in.size());
      if (ZSTD_isError(frame) || frame != in.size())
        return Status::corruption("unit table: unit " + std::to_string(unit) + " is not one zstd frame");
      const size_t want = table.unit_raw_bytes(unit, static_cast<uint32_t>(out.size()));
      // (vblk's frames say their size; one that does not is decoded and
      // must then fit exactly.)
      const unsigned long long content = ZSTD_getFrameContentSize(in.data(), in.size());
      if (content != want && content != ZSTD_CONTENTSIZE_UNKNOWN) return wrong_unit_length(unit);
      const size_t n =
          ZSTD_decompressDCtx(d, out.data() + size_t{unit} * table.unit_bytes(), want, in.data(), in.size());
      if (ZSTD_getErrorCode(n) == ZSTD_error_dstSize_tooSmall) return wrong_unit_length(unit);
      if (ZSTD_isError(n)) return zstd_corruption(n);
      if (n != want) return wrong_unit_length(unit);
    }
    return Status::ok();
  }
  if (size_t r = ZSTD_decompressBegin(d); ZSTD_isError(r)) return zstd_corruption(r);
  // Step by step as in decompress_payload_prefix; where a unit's bytes end,
  // a zstd block must end and the output must have reached the unit's end.
  size_t in_at = 0, out_at = 0;
  for (uint32_t unit = 0; unit <= last;) {
    const size_t step = ZSTD_nextSrcSizeToDecompress(d);
    if (step == 0) return wrong_length();
    if (step > table.end(unit) - in_at)
      return Status::corruption("unit table: unit " + std::to_string(unit) + " ends inside a zstd block");
    const size_t n = ZSTD_decompressContinue(d, out.data() + out_at, out.size() - out_at, bytes.data() + in_at, step);
    if (ZSTD_isError(n)) return zstd_corruption(n);
    in_at += step;
    out_at += n;
    if (in_at == table.end(unit)) {
      if (out_at != std::min(size_t{unit + 1} * table.unit_bytes(), out.size())) return wrong_unit_length(unit);
      ++unit;
    }
  }
  return Status::ok();
}

Status decompress_payload(std::span<const uint8_t> in, std::span<uint8_t> out) {
  size_t n = ZSTD_decompressDCtx(zstd().d, out.data(), out.size(), in.data(), in.size());
  if (ZSTD_isError(n)) return zstd_corruption(n);
  if (n != out.size()) return wrong_length();
  return Status::ok();
}

Status decompress_payload_prefix(std::span<const uint8_t> in, std::span<uint8_t> out, size_t needed) {
  // The frame must say how much it holds, and that must be the record's raw
  // length, since what lies past the needed blocks is never decoded; a frame
  // that does not say is decoded whole (vblk always writes the size).
  const unsigned long long content = ZSTD_getFrameContentSize(in.data(), in.size());
  if (content == ZSTD_CONTENTSIZE_ERROR) return Status::corruption("zstd: payload is not a zstd frame");
  if (needed >= out.size() || content == ZSTD_CONTENTSIZE_UNKNOWN) return decompress_payload(in, out);
  if (content != out.size()) return wrong_length();
  ZSTD_DCtx* d = zstd().d;
  if (size_t r = ZSTD_decompressBegin(d); ZSTD_isError(r)) return zstd_corruption(r);
  // Frame header, then each block's header and body: ZSTD_nextSrcSizeToDecompress
  // says how many bytes the next step takes, 0 at the end of the frame.
  size_t in_at = 0, out_at = 0;
  while (out_at < needed) {
    const size_t step = ZSTD_nextSrcSizeToDecompress(d);
    if (step == 0) return wrong_length();
    if (step > in.size() - in_at) return Status::corruption("zstd: payload ends inside its frame");
    const size_t n = ZSTD_decompressContinue(d, out.data() + out_at, out.size() - out_at, in.data() + in_at, step);
    if (ZSTD_isError(n)) return zstd_corruption(n);
    in_at += step;
    out_at += n;
  }
  return Status::ok();
}

}  // namespace vblk::store
