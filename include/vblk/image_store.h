#pragma once
// ImageStore: the compressed, log-structured image file (format: vblk(5)).
//
// Blocks are written as checksummed records appended to segments of the
// image file; a paged index maps block -> record; the index, segment table
// and bad-block list are checkpointed to alternating slots and the log after
// the newest checkpoint is replayed on open. Dead records are reclaimed by a
// cleaner that copies live data out of mostly-dead segments and punches the
// freed range out of the host file.
//
// A writable open takes an exclusive lock on the image; a read-only open a
// shared one. Either fails at once with Busy if the other kind is held.
// Thread safety: all methods may be called concurrently from many threads.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "vblk/block_state.h"
#include "vblk/block_stats.h"
#include "vblk/status.h"

namespace vblk {

namespace store {
class MemberBackend;
}

// A member set (vblk(5), MEMBER SETS): the image's data erasure-coded over
// member files, IMAGE keeping the superblock, checkpoints and member table.
// data_members 0: a single-file image. The fields are vblk-format's options
// (src/ec/layout.h checks them).
struct MemberSetFormat {
  uint32_t data_members = 0;   // --data-members
  uint32_t group_size = 0;     // --group-size
  uint32_t global_parity = 0;  // --global-parity
  uint32_t spares = 0;         // --spares
  uint32_t boxes = 1;          // --boxes
  bool ha = false;             // --ha
  // --member-dir: member m goes to member_dirs[box % size]; empty: IMAGE.members/.
  std::vector<std::string> member_dirs;
  uint32_t chunk_size = 0;     // bytes per chunk; 0 = the default (64 KiB)
};

struct FormatOptions {
  uint64_t capacity_bytes = 0;    // REQUIRES: > 0, multiple of block_size
  uint32_t block_size = 4096;     // REQUIRES: power of two in [512, 65536]
  int compression_level = 3;      // zstd level, 0 stores raw, 1..19
  std::string label;              // at most 63 bytes
  bool force = false;             // overwrite an existing file
  // The flush_records feature (vblk(5)): every flush appends a FLUSH record
  // and syncs twice, so that replay can go on past damage in the log.
  // false: one sync per flush, and replay ends at the first damaged record.
  bool flush_records = true;
  // The resizable feature (vblk(5)): the capacity may change later
  // (resize()). false: the capacity is fixed, as before the feature.
  bool resizable = true;
  // Advanced layout knobs (0 = default); tests use small values to keep
  // images tiny.
  uint32_t segment_size = 0;      // power of two, 1..256 MiB
  uint64_t data_start = 0;        // multiple of 4096, >= 12288
  MemberSetFormat members;        // data_members > 0: a member set
};

struct OpenOptions {
  bool read_only = false;
  // Budget for index pages held in memory (clean pages are evicted beyond it).
  uint64_t index_cache_bytes = 64ull << 20;
  // Replaces the image's zstd level for new writes when >= 0.
  int compression_level = -1;
  // Checkpoint once this much log has been written since the last one.
  uint64_t checkpoint_log_bytes = 64ull << 20;
  // Delta checkpoints, on images with the delta_checkpoints feature
  // (vblk(5), CHECKPOINTS): a checkpoint writes what changed since the one
  // before (a DELTA) unless that would make more than max_delta_chain
  // deltas since the last FULL one, or their metadata more than
  // delta_checkpoint_percent % of a FULL one's; then it writes a FULL one.
  // max_delta_chain 0: every checkpoint is FULL.
  uint32_t max_delta_chain = 64;
  uint32_t delta_checkpoint_percent = 25;
  // Clean and checkpoint on a thread of the store's own, off the write
  // path. false: the writer that finds work due does it inline (the
  // sequence of host operations is then a function of the calls alone).
  bool background_maintenance = true;
  // Deferred compression, on images with the deferred_compression feature
  // (vblk(5)) and a level above 1: writes compress at level 1, and the
  // records a higher level would store smaller are recompressed at the
  // image's level by the maintenance thread once no request has come for a
  // second. false: writes compress at the image's level.
  bool defer_compression = true;
  // The clock of the idle rules (deferred compression waits for a second
  // without requests, the reuse pool is punched after a second without
  // changes). Empty: std::chrono::steady_clock. Tests drive time with it.
  std::function<std::chrono::steady_clock::time_point()> clock{};
  // Writable opens only (vblk-inspect --check --repair): rebuild what cannot
  // be loaded instead of failing: the checkpoint from the newest whole chain
  // of metadata records when no slot is usable or its metadata is damaged,
  // and an index page whose record is damaged from the log's records.
  // repair() then deals with damaged blocks (vblk(5) REPAIR).
  bool repair = false;
};

struct ImageInfo {
  std::string path;
  uint32_t version = 0;
  std::string uuid;            // 8-4-4-4-12 hex
  std::string label;
  uint32_t block_size = 0;
  uint64_t block_count = 0;
  uint64_t capacity_bytes = 0;
  int compression_level = 0;
  uint32_t segment_size = 0;
  uint32_t max_record_bytes = 0;
  uint64_t created_unix = 0;
  uint64_t incompat_features = 0;
  uint64_t compat_features = 0;
  std::vector<std::string> feature_names;  // the set feature bits, by name (vblk(5), FEATURE BITS)
  uint64_t generation = 0;     // checkpoint generation in use
  // Its metadata (vblk(5), CHECKPOINT METADATA): the DELTAs since the last
  // FULL checkpoint (0: it is FULL), and the bytes of the whole chain.
  uint64_t checkpoint_deltas = 0;
  uint64_t checkpoint_chain_bytes = 0;
  uint64_t segments = 0;       // segments spanned by the file
  uint64_t free_segments = 0;
  bool powered_off = false;    // after power_cut(), until power_on()
  // Deferred compression: bytes of provisional records (written at the fast
  // level, awaiting recompression) in the segments counted so far;
  // provisional_scanned: every segment has been counted (false between an
  // open and the first idle second of a store that defers).
  uint64_t provisional_bytes = 0;
  bool provisional_scanned = true;
};

// Where one block's data lives (for vblk-inspect --block).
struct BlockLocation {
  BlockState state = BlockState::kFree;
  bool zero = false;            // USED but stored without payload
  uint64_t record_offset = 0;   // file offset of the record header, 0 if none
  uint32_t record_length = 0;   // header + payload bytes
  uint32_t index_in_record = 0;
  uint64_t record_first_block = 0;
  uint32_t record_blocks = 0;
  bool compressed = false;
  bool provisional = false;     // compressed fast, awaiting recompression (deferred compression)
  bool unit_table = false;      // the payload has a unit table (vblk(5), Unit table)
  bool independent_units = false;  // and its units are independent zstd frames
  uint32_t stored_payload = 0;
};

// One problem found by check(): a damaged block, record or structure.
struct CheckProblem {
  bool has_block = false;
  uint64_t block = 0;
  uint64_t file_offset = 0;
  std::string what;
};

// What power_cut() dropped: the records appended since the last flush.
struct PowerCutReport {
  bool already_off = false;     // the device was off already; nothing changed
  uint64_t dropped_records = 0; // every record cut off the log
  uint64_t dropped_writes = 0;  // the write and trim calls they held (a call may take several records)
  uint64_t dropped_blocks = 0;  // blocks those writes and trims covered
};

// What resize() did.
struct ResizeReport {
  uint64_t old_block_count = 0;
  uint64_t new_block_count = 0;
  // Shrinking with discard: the USED blocks at or beyond the new end that
  // were dropped, and the first of them; the BAD blocks there, whose marks
  // went with them.
  uint64_t discarded_used = 0;
  uint64_t first_discarded = 0;
  uint64_t discarded_bad = 0;
};

// What repair() did.
struct RepairReport {
  std::vector<std::string> actions;  // one line each, in the order done
  std::vector<uint64_t> bad_blocks;  // damaged blocks now BAD
  bool clean = false;                // check() finds nothing afterwards
};

struct CheckReport {
  uint64_t records_checked = 0;
  uint64_t blocks_checked = 0;
  std::vector<CheckProblem> problems;
  // check(opts) only: opts.progress asked to stop before every index page
  // was checked; the counts and problems are those of the part checked.
  bool stopped = false;
  bool clean() const { return problems.empty(); }
};

// How far a check() has come, for CheckOptions::progress.
struct CheckProgress {
  uint64_t index_pages_checked = 0;
  uint64_t index_pages_total = 0;  // index pages in the image when the check started
  uint64_t records_checked = 0;
  uint64_t blocks_checked = 0;
  uint64_t bytes_read = 0;         // record bytes read from the image so far
  uint64_t problems = 0;
};

struct CheckOptions {
  // Called on the checking thread after every record read and after every
  // index page, holding no lock of the store: it may sleep to pace a check
  // that runs beside live requests. Returning false stops the check, which
  // then returns what it found so far with CheckReport::stopped set.
  std::function<bool(const CheckProgress&)> progress;
  // Called on the checking thread with each problem as it is found (it is
  // also in the report), holding no lock of the store.
  std::function<void(const CheckProblem&)> on_problem;
};

class ImageStore {
 public:
  // Creates a new, empty image at `path`. Refuses an existing file unless
  // opts.force. On failure nothing is left at `path` that was not there.
  // An existing file is replaced only if no process holds its image lock
  // (vblk(5), LOCKING); otherwise Busy names the holder. The old file stays
  // locked until the new one has its name.
  static Status create(const std::string& path, const FormatOptions& opts);
  // As create, then opens the new image with `open` on the same locked file
  // descriptor, so no other process can open it first. If the open fails,
  // the new file is removed.
  static Result<std::unique_ptr<ImageStore>> create_and_open(const std::string& path, const FormatOptions& format,
                                                             const OpenOptions& open);
  // Opens and recovers an image. Errors name `path` and the cause.
  static Result<std::unique_ptr<ImageStore>> open(const std::string& path, const OpenOptions& opts);

  ImageStore(const ImageStore&) = delete;
  ImageStore& operator=(const ImageStore&) = delete;
  virtual ~ImageStore() = default;

  virtual ImageInfo info() = 0;
  virtual uint32_t block_size() const = 0;
  virtual uint64_t block_count() const = 0;

  // Same contracts as BlockDevice.
  virtual Status read_blocks(uint64_t first, uint64_t count, std::span<uint8_t> out) = 0;
  virtual Status write_blocks(uint64_t first, std::span<const uint8_t> data) = 0;
  virtual Status trim_blocks(uint64_t first, uint64_t count) = 0;
  virtual Status set_bad(uint64_t first, uint64_t count, bool bad) = 0;
  // fdatasync of the log (plus a checkpoint when one is due).
  virtual Status flush() = 0;
  // Forces a checkpoint (flush + index written + slot switched).
  virtual Status checkpoint() = 0;
  virtual Result<BlockState> state(uint64_t block) = 0;
  virtual Status state_runs(uint64_t first, uint64_t count, const StateRunFn& fn) = 0;
  virtual DeviceStats stats() = 0;
  virtual Result<BlockLocation> locate(uint64_t block) = 0;
  // Whether `block` is USED and stored without payload (all zeros): what
  // locate() says in its `zero`, without reading the record header, so
  // block status over a whole device stays cheap.
  virtual Result<bool> stored_zero(uint64_t block) = 0;
  // Ranges of BAD blocks, ascending.
  virtual std::vector<std::pair<uint64_t, uint64_t>> bad_ranges() = 0;
  // Verifies every structure and every live record's checksums.
  Result<CheckReport> check() { return check(CheckOptions{}); }
  // The same, reporting progress to opts.progress, which may pace or stop
  // it. Safe beside reads, writes and the maintenance thread: a block moved
  // while it is checked is judged where it lives now.
  virtual Result<CheckReport> check(const CheckOptions& opts) = 0;
  // On an image opened with OpenOptions::repair: every damaged block that
  // still reads is rewritten, every other one becomes BAD; then a
  // checkpoint makes the rebuilt structures durable. Fails with
  // InvalidArgument on an image not opened for repair.
  virtual Result<RepairReport> repair() = 0;
  // Flips one stored payload byte of the record holding `block` (test and
  // fault-injection aid), in the part a read of the block checks; a block
  // whose record already fails its check is left as it is (flipping again
  // could undo the damage). Fails if the block has no stored payload.
  virtual Status corrupt_block(uint64_t block) = 0;
  // Simulates a power failure of a disk with a volatile write cache: every
  // record not yet made durable by flush() or a checkpoint is cut off the
  // log (durably: replay now ends before the first of them), and every later
  // read, write, trim, flush and fault change fails with PoweredOff until
  // power_on() or a reopen. Reads already under way may still complete.
  // Fails with ReadOnly on a read-only image.
  virtual Result<PowerCutReport> power_cut() = 0;
  // Ends a power cut: rebuilds the in-memory state from the file exactly as
  // an open does (checkpoint + replay), then checkpoints. InvalidArgument
  // when the device is not powered off.
  virtual Status power_on() = 0;
  // Deferred compression (OpenOptions::defer_compression): recompresses
  // every provisional record at the image's level now, on the calling
  // thread, whether or not the store is idle, and checkpoints so that the
  // space they held is given back to the host. The maintenance thread does
  // the same a segment at a time once the store is idle. Nothing to do on
  // an image that does not defer.
  virtual Status recompress() = 0;
  // Deferred compression: bytes of the provisional records in the segments
  // in use that a block still reads from, which a writer that defers will
  // recompress (a writer's running count also holds those it wrote and
  // that were overwritten since, until the pass); 0 on
  // an image without the deferred_compression feature. The first call
  // after an open reads the header of every record in use (read-only opens
  // too), unless the maintenance thread already has.
  virtual Result<uint64_t> provisional_bytes() = 0;
  // Changes the capacity to new_block_count blocks (vblk(5), CAPACITY): the
  // blocks kept keep their data and state, new ones are FREE, and the
  // change is durable when it returns (a checkpoint carries it: a crash
  // leaves the old capacity or the new one). Shrinking fails with
  // InvalidArgument, naming the first USED block at or beyond the new end
  // and how many there are, unless `discard`: they are then dropped (FREE
  // when the disk grows back), and BAD marks beyond the end with them.
  // NotSupported on an image without the resizable feature;
  // InvalidArgument for a capacity the format does not allow. When the
  // checkpoint of a shrink fails the store refuses writes until reopened
  // (it has dropped blocks the file still holds); a grow that fails leaves
  // the capacity as it was.
  virtual Result<ResizeReport> resize(uint64_t new_block_count, bool discard) = 0;
  // The member files of a member set (vblk(5), MEMBER SETS: failing,
  // restoring, rebuilding and reporting members while the image is
  // served); null for a single-file image. Lives as long as the store.
  virtual store::MemberBackend* member_backend() { return nullptr; }
  // Checkpoints (when writable) and releases the lock. Called by the
  // destructor if not called explicitly; errors are then only logged.
  virtual Status close() = 0;

 protected:
  ImageStore() = default;
};

}  // namespace vblk
