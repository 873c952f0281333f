#pragma once
// MemberBackend: an image whose segments are erasure-coded over member
// files (vblk(5), MEMBER SETS; src/ec/README.md for the code). IMAGE keeps
// the header area and the member table; segment n is rows_per_segment()
// stripe rows, row r of it stripe n * rows_per_segment() + r: D data chunks
// of chunk_size() bytes holding the row's bytes in order, the local XOR
// parity of each group and the global Reed-Solomon parity (ec::Codec).
// Stripe s lies in word s mod words; each of that word's members holds its
// chunk at member_data_start + (s / words) * chunk_size.
//
// Writes. The open row (the one appends go to) lives in memory until it is
// complete; then its data and parity are written, at their place, in one go.
// sync() writes the data of the open row so far, syncs every member, then
// writes the open row's parity (zeros past its fill) to the tail slot
// (two per parity member, alternating) with the segment, row and fill, and
// syncs again. A torn tail slot leaves the other one, which covers what
// the previous sync acknowledged; every completed row's parity is durable
// before a tail slot names a later row. So every row that held synced data
// keeps the layout's full tolerance at any cut (vblk(5) gives the argument).
//
// Failures. A member whose file was missing or unreadable at open, or that
// fails a read, write or sync, is marked failed (persisted in the member
// table) and never touched again; reads of its chunks rebuild them from the
// others (its group when it is the only one missing, global parity when
// more). Rows are written without it while every row of its word can still
// be rebuilt; past that, appends and reads of lost chunks fail with IoError
// naming the failed members, never wrong bytes.
//
// Rebuilding (member_rebuild.cc; vblk(5), MEMBER SETS, Rebuild). A failed
// or stale member's chunks are rebuilt onto a free spare of its word (state
// kRebuilding, stands_for the member), or onto itself after a restore of a
// stale member whose file is back (kRebuilding in place), row by row of its
// word, in bounded steps that take the mutex for a few rows each. Rows
// [0, rebuilt_rows) are on the target: reads and writes of them go there;
// the rest are rebuilt from the others on read and left to the sweep. When
// the sweep has reached the last row in use, one persisted table change
// puts the target in the chunk position: a spare becomes kOk and the member
// it stands for kReplaced. member_of() (member_places.cc) is the one place
// where (word, chunk) -> member is worked out.
//
// Thread safety: the SegmentBackend rules. One mutex guards everything
// (the open row, the member states, the table) and is held across member
// I/O: reads of one image run one at a time. rebuild() may run on a thread
// of its own beside them.

#include <algorithm>
#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ec/codec.h"
#include "ec/layout.h"
#include "format/member_set.h"
#include "io/file.h"
#include "store/segment_backend.h"
#include "util/mutex.h"

namespace vblk::store {

// The chunk size of new member sets. 64 KiB: a 4 KiB block read touches one
// data member (two when a record straddles a chunk edge) and a record of up
// to 128 KiB at most three; a chunk is a large sequential I/O on each
// member; and the open row (D chunks) and each sync's tail slot write (one
// chunk per parity member) stay small.
inline constexpr uint32_t kDefaultChunkSize = 64u << 10;

// 64-byte-aligned bytes (the codec's buffers).
class AlignedBytes {
 public:
  AlignedBytes() = default;
  explicit AlignedBytes(size_t n);
  uint8_t* data() { return p_.get(); }
  const uint8_t* data() const { return p_.get(); }
  size_t size() const { return n_; }
  std::span<uint8_t> span() { return {p_.get(), n_}; }
  std::span<const uint8_t> span() const { return {p_.get(), n_}; }

 private:
  struct Free {
    void operator()(uint8_t* p) const;
  };
  std::unique_ptr<uint8_t[], Free> p_;
  size_t n_ = 0;
};

class MemberBackend final : public SegmentBackend {
 public:
  // image: IMAGE; table: the member table in force, kept in copy
  // table_slot; files: by member index, nullptr for a member that could not
  // be opened (causes[i] says why: it is marked failed). read_only: states
  // change in memory only.
  static Result<std::unique_ptr<MemberBackend>> make(std::unique_ptr<io::File> image, format::MemberTable table,
                                                     int table_slot, std::vector<std::unique_ptr<io::File>> files,
                                                     std::vector<std::string> causes, bool read_only);

  const std::string& name() const override { return image_->name(); }
  Result<size_t> read_header(uint64_t offset, std::span<uint8_t> out) override;
  Status write_header(uint64_t offset, std::span<const uint8_t> data) override;
  void set_geometry(const format::Superblock& sb) override;
  Result<size_t> read(uint64_t seg, uint32_t pos, std::span<const std::span<uint8_t>> parts) override;
  Status append(uint64_t seg, uint32_t pos, std::span<const std::span<const uint8_t>> parts) override;
  void seal(uint64_t seg) override;
  Status overwrite(uint64_t seg, uint32_t pos, std::span<const uint8_t> data) override;
  Status discard(uint64_t seg, uint32_t pos, uint32_t length) override;
  Status release(uint64_t seg) override;
  // Waits for the members' syncs without holding mu_ (member_sync.cc).
  Status sync() override EXCLUDES(mu_, sync_mu_);
  Result<uint64_t> end_of_data() override;
  Result<BackendSpace> space() override;
  // member_heal.cc: the data chunks the record touches rebuilt from parity,
  // one at a time, then two at a time (within what the code can rebuild),
  // until `check` passes; the chunk that was wrong is written again on its
  // member (not on a read-only image), and the member's `errors` rises.
  Status heal(uint64_t seg, uint32_t pos, std::span<uint8_t> out, const RecordCheck& check) override;

  // ---- inspecting (member_inspect.cc; vblk-inspect --members, --member) ----
  struct MemberInfo {
    format::MemberEntry entry;        // as the member table has it now
    bool open = false;                // its file could be opened
    uint64_t bytes = 0;               // its file's size
    std::array<uint8_t, 4> first_bytes{};  // of its data area (member_data_start)
  };
  std::vector<MemberInfo> member_info() const;
  // The layout record of the member table (ec::decode_layout reads it).
  std::array<uint8_t, format::kLayoutBytes> layout_record() const;
  // Reads member m's file as it is (headers, tail slots, chunks); fewer
  // bytes past its end. InvalidArgument for no such member or one whose
  // file could not be opened.
  Result<size_t> read_member_file(uint32_t m, uint64_t offset, std::span<uint8_t> out) const;

  // ---- parity (member_parity.cc; vblk-inspect --check) ----
  // A parity chunk that is not what the row's data gives.
  struct ParityMismatch {
    uint64_t segment = 0;
    uint32_t row = 0;
    uint64_t stripe = 0;
    uint32_t chunk = 0;    // its position in the stripe (D + group, D + L + p)
    uint32_t member = 0;
    uint64_t offset = 0;   // in the member file
    bool tail = false;     // the tail slot's parity of the row written in part
    bool rewritten = false;
  };
  struct ParityReport {
    uint64_t rows_checked = 0;
    std::vector<ParityMismatch> mismatches;
    std::vector<std::string> unreadable;  // rows whose data could not be read
  };
  // Recomputes every stripe row's parity from its data and compares it with
  // the parity members (the row the tail slots cover: with its tail slot,
  // the data past its fill counted as zeros). rewrite: a completed row's
  // parity that differs is written again from the data (not the tail slot,
  // which the next sync writes again; not on a read-only image).
  Result<ParityReport> check_parity(bool rewrite);

  // ---- members (tests, the injector) ----
  // Marks member m failed (persisted): it is read and written no more.
  Status fail_member(uint32_t m);
  // Brings a failed member back, when its file is still open and no row
  // was written without it (state kFailed, not kStale); InvalidArgument
  // otherwise, naming the member.
  Status restore_member(uint32_t m);
  Status fail_box(uint32_t box);
  Status restore_box(uint32_t box);
  std::vector<format::MemberState> member_states() const;
  // The member table as it is now (a copy).
  format::MemberTable member_table() const;

  // ---- rebuilding (member_rebuild.cc) ----
  // Why a rebuild did not run.
  enum class RebuildRefusal : uint8_t {
    kNone = 0,
    kNothingToRebuild,  // every chunk position is held by a member that is ok
    kNoFreeSpare,       // a failed member's word has no spare left
    kLost,              // its group lost more than the parity can rebuild
  };
  struct RebuildProgress {
    uint32_t member = 0;  // whose chunks are rebuilt (itself in place)
    uint32_t onto = 0;    // the member they are written to
    uint64_t rows_done = 0;
    uint64_t rows_total = 0;  // rows of the word in use now (may grow)
  };
  struct RebuildReport {
    uint32_t member = 0;
    uint32_t onto = 0;
    uint32_t word = 0;
    uint32_t chunk = 0;  // the chunk position
    bool in_place = false;
    uint64_t resumed_from = 0;  // the rows already done when this run began
    std::vector<uint32_t> read_from;  // the members read, ascending
    uint64_t rows = 0;                // rows rebuilt by this run
    uint64_t bytes_read = 0;
    uint64_t bytes_written = 0;
    double seconds = 0;
    format::MemberState member_state = format::MemberState::kOk;  // the rebuilt member's, after
  };
  struct RebuildOutcome {
    std::vector<RebuildReport> rebuilt;
    // The members that could not be rebuilt and why (one line each), and
    // the refusal of the first of them; kNone when there are none.
    std::vector<std::string> refused;
    RebuildRefusal refusal = RebuildRefusal::kNone;
    bool stopped = false;  // the progress callback asked to stop
  };
  // Rebuilds every failed or stale member that can be: those rebuilding
  // already resume from rebuilt_rows, the others each take a free spare of
  // their word. `progress` is called between steps without the mutex held;
  // false stops (the rebuild resumes later from what was persisted). A
  // refused member is in the outcome, not an error; errors are I/O
  // failures of the target or the table (the target is then failed).
  // Busy when a rebuild of this backend is already running.
  Result<RebuildOutcome> rebuild(const std::function<bool(const RebuildProgress&)>& progress = {});
  // Whether rebuild() would find work: a member rebuilding, or a failed
  // one with a free spare in its word (the daemon's auto-rebuild asks).
  bool rebuild_due() const;
  bool rebuild_running() const { return rebuild_running_.load(); }
  // Rows per step under the mutex, and per persisted progress.
  static constexpr uint32_t kRebuildStepRows = 16;
  static constexpr uint32_t kRebuildPersistRows = 256;
  // Other sizes (tests: more steps and persisted progress on small images).
  void set_rebuild_steps(uint32_t step_rows, uint32_t persist_rows) {
    step_rows_ = std::max(1u, step_rows);
    persist_rows_ = std::max(1u, persist_rows);
  }
  const ec::Layout& layout() const { return codec_.layout(); }
  uint32_t chunk_size() const { return chunk_; }
  uint32_t rows_per_segment() const { return rows_per_seg_; }

 private:
  struct OpenRow {
    bool active = false;
    uint64_t seg = 0;
    uint32_t row = 0;
    uint32_t fill = 0;        // bytes of the row the store has appended (or resumed)
    uint32_t dirty_from = 0;  // [dirty_from, dirty_to): not yet on the data members
    uint32_t dirty_to = 0;
    AlignedBytes buf;         // the row's D chunks back to back
  };
  // The tail slot in force as found at open: the parity of a row written
  // only in part when the image was last synced.
  struct Tail {
    bool valid = false;
    uint64_t seg = 0;
    uint32_t row = 0;
    uint32_t fill = 0;
    std::vector<AlignedBytes> parity;  // by parity index (chunk - D); empty where that member has none
  };
  // A tail slot's contents made by a sync from the open row as it was,
  // written once that much of the row is durable.
  struct PreparedTail {
    bool open = false;  // a row is open, its parity below; else the slots say none is
    uint64_t seg = 0;
    uint32_t row = 0;
    uint32_t fill = 0;
    uint64_t stripe = 0;
    std::vector<AlignedBytes> parity;  // by parity index: kTailHeaderSize + chunk bytes, header filled in later
  };

  MemberBackend(std::unique_ptr<io::File> image, format::MemberTable table, int table_slot, ec::Codec codec,
                std::vector<std::unique_ptr<io::File>> files, bool read_only);

  uint32_t data_members() const { return codec_.layout().data_members(); }
  uint32_t row_bytes() const { return data_members() * chunk_; }
  // Bytes of the row that lie inside the segment.
  uint32_t row_end(uint32_t row) const;
  uint64_t stripe_of(uint64_t seg, uint32_t row) const { return seg * rows_per_seg_ + row; }
  uint64_t chunk_offset(uint64_t stripe) const;
  // member_places.cc: where chunks are. The member holding chunk `chunk`
  // of stripe `stripe` for reads and writes; kNoMember (never live) for a
  // row not yet rebuilt of a member rebuilt in place.
  uint32_t member_of(uint64_t stripe, uint32_t chunk) const REQUIRES(mu_);
  // Read and written: ok, or rebuilding (its rows [0, rebuilt_rows)).
  bool live(uint32_t m) const REQUIRES(mu_) {
    return m < table_.members.size() && (table_.members[m].state == format::MemberState::kOk ||
                                         table_.members[m].state == format::MemberState::kRebuilding);
  }
  // Who holds each chunk position (by the layout member of the position):
  // the member in it (following replaced members to the spares that took
  // their place), and the member a rebuild writes it to (kNoMember: none).
  struct Place {
    uint32_t holder = format::kNoMember;
    uint32_t target = format::kNoMember;
  };
  // Recomputes places_ from the table: after every change of a state or a
  // stands_for.
  void remap() REQUIRES(mu_);
  // The layout member whose chunk position m holds or is rebuilt for;
  // kNoMember for a spare standing for no one.
  uint32_t position_of(uint32_t m) const REQUIRES(mu_);
  // The members the tail slots of chunk position `chunk` of word w go to.
  std::vector<uint32_t> tail_members(uint32_t word, uint32_t chunk) const REQUIRES(mu_);
  // Stripe rows of word w in segments [0, end_segments_).
  uint64_t rows_in_use(uint32_t word) const REQUIRES(mu_);

  // member_heal.cc: one data chunk a record touches: where in the record
  // and in the chunk.
  struct HealPiece {
    uint32_t row = 0;
    uint32_t chunk = 0;     // data chunk position in the row's stripe
    size_t at = 0;          // offset in the record
    uint32_t in_chunk = 0;  // offset in the chunk
    uint32_t length = 0;
  };
  Status gather_heal_pieces(uint64_t seg, uint32_t pos, std::span<uint8_t> base, std::vector<HealPiece>& pieces)
      REQUIRES(mu_);
  Status write_back_healed(uint64_t seg, const HealPiece& pc, const AlignedBytes& chunk) REQUIRES(mu_);

  // member_rows.cc: reading and rebuilding.
  Status read_row_range(uint64_t seg, uint32_t row, uint32_t from, std::span<uint8_t> out) REQUIRES(mu_);
  Status read_data_chunk(uint64_t seg, uint32_t row, uint32_t chunk, uint32_t off, std::span<uint8_t> out)
      REQUIRES(mu_);
  Status rebuild_chunk(uint64_t seg, uint32_t row, uint32_t chunk, std::span<uint8_t> out) REQUIRES(mu_);
  // The chunks at positions `wanted` rebuilt from the rest of the stripe,
  // none of them read even where its member is live.
  Status rebuild_chunks(uint64_t seg, uint32_t row, std::span<const uint32_t> wanted,
                        std::span<const std::span<uint8_t>> outs) REQUIRES(mu_);
  // A read past the end of member m's file: zeros where nothing was
  // written, an IoError where the file was cut short (m stays live): it
  // ends before `written` bytes (known written), or cut_short says so.
  Status read_member(uint32_t m, uint64_t offset, std::span<uint8_t> out, size_t written = 0) REQUIRES(mu_);
  bool cut_short(uint32_t m, uint64_t offset) REQUIRES(mu_);
  // Of the n bytes of row (seg, row) from `at`, those the tail slots in
  // force say are on the data members.
  size_t tail_written(uint64_t seg, uint32_t row, uint64_t at, size_t n) const REQUIRES(mu_);
  // IoError naming the failed members of the lost groups of the stripe's word.
  Status lost(uint32_t word, const std::string& where) const REQUIRES(mu_);
  // "1", or "1 (on spare 7)" when a spare holds that position.
  std::string position_label(uint32_t position) const REQUIRES(mu_);
  // Ok while every row of the word can be rebuilt.
  Status word_writable(uint32_t word) const REQUIRES(mu_);
  uint32_t word_of(uint64_t stripe) const { return codec_.layout().word_of_stripe(stripe); }

  // member_backend.cc: writing.
  Status start_row(uint64_t seg, uint32_t row, uint32_t at) REQUIRES(mu_);
  Status resume_tail_row() REQUIRES(mu_);
  Status complete_row() REQUIRES(mu_);
  Status write_dirty() REQUIRES(mu_);
  Status write_parity_chunks(uint64_t stripe, std::span<const uint8_t> row) REQUIRES(mu_);
  Status write_member(uint32_t m, uint64_t offset, std::span<const uint8_t> data) REQUIRES(mu_);

  // member_sync.cc: syncing.
  Result<PreparedTail> prepare_tail() REQUIRES(mu_);
  Status put_tail(PreparedTail& tail) REQUIRES(mu_);
  std::vector<uint32_t> members_to_sync(bool parity_only) const REQUIRES(mu_);
  // fdatasync of each member; the failures, for after_sync_files.
  std::vector<std::pair<uint32_t, Status>> sync_files(const std::vector<uint32_t>& members);
  Status after_sync_files(const std::vector<std::pair<uint32_t, Status>>& failed) REQUIRES(mu_);
  Status sync_members(bool parity_only) REQUIRES(mu_);
  Status load_tail() REQUIRES(mu_);
  Status patch_row(uint64_t seg, uint32_t row, uint32_t at, std::span<const uint8_t> data) REQUIRES(mu_);

  // member_rebuild.cc.
  Status sync_locked() REQUIRES(mu_);
  Result<std::vector<uint32_t>> start_rebuilds(RebuildOutcome& outcome) REQUIRES(mu_);
  // Up to step_rows_ rows onto `target`; true once it took its place.
  Result<bool> rebuild_step(uint32_t target, RebuildReport& report, uint64_t& persisted) EXCLUDES(mu_);
  // Row `row` of base's word rebuilt into `out` and written to the target;
  // word_end: where the files of the word's other members end.
  Status rebuild_row(uint32_t target, uint32_t base, uint64_t row, uint64_t word_end, AlignedBytes& out,
                     RebuildReport& report) REQUIRES(mu_);
  Status finish_rebuild(uint32_t target, RebuildReport& report) REQUIRES(mu_);

  // member_states.cc: failing, restoring, the table.
  void mark_failed(uint32_t m, const std::string& cause) REQUIRES(mu_);
  void mark_skipped(uint32_t m) REQUIRES(mu_);
  Status persist_table() REQUIRES(mu_);
  std::vector<uint32_t> failed_members() const REQUIRES(mu_);

  std::unique_ptr<io::File> image_;
  const ec::Codec codec_;
  const uint32_t chunk_;
  const uint64_t member_data_start_;
  std::vector<std::unique_ptr<io::File>> files_;
  const bool read_only_;

  uint64_t data_start_ = 0;  // set_geometry, before any segment call
  uint32_t segment_size_ = 0;
  uint32_t rows_per_seg_ = 1;

  Mutex sync_mu_ ACQUIRED_BEFORE(mu_);  // one sync() at a time
  mutable Mutex mu_;
  format::MemberTable table_ GUARDED_BY(mu_);
  int table_slot_ GUARDED_BY(mu_);
  OpenRow open_ GUARDED_BY(mu_);
  Tail tail_ GUARDED_BY(mu_);
  uint64_t tail_seq_ GUARDED_BY(mu_) = 0;
  bool tail_due_ GUARDED_BY(mu_) = false;  // the tail slots do not describe the open row as it is
  Status deferred_ GUARDED_BY(mu_);        // a failure of seal(), reported by the next append or sync
  uint64_t end_segments_ GUARDED_BY(mu_) = 0;  // segments [0, end) may hold data
  std::set<uint32_t> cut_reported_ GUARDED_BY(mu_);  // members whose files were found cut short
  std::vector<Place> places_ GUARDED_BY(mu_);    // by layout member; spares' entries unused
  std::atomic<bool> rebuild_running_{false};
  std::atomic<uint32_t> step_rows_{kRebuildStepRows};
  std::atomic<uint32_t> persist_rows_{kRebuildPersistRows};
};

}  // namespace vblk::store
