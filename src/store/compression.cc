// zstd for record payloads: per-thread contexts, incompressible-data
// detection by samples, and the choice of level.
//
// Level choice. A level above 1 costs 2-3x the CPU of level 1 and on some
// data buys nothing: fio's half-random buffers, for one, come out 0.3%
// smaller at level 3 than at level 1 at 0.4x the speed, while /usr files
// come out 5.5% smaller. So up to kMaxAdaptiveLevel a payload is
// compressed at the image's level only where that pays:
//   - a payload of 16 KiB or more: the two 4 KiB samples that already
//     detect incompressible data (at level 1) are also compressed at the
//     level; if the level makes them less than kMinLevelGain smaller, the
//     payload is compressed at level 1. Measured on 128 KiB records of
//     /usr/lib: 0.5% larger in all than level 3 throughout, as fast.
//   - a smaller payload has no room for samples: every kSmallTrialEvery-th
//     one on a thread is compressed at both levels and the smaller result
//     kept; the verdict holds for the thread's next small payloads.
// Above kMaxAdaptiveLevel the level is always used: who asks for heavy
// compression asks for the last per cent.
#include <zstd.h>

#include <array>

#include "store/store_impl.h"

namespace vblk::store {

namespace {

constexpr size_t kSample = 4096;
// A sample that level 1 shrinks by less than this counts as incompressible.
constexpr double kMinSampleSaving = 0.03;
constexpr double kMinLevelGain = 0.01;
constexpr int kMaxAdaptiveLevel = 9;
constexpr uint32_t kSmallTrialEvery = 16;

struct ZstdContexts {
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ZSTD_DCtx* d = ZSTD_createDCtx();
  // Small payloads: whether the level paid at the last trial, and a count.
  bool small_level_pays = true;
  uint32_t small_payloads = 0;
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

// Compresses into *out; false when the result would not save at least one
// 8-byte alignment unit (store raw then).
bool compress_at(std::span<const uint8_t> in, int level, std::vector<uint8_t>* out) {
  out->resize(ZSTD_compressBound(in.size()));
  const size_t n = ZSTD_compressCCtx(zstd().c, out->data(), out->size(), in.data(), in.size(), level);
  if (ZSTD_isError(n) || n + format::kRecordAlign >= in.size()) return false;
  out->resize(n);
  return true;
}

// Small payload at an adaptive level: a trial at both levels now and then.
bool compress_small(std::span<const uint8_t> in, int level, std::vector<uint8_t>* out) {
  ZstdContexts& z = zstd();
  if (z.small_payloads++ % kSmallTrialEvery != 0) return compress_at(in, z.small_level_pays ? level : 1, out);
  std::vector<uint8_t> fast;
  const bool fast_ok = compress_at(in, 1, &fast);
  const bool level_ok = compress_at(in, level, out);
  z.small_level_pays =
      level_ok && (!fast_ok || static_cast<double>(out->size()) < (1 - kMinLevelGain) * static_cast<double>(fast.size()));
  if (z.small_level_pays) return true;
  if (fast_ok) *out = std::move(fast);
  return fast_ok;
}

}  // namespace

bool samples_incompressible(std::span<const uint8_t> in, size_t samples) {
  if (in.size() < 4 * kSample || samples < 2) return false;
  const size_t span = samples == 2 ? in.size() / 2 : in.size() - kSample;
  for (size_t k = 0; k < samples; ++k)
    if (shrinks(sample_size(in.data() + k * span / (samples - 1), 1))) return false;
  return true;
}

bool compress_payload(std::span<const uint8_t> in, int level, std::vector<uint8_t>* out) {
  if (level <= 0) return false;
  const bool adaptive = level > 1 && level <= kMaxAdaptiveLevel;
  if (in.size() < 4 * kSample) return adaptive ? compress_small(in, level, out) : compress_at(in, level, out);
  // Two samples, at the start and in the middle.
  size_t fast = 0, slow = 0;
  bool any_shrinks = false;
  for (const size_t at : {size_t{0}, in.size() / 2}) {
    const size_t n = sample_size(in.data() + at, 1);
    any_shrinks = any_shrinks || shrinks(n);
    fast += n;
    if (adaptive) slow += sample_size(in.data() + at, level);
  }
  if (!any_shrinks) return false;
  const bool level_pays = !adaptive || static_cast<double>(slow) < (1 - kMinLevelGain) * static_cast<double>(fast);
  return compress_at(in, level_pays ? level : 1, out);
}

Status decompress_payload(std::span<const uint8_t> in, std::span<uint8_t> out) {
  size_t n = ZSTD_decompressDCtx(zstd().d, out.data(), out.size(), in.data(), in.size());
  if (ZSTD_isError(n)) return Status::corruption(std::string("zstd: ") + ZSTD_getErrorName(n));
  if (n != out.size()) return Status::corruption("decompressed payload has the wrong length");
  return Status::ok();
}

}  // namespace vblk::store
