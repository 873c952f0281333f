#pragma once
// StoreImpl: the log-structured image store behind ImageStore.
//
// The design (log, index, checkpoints, allocation, reads, writers,
// maintenance, power cut) and the lock order are in src/store/README.md;
// the normative format is man/vblk.5.

#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <condition_variable>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "format/checkpoint_meta.h"
#include "format/format.h"
#include "format/flush_record.h"
#include "store/bad_set.h"
#include "store/compression.h"
#include "store/group_commit.h"
#include "store/idle_clock.h"
#include "store/log_writer.h"
#include "store/meta_chain.h"
#include "store/page_index.h"
#include "store/policy.h"
#include "store/raw_buffer.h"
#include "store/record_reader.h"
#include "store/segment_backend.h"
#include "store/segment_table.h"
#include "util/mutex.h"
#include "vblk/image_store.h"

namespace vblk::store {

class StoreImpl final : public ImageStore {
 public:
  StoreImpl(std::unique_ptr<SegmentBackend> backend, const format::Superblock& sb, const OpenOptions& opts);
  ~StoreImpl() override;

  // Loads the newest valid checkpoint and replays the log after it (at
  // open, before any other thread can reach the store).
  Status recover_at_open() EXCLUDES(mu_) {
    MutexLock lock(mu_);
    return recover();
  }
  // After a failed recover(): the store writes nothing more, not even at close.
  void discard() EXCLUDES(mu_) {
    MutexLock lock(mu_);
    closed_ = true;
  }

  ImageInfo info() override;
  MemberBackend* member_backend() override;
  uint32_t block_size() const override { return sb_.block_size; }
  uint64_t block_count() const override { return block_count_.load(std::memory_order_acquire); }
  Status read_blocks(uint64_t first, uint64_t count, std::span<uint8_t> out) override;
  Status write_blocks(uint64_t first, std::span<const uint8_t> data) override;
  Status trim_blocks(uint64_t first, uint64_t count) override;
  Status set_bad(uint64_t first, uint64_t count, bool bad) override;
  Status flush() override;
  Status checkpoint() override;
  Result<BlockState> state(uint64_t block) override;
  Status state_runs(uint64_t first, uint64_t count, const StateRunFn& fn) override;
  DeviceStats stats() override;
  Result<BlockLocation> locate(uint64_t block) override;
  Result<bool> stored_zero(uint64_t block) override;
  std::vector<std::pair<uint64_t, uint64_t>> bad_ranges() override;
  using ImageStore::check;
  Result<CheckReport> check(const CheckOptions& opts) override;
  Result<RepairReport> repair() override;
  Status corrupt_block(uint64_t block) override;
  Result<PowerCutReport> power_cut() override;
  Status power_on() override;
  Status recompress() override;
  Result<uint64_t> provisional_bytes() override;
  Result<ResizeReport> resize(uint64_t new_block_count, bool discard) override;
  Status close() override;

 private:
  // ---- index (index.cc); all REQUIRE mu_ held ----
  uint64_t page_of(uint64_t block) const { return block / sb_.entries_per_page; }
  uint32_t slot_of(uint64_t block) const { return static_cast<uint32_t>(block % sb_.entries_per_page); }
  // Returns the page, loading it; nullptr when absent and !create (all FREE).
  Result<Page*> get_page(uint64_t page_no, bool create) REQUIRES(mu_);
  // PageIndex's loader: load_page_entries, and in repair mode rebuild_page
  // when that finds damage.
  Status load_page(uint64_t page_no, const PageLocation& loc, std::vector<format::IndexEntry>* entries, bool* dirty) REQUIRES(mu_);
  Result<format::IndexEntry> get_entry(uint64_t block) REQUIRES(mu_);
  // Replaces an entry, keeping counters and segment live bytes right.
  Status set_entry(uint64_t block, const format::IndexEntry& e) REQUIRES(mu_);
  void account_entry(const format::IndexEntry& e, int sign) REQUIRES(mu_);
  void evict_pages() REQUIRES(mu_) { index_.evict(); }
  // Forgets index page page_no, stored or in memory (a shrink: all its
  // entries are FREE already), and the space its PAGE record held.
  void drop_page_locked(uint64_t page_no) REQUIRES(mu_);
  BlockState effective_state(uint64_t block, const format::IndexEntry& e) const REQUIRES(mu_);
  // Pages in [first_page, last_page] that exist, stored or in memory,
  // ascending. Work follows the pages that exist, never the range's size.
  std::vector<uint64_t> present_pages(uint64_t first_page, uint64_t last_page) const REQUIRES(mu_) {
    return index_.present(first_page, last_page);
  }
  // During replay: fails when setting `entries` more entries could grow the
  // index in memory beyond what any writer leaves to replay (a hostile
  // record must not make the open allocate without bound).
  Status check_replay_growth(uint64_t entries) const REQUIRES(mu_);
  Status check_range(uint64_t first, uint64_t count) const;

  // ---- records (record_io.cc) ----
  // Appends one record at the head (allocating segments); REQUIRES mu_.
  Result<uint64_t> append_record(PendingRecord& rec) REQUIRES(mu_);
  // append_record, then apply_record at the offset it got; REQUIRES mu_.
  Status append_and_apply(PendingRecord& rec) REQUIRES(mu_);
  // Applies a record's effect on the index/bad list; REQUIRES mu_.
  Status apply_record(const format::RecordHeader& h, uint64_t offset) REQUIRES(mu_);
  uint64_t segment_of(uint64_t offset) const { return reader_.segment_of(offset); }
  uint64_t segment_start(uint64_t seg) const { return reader_.segment_start(seg); }
  bool is_damage_sentinel(uint64_t record_offset) const { return reader_.is_damage_sentinel(record_offset); }
  // The file offset of a payload byte whose damage makes reads of the block
  // that e describes fail their checksum.
  Result<uint64_t> corruption_target(const format::IndexEntry& e);
  // Appends and applies TRIM/BAD_SET/BAD_CLEAR records for a range; REQUIRES mu_.
  Status append_range_records(format::RecordType type, uint64_t first, uint64_t count) REQUIRES(mu_);
  // Builds DATA/ZERO records for a run of blocks (no lock).
  // At `level`: the image's (level_), or write_level_ for a writer, whose
  // records may then come out provisional. exact_level: compress at `level`
  // itself, not the faster level compress_payload may pick.
  std::vector<PendingRecord> build_data_records(uint64_t first, std::span<const uint8_t> data, int level,
                                                bool exact_level = false);

  // ---- recovery (recovery.cc) ----
  // Loads the newest valid checkpoint and replays the log after it.
  Status recover() REQUIRES(mu_);
  Status load_checkpoint(const format::Checkpoint& cp) REQUIRES(mu_);
  // The counters, page directory, segment table and bad list of `m`.
  void load_meta_locked(const format::CheckpointMeta& m) REQUIRES(mu_);
  // The chain in force (links newest first, the newest of `generation`):
  // its records kept, the newest's counted into the segment table.
  Status load_chain_locked(const std::vector<MetaLink>& links, uint64_t generation) REQUIRES(mu_);
  // What the metadata of this image must agree with (format/checkpoint_meta.h).
  format::MetaBounds meta_bounds(uint64_t file_size, uint64_t segment_count) const;
  // Reads and checks the metadata at `at` of the checkpoint of `generation`
  // (its META records carry generation - 1). No lock needed.
  Result<MetaLink> read_meta_link(const format::MetaLocation& at, uint64_t generation,
                                  const format::MetaBounds& bounds);
  // The chain the metadata at `at` needs, newest first, down to its FULL
  // base: each DELTA names the metadata of the generation before it, one
  // depth less. No lock needed.
  Result<std::vector<MetaLink>> read_meta_chain(const format::MetaLocation& at, uint64_t generation,
                                                const format::MetaBounds& bounds);
  // The chain folded into the metadata a FULL checkpoint would hold.
  static Result<format::CheckpointMeta> fold_meta_chain(const std::vector<MetaLink>& links,
                                                        const format::MetaBounds& bounds);
  // check(): the chain in force reads, checks and folds as an open would
  // load it; a problem when it does not.
  std::optional<CheckProblem> verify_meta_chain() EXCLUDES(mu_);
  // ---- check (check.cc) ----
  struct CheckRun;
  // Checks the USED blocks of one index page (a copy of its entries) against
  // their records; true when the caller asked to stop.
  Result<bool> check_page_blocks(uint64_t page_no, const std::vector<format::IndexEntry>& entries, CheckRun& run)
      EXCLUDES(mu_);
  // A block whose record failed the check: where it lives now (*now) and
  // that record's verdict, or none when it has not moved.
  Result<std::optional<Status>> recheck_moved_block(uint64_t block, format::IndexEntry* now) EXCLUDES(mu_);

  // ---- replay (replay.cc); REQUIRE mu_ or an open in progress ----
  struct LogItem;
  struct LogCursor;
  Status replay() REQUIRES(mu_);
  // The walk's next item after the cursor (and moves it), or none at the
  // end of the log.
  Result<std::optional<LogItem>> walk_step(LogCursor& c) REQUIRES(mu_);
  // The record with the cursor's next seq at (seg, pos), sound or with a
  // damaged payload; none when no sound header of it is there.
  Result<std::optional<LogItem>> record_item(const LogCursor& c, uint64_t seg, uint32_t pos) REQUIRES(mu_);
  // A header at (seg, pos) that decodes, of this generation, that fits the segment.
  Result<std::optional<format::RecordHeader>> sound_header_at(uint64_t seg, uint32_t pos) REQUIRES(mu_);
  // The segment header says seg was allocated as number alloc_seq.
  Result<bool> segment_follows(uint64_t seg, uint64_t alloc_seq) REQUIRES(mu_);
  // The first position from `from` on in seg holding a header of this
  // generation with a seq above after_seq.
  Result<std::optional<uint32_t>> find_later_record(uint64_t seg, uint32_t from, uint64_t after_seq) REQUIRES(mu_);
  uint64_t next_walk_segment(const LogCursor& c) const REQUIRES(mu_);
  void enter_walk_segment(LogCursor& c, uint64_t seg) const REQUIRES(mu_);
  Status read_flush_record(const LogItem& item, uint64_t* claim,
                           std::map<uint64_t, format::FlushDescriptor>* descriptors,
                           std::map<uint64_t, uint64_t>* described) REQUIRES(mu_);
  struct ReplayState;
  // Applies one item of the walk (a record, a damaged record, a gap).
  Status apply_log_item(const LogItem& item, ReplayState& r) REQUIRES(mu_);
  // Logs what replay passed over and what it applied, once it succeeded.
  void report_replay_locked(const ReplayState& r, uint64_t cp_generation) REQUIRES(mu_);
  Status apply_damaged_record(const LogItem& item) REQUIRES(mu_);
  Status apply_gap(const LogItem& gap, const std::map<uint64_t, format::FlushDescriptor>& descriptors,
                   const std::map<uint64_t, uint64_t>& described) REQUIRES(mu_);
  // The entry of a block whose record was lost to damage: it names the start
  // of its segment (RecordReader::is_damage_sentinel).
  format::IndexEntry damage_sentinel_entry(uint64_t seg, uint32_t index, uint32_t blocks) const {
    return {segment_start(seg), format::kRecordHeaderSize + format::kRecordAlign, static_cast<uint16_t>(index),
            static_cast<uint8_t>(BlockState::kUsed), static_cast<uint8_t>(blocks - 1)};
  }

  // ---- repair (repair.cc) ----
  struct ScannedRecord {
    uint64_t offset = 0;
    format::RecordHeader h;
  };
  // Every record with a sound header in every segment of this image, by
  // seq, without those a crash left beyond the end of a log (read once).
  Result<const std::vector<ScannedRecord>*> scanned_records() REQUIRES(mu_);
  // The checkpoints whose META records are whole and sound, newest first
  // (each may still need older metadata: a DELTA's chain).
  Result<std::vector<format::Checkpoint>> checkpoints_from_meta_records() REQUIRES(mu_);
  // recover() when the checkpoint in force cannot be loaded (why); the
  // newest valid slot has newest_slot_generation (0: none).
  Status recover_from_meta_chains(const Status& why, uint64_t newest_slot_generation) REQUIRES(mu_);
  // The entries of index page page_no, whose record at `damaged` cannot be
  // read, from an older copy and the block records after it.
  Status rebuild_page(uint64_t page_no, const PageLocation& damaged, std::vector<format::IndexEntry>* entries,
                      bool* dirty) REQUIRES(mu_);
  // Decodes and checks the PAGE record at loc into *entries.
  Status load_page_entries(uint64_t page_no, const PageLocation& loc, std::vector<format::IndexEntry>* entries);

  // ---- flush records (flush()); REQUIRE mu_ ----
  // Appends the FLUSH records claiming every record up to upto_seq durable
  // (images with kFeatureFlushRecords, when the last claim was lower).
  // Returns the seq of the last one appended, 0 when none was needed.
  Result<uint64_t> append_flush_records_locked(uint64_t upto_seq) REQUIRES(mu_);

  // ---- checkpoints (checkpoint.cc) and the cleaner (cleaner.cc) ----
  // Takes a checkpoint (of generation_ + 1), which also starts the
  // generation a writable open owes (new_generation_due_).
  Status checkpoint_locked() REQUIRES(mu_);
  // The steps of checkpoint_locked() (vblk(5) CHECKPOINTS).
  Status write_checkpoint_locked() REQUIRES(mu_);
  // Step 1: every dirty index page as a PAGE record.
  Status store_dirty_pages_locked() REQUIRES(mu_);
  // Step 3: `meta` as META records; *chunks gets each one appended (also
  // those before a failure).
  Status append_meta_locked(const std::vector<uint8_t>& meta, std::vector<PageLocation>* chunks) REQUIRES(mu_);
  // Step 5: cp into the slot not in force, synced; it is then in force.
  Status write_slot_locked(const format::Checkpoint& cp) REQUIRES(mu_);
  // A writable open's new generation (vblk(5) RECOVERY, step 7) is taken
  // here, before the first record of the open is appended, not by the
  // open itself: an image opened and closed without a change is left as it
  // was, byte for byte. Called where the file is first changed: every
  // append, and a cleaning pass before it reads what it will copy.
  Status start_generation_locked() REQUIRES(mu_);
  // Syncs without mu_ first, then checkpoint_locked(). `lock` holds mu_.
  Status checkpoint_presynced() REQUIRES(mu_);
  // Cleans up to max_victims segments while live data is below
  // live_fraction, then checkpoints if due. `lock` holds mu_ on entry and
  // exit; clean_segment drops it while it reads and compresses.
  Status maintain(double live_fraction, int max_victims) REQUIRES(mu_);
  // kClean empties a segment for reuse. kRecompress does too, with its
  // provisional records recompressed at the image's level instead of moved
  // as they are stored. kRecompressHead recompresses only the provisional
  // records of the head segment (up to its fill on entry) and leaves it in
  // use. *provisional_seen (when given) adds the bytes of the provisional
  // records it went through.
  enum class CleanMode { kClean, kRecompress, kRecompressHead };
  Status clean_segment(uint64_t seg, CleanMode mode = CleanMode::kClean,
                       uint64_t* provisional_seen = nullptr) REQUIRES(mu_);
  // Copies the blocks of the DATA record at `off` that still live there to
  // the head (dropping mu_ while it reads and compresses). `lock` holds mu_.
  Status copy_live_blocks(uint64_t off, const format::RecordHeader& h,
                          bool recompress) REQUIRES(mu_);
  // copy_live_blocks's steps: the record appended as it is stored; and the
  // blocks still live (`left`) compressed again from its raw bytes.
  Status append_moved_as_stored(const format::RecordHeader& h, bool recompression_did_not_pay, PendingRecord& moved)
      REQUIRES(mu_);
  Status copy_left_blocks(const format::RecordHeader& h, const std::vector<bool>& left, const RawBuffer& raw)
      REQUIRES(mu_);
  // A power cut (or close) happened since power_epoch_ was `epoch`: state
  // read before mu_ was dropped no longer holds.
  bool interrupted_since_locked(uint64_t epoch) const REQUIRES(mu_);
  // Which blocks of the DATA record at `off` the index still points at.
  Result<std::vector<bool>> live_blocks_locked(uint64_t off, const format::RecordHeader& h) REQUIRES(mu_);
  bool cleaning_needed_locked(double live_fraction) const REQUIRES(mu_);
  std::optional<uint64_t> pick_victim_locked() const REQUIRES(mu_);
  bool checkpoint_due_locked() const REQUIRES(mu_);
  size_t clean_batch() const REQUIRES(mu_);
  // Punches the holes of released segments, dropping mu_ while it does
  // unless `unlocked` is false. With may_keep, the lowest ones join the
  // reuse pool instead, unpunched, while it has room (reuse_pool_limit()).
  void punch_released(bool unlocked, bool may_keep = true) REQUIRES(mu_);
  size_t reuse_pool_limit() const REQUIRES(mu_);
  // Punches the segments of the reuse pool, each under mu_ (free segments
  // may be allocated by any writer that holds it); while_idle, only as long
  // as the store stays idle, letting writers in between segments. `lock`
  // holds mu_.
  void punch_reuse_pool(bool while_idle) REQUIRES(mu_);
  bool reuse_pool_idle_locked() const REQUIRES(mu_);
  // The segment table entry a checkpoint records for seg.
  format::MetaSegmentEntry meta_segment_entry_locked(uint64_t seg) const REQUIRES(mu_);
  std::vector<uint8_t> encode_full_meta_locked() const REQUIRES(mu_);
  // A DELTA of the checkpoint in force: the directory entries and segments
  // taken as changed. Work: the number of changes.
  std::vector<uint8_t> encode_delta_meta_locked(const std::set<uint64_t>& pages,
                                                const std::vector<uint64_t>& segments) const REQUIRES(mu_);
  // Why the next checkpoint must be FULL rather than the DELTA of
  // delta_bytes (vblk(5) CHECKPOINTS: the rule), or nullptr when it may be
  // the DELTA. Work: the chain's META records.
  const char* full_checkpoint_reason_locked(uint64_t delta_bytes) const REQUIRES(mu_);

  // ---- deferred compression (recompress.cc); REQUIRE mu_ ----
  // There is recompression to do (or to look for) and the store is idle.
  bool recompress_due_locked() const REQUIRES(mu_);
  // Up to n segments holding the most provisional bytes that may be
  // cleaned, most first; the head alone when no other has any.
  std::vector<uint64_t> pick_provisional_locked(size_t n) const REQUIRES(mu_);
  // One step of the pass: the scan after an open, or one segment
  // recompressed, then the checkpoint and punches that release it.
  Status recompress_step() REQUIRES(mu_);
  // Counts the provisional records of every segment in use that a block
  // still reads from, from their headers (segments full at open; their
  // records predate the checkpoint).
  Status scan_provisional() REQUIRES(mu_);
  // The bytes of those of `records` (offset, header) that a block still
  // reads from.
  uint32_t live_provisional_bytes_locked(const std::vector<std::pair<uint64_t, format::RecordHeader>>& records) REQUIRES(mu_);
  uint64_t provisional_bytes_locked() const REQUIRES(mu_);

  Status check_writable() const REQUIRES(mu_);
  Status check_powered() const REQUIRES(mu_);
  // fdatasync of the image file; every sync of an open store goes through
  // here. Syncs are serialized and, once one has failed, all later ones
  // fail too: after a writeback error Linux may have dropped pages whose
  // error another sync reported, and a sync that then succeeds proves
  // nothing. Lock order: mu_ may be held when calling; sync_mu_ is inner.
  Status sync_file() EXCLUDES(sync_mu_);
  // After a sync of the image file failed: refuses writes until reopened
  // (broken_), and cuts the log at the first record not known durable
  // (power_cut.cc says why). REQUIRES: mu_ held.
  void break_after_failed_sync_locked() REQUIRES(mu_);

  // ---- group commit (group_commit.cc) ----
  // Appends and applies the records of queued write_blocks() calls as the
  // leader, in as few host writes as the segments allow; sets each
  // waiter's status. REQUIRES mu_.
  void commit_writes_locked(const std::vector<WriteWaiter*>& batch) REQUIRES(mu_);

  // ---- background maintenance (maintenance.cc) ----
 public:
  // Starts the thread that cleans and checkpoints (writable stores).
  void start_maintenance();

 private:
  // Joins the thread. REQUIRES: mu_ not held.
  void stop_maintenance() EXCLUDES(mu_);
  void maintenance_loop() EXCLUDES(mu_);
  // One turn of the loop: the reuse pool when idle, a reclaim or
  // checkpoint step, a recompression step.
  Status maintenance_turn() REQUIRES(mu_);
  // A maintenance step threw (std::bad_alloc): refuse writes from now on.
  Status maintenance_stopped_locked(const std::exception& e) REQUIRES(mu_);
  // After a write or trim: wake the thread when there is work, or do it
  // inline when the thread is off or has fallen far behind.
  void after_change() REQUIRES(mu_);
  bool maintenance_work_locked() const REQUIRES(mu_);

  // ---- durability and power cut (power_cut.cc); REQUIRE mu_ ----
  // Zeroes the header of the record at record_offset: every replay ends
  // before it.
  Status cut_log_at(uint64_t record_offset) REQUIRES(mu_);
  // What a flush does once a sync covering records up to durable_seq
  // returned `synced` (epoch: power_epoch_ when the flush began).
  Status after_flush_sync_locked(const Status& synced, uint64_t durable_seq, uint64_t epoch) REQUIRES(mu_);
  // Returns every member that recover() rebuilds to its constructed value.
  void reset_state_locked() REQUIRES(mu_);

  // Where the image's bytes live (segment_backend.h).
  std::unique_ptr<SegmentBackend> backend_;
  const format::Superblock sb_;
  const RecordReader reader_;  // reads and checks records (no lock)
  const OpenOptions opts_;
  const int level_;
  const uint32_t max_record_blocks_;
  const bool unit_tables_;  // the image has kFeatureUnitTables: DATA payloads get unit tables
  const bool independent_units_;  // the image has kFeatureIndependentUnits: their units may be independent
  const bool flush_records_;  // the image has kFeatureFlushRecords: flushes append FLUSH records
  const bool resizable_;      // the image has kFeatureResizable: the metadata carries the capacity
  const bool delta_checkpoints_;  // the image has kFeatureDeltaCheckpoints: checkpoints may be DELTAs
  // Deferred compression is on (see kDeferredWriteLevel): writers compress
  // at write_level_ = kDeferredWriteLevel, else at level_.
  const bool deferred_;
  const int write_level_;
  IdleClock idle_;  // the last request and change, for the idle rules

  Mutex mu_;
  bool closed_ GUARDED_BY(mu_) = false;
  bool broken_ GUARDED_BY(mu_) = false;                   // a write left state unknown; refuse writes
  bool replaying_ GUARDED_BY(mu_) = false;  // recover() is replaying the log
  // Everything from here to replay_notes_ is rebuilt by recover(); a new member
  // here must also be reset in reset_state_locked() (power_cut.cc).
  int slot_ GUARDED_BY(mu_) = 0;                          // slot holding the checkpoint in force
  // The capacity in force (vblk(5) CAPACITY): the superblock's, or the
  // metadata's on a resizable image. Written under mu_; read without it
  // by block_count().
  std::atomic<uint64_t> block_count_;
  // A writable open has not yet written the checkpoint that starts its
  // generation (start_generation_locked()).
  bool new_generation_due_ GUARDED_BY(mu_) = false;
  uint64_t generation_ GUARDED_BY(mu_) = 0;
  // Every segment's state and counts. The reuse pool (see kReusePoolBytes)
  // is kept there too: stale records in its segments are never replayed,
  // replay wants the next seq of the current generation.
  SegmentTable segments_ GUARDED_BY(mu_);
  // The log head, and what was appended since the last sync and checkpoint.
  LogWriter log_ GUARDED_BY(mu_);
  bool provisional_scanned_ GUARDED_BY(mu_) = false;      // scan_provisional() has run since the open
  MetaChain chain_ GUARDED_BY(mu_);  // the checkpoint in force's metadata and its chain
  PageIndex index_ GUARDED_BY(mu_);
  BadSet bad_ GUARDED_BY(mu_);
  uint64_t used_ GUARDED_BY(mu_) = 0;
  uint64_t zero_ GUARDED_BY(mu_) = 0;
  uint64_t trimmed_ GUARDED_BY(mu_) = 0;
  uint64_t stored_ GUARDED_BY(mu_) = 0;
  // Damage replay found that no read will report (records lost whose blocks
  // nobody knows); check() lists them.
  std::vector<CheckProblem> replay_problems_ GUARDED_BY(mu_);
  std::vector<std::string> replay_notes_ GUARDED_BY(mu_);  // what replay passed over, logged once it succeeded
  // Repair mode: what was rebuilt, and the segment scan it used.
  std::vector<std::string> repairs_ GUARDED_BY(mu_);
  std::vector<ScannedRecord> scan_ GUARDED_BY(mu_);
  bool scan_done_ GUARDED_BY(mu_) = false;
  // Power cut state (not rebuilt by recover()): powered_off_ refuses
  // requests; power_epoch_ changes at every cut so that a flush whose sync
  // straddled a cut does not report success for what the cut dropped.
  bool powered_off_ GUARDED_BY(mu_) = false;
  uint64_t power_epoch_ GUARDED_BY(mu_) = 0;
  Mutex sync_mu_ ACQUIRED_AFTER(mu_);
  bool sync_failed_ GUARDED_BY(sync_mu_) = false;
  // Maintenance thread; maint_cv_ waits on mu_.
  std::thread maint_thread_;
  std::condition_variable_any maint_cv_;
  bool maint_stop_ GUARDED_BY(mu_) = false;
  // write_blocks() calls in arrival order; the front one leads. Guarded by
  // queue_mu_, which is taken alone or inside mu_ (never mu_ inside it).
  Mutex queue_mu_ ACQUIRED_AFTER(mu_);
  std::deque<WriteWaiter*> write_queue_ GUARDED_BY(queue_mu_);
  // punch_released() calls punching without mu_; punches_done_ waits on mu_.
  int punches_in_flight_ GUARDED_BY(mu_) = 0;
  std::condition_variable_any punches_done_;
};

}  // namespace vblk::store
