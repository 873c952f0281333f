#pragma once
// The compression API of the store: how a record's payload is compressed
// (zstd, optionally cut into decode units with a unit table; see
// format/unit_table.h and man/vblk.5 RECORDS) and decoded again.
// Implemented in compression.cc with thread-local zstd contexts; no I/O.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "format/format.h"
#include "format/unit_table.h"
#include "vblk/status.h"

namespace vblk::store {

// How compress_payload lays out a payload longer than one kDecodeUnit
// (format/unit_table.h; shorter ones are one frame without a table).
enum class UnitLayout {
  kNone,         // one frame, no unit table (index pages; images without kFeatureUnitTables)
  kChained,      // a unit table, one frame cut at the units (images without kFeatureIndependentUnits)
  kIndependent,  // a unit table, a frame per unit (provisional records: written fast, replaced later)
  kSmaller,      // both, and kept independent unless that costs more than kMaxIndependentUnitsCost
};
// A final record takes independent units where its whole stored payload is
// at most this much larger with them than with the chained frame
// (compression.cc, "Decode units", says why).
inline constexpr double kMaxIndependentUnitsCost = 0.01;
inline bool independent_units_cost_too_much(size_t independent_bytes, size_t chained_bytes) {
  return static_cast<double>(independent_bytes) > (1 + kMaxIndependentUnitsCost) * static_cast<double>(chained_bytes);
}
// zstd helpers (compression.cc; thread-local contexts). compress_payload
// returns the record flags of what it put in *out: 0 when the result would
// not be smaller than the input (store raw then), else compressed, with a
// unit table first (format/unit_table.h) when the payload is longer than
// one kDecodeUnit and `layout` is not kNone, and the independent-units flag
// when the units are independent frames. Up to level 9 it uses a faster
// level where the level does not pay (unless exact_level); *used_level
// (when given) says which.
uint8_t compress_payload(std::span<const uint8_t> in, int level, UnitLayout layout, std::vector<uint8_t>* out,
                         int* used_level = nullptr, bool exact_level = false);
// The faster levels compress_payload tries for an adaptive image level,
// fastest first; only those below the image's level are tried
// (compression.cc says why these).
inline constexpr std::array<int, 4> kCandidateLevels{-5, -1, 1, 2};
// True when `samples` 4 KiB samples of a large payload, spread from its
// start to its middle (2) or over all of it (more), would none of them
// shrink by 3% at zstd level 1: the data is then stored raw without
// compressing all of it, so incompressible writes (media, encrypted or
// already compressed files) cost a few small trial compressions instead of
// a full one that is thrown away.
bool samples_incompressible(std::span<const uint8_t> in, size_t samples);
// The most a record stored raw holds. A raw payload has no unit table, so a
// read of one block reads and checks all of its record: random 4 KiB reads
// of incompressible data in 128 KiB raw records spent two fifths of the
// daemon copying and hashing the rest. 64 bytes of header per 32 KiB.
inline constexpr size_t kMaxRawRecordBytes = 32 * 1024;
// The zstd frame of `in` at `level`, a block per kDecodeUnit of input (see
// compression.cc); out has room for ZSTD_compressBound(in.size()). Returns
// the frame's size or a zstd error code; with unit_ends, appends where each
// unit's compressed bytes end in the frame.
inline constexpr size_t kDecodeUnit = 32 * 1024;
size_t compress_frame(std::span<const uint8_t> in, int level, std::span<uint8_t> out,
                      std::vector<uint32_t>* unit_ends = nullptr);
// The frames of `in` at `level`, one per kDecodeUnit of input, back to back
// in out (room for ZSTD_compressBound(in.size()) plus ZSTD_compressBound(0)
// per unit). Returns their total size or a zstd error code; with
// unit_ends, appends where each unit's frame ends.
size_t compress_independent_units(std::span<const uint8_t> in, int level, std::span<uint8_t> out,
                                  std::vector<uint32_t>* unit_ends = nullptr);
Status decompress_payload(std::span<const uint8_t> in, std::span<uint8_t> out);
// Decodes at least the first `needed` bytes of out (whole zstd blocks: a
// payload compressed here has one per kDecodeUnit); the rest of out is
// scratch (zstd's copies may run up to 32 bytes past the last block). The
// whole frame is checked only when all of it is decoded, so callers verify
// the payload's checksum first.
Status decompress_payload_prefix(std::span<const uint8_t> in, std::span<uint8_t> out, size_t needed);
// Decodes units first..last of the payload `table` describes into their
// places in out (REQUIRES out.size() is the record's raw_len, and first ==
// 0 unless `independent`) from `bytes`: the payload past the table from
// the start of unit `first`, at least to the end of unit `last`. Checks
// that each unit's bytes end where a zstd block (chained) or frame
// (independent) ends and decode to exactly that unit's raw bytes. Chained,
// the rest of out is scratch as for decompress_payload_prefix.
Status decompress_units(const format::UnitTable& table, bool independent, std::span<const uint8_t> bytes,
                        uint32_t first, uint32_t last, std::span<uint8_t> out);
// The stored payload of record `h` into raw (REQUIRES raw.size() ==
// h.raw_len), at least its first `needed` bytes: copied, or decompressed
// past its unit table if it has one (every unit up to the one holding byte
// needed - 1, in either layout). The caller has checked the payload
// (StoreImpl::check_payload).
Status decode_payload(const format::RecordHeader& h, std::span<const uint8_t> payload, std::span<uint8_t> raw,
                      size_t needed = SIZE_MAX);

}  // namespace vblk::store
