#pragma once
// LogWriter: the log head and what was appended behind it. It lays records
// out at the head (a segment header first when a record opens a segment),
// writes them through the segment backend, and keeps what the store must
// know about records not yet durable: the list a power cut drops, the
// records the next FLUSH record describes, and how much log the next
// checkpoint covers. No lock of its own: StoreImpl holds mu_ around every
// call. Group commit (group_commit.cc) places several records back to back
// and writes them with one write().

#include <array>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <vector>

#include "format/flush_record.h"
#include "format/format.h"
#include "format/unit_table.h"
#include "store/segment_backend.h"
#include "store/segment_table.h"
#include "vblk/status.h"

namespace vblk::store {

// A record ready to append: header fields (seq/generation filled by append)
// plus its payload.
struct PendingRecord {
  format::RecordHeader header;
  std::vector<uint8_t> payload;
  // When set, the payload is these bytes of the caller instead of
  // `payload`: raw data of a write_blocks() call, which waits until its
  // records are in the file, is written from where it lies, not copied.
  std::optional<std::span<const uint8_t>> borrowed;
  std::span<const uint8_t> bytes() const { return borrowed ? *borrowed : std::span<const uint8_t>(payload); }
  // header.payload_hash already holds the payload's hash (computed before
  // mu_ is taken, where it costs no other writer anything).
  bool hashed = false;
  // Not the first record of its write_blocks() or trim_blocks() call: a
  // power cut's report counts the calls it dropped, not their records.
  bool continues_call = false;
  // The cleaner's copy of blocks that also lie where it copied them from: a
  // power cut that drops it loses nothing a write put there, so its report
  // counts the record but neither a write nor blocks.
  bool moved = false;
};

// Where the log head stands (or would, after records not yet committed).
struct HeadPosition {
  uint64_t seg = format::kNoSegment;
  uint32_t fill = 0;
  uint64_t seq = 0;  // of the next record
};

// A record laid out at the head: its bytes before the payload and where
// they go. Nothing in the store has changed yet.
struct PlacedRecord {
  uint64_t write_at = 0;  // first byte written: the segment header when new_segment
  uint64_t offset = 0;    // of the record header
  uint64_t seg = 0;
  uint32_t total = 0;     // record length
  uint32_t end_fill = 0;  // the segment's fill after it
  bool new_segment = false;
  std::array<uint8_t, format::kSegmentHeaderSize + format::kRecordHeaderSize> head{};
  size_t head_len = 0;
};

// A record appended but not yet known durable.
struct UnsyncedRecord {
  uint64_t seq = 0;
  uint64_t offset = 0;          // of the record header
  uint32_t blocks = 0;          // blocks written or trimmed (0: PAGE, META, BAD_*, moved by the cleaner)
  bool continues_call = false;  // PendingRecord::continues_call
};

class LogWriter {
 public:
  LogWriter(SegmentBackend& backend, const format::Superblock& sb, bool flush_records)
      : backend_(backend), sb_(sb), flush_records_(flush_records) {}

  // ---- where the head stands ----
  const HeadPosition& head() const { return head_; }
  uint64_t head_segment() const { return head_.seg; }
  uint64_t next_seq() const { return head_.seq; }
  // The allocation number of the head segment (its segment header's).
  uint64_t alloc_seq() const { return alloc_seq_; }
  // Where a checkpoint left it.
  void start_at(const HeadPosition& head, uint64_t alloc_seq);
  // Replay went into seg (the table has opened it).
  void replayed_into(uint64_t seg);
  // Replay applied records up to last_seq, ending at end_fill of the head
  // segment; log_bytes of log went by.
  void replayed_up_to(uint32_t end_fill, uint64_t last_seq, uint64_t log_bytes);
  // As constructed (a power cut rebuilds everything).
  void reset();

  // ---- appending ----
  // Lays rec out for a head standing at `at` and fills in its header (seq,
  // generation, lengths, hash); a record that opens a segment takes
  // next_segment. Nothing changes yet.
  Result<PlacedRecord> place(PendingRecord& rec, const HeadPosition& at, uint64_t generation,
                             uint64_t next_segment) const;
  // Adds the record's bytes (head, payload, padding) to *parts.
  static void append_parts(const PendingRecord& rec, const PlacedRecord& p,
                           std::vector<std::span<const uint8_t>>* parts);
  // Writes the parts of records placed back to back from `first`, sealing
  // the head segment when `first` opens the next one.
  Status write(const PlacedRecord& first, std::span<const std::span<const uint8_t>> parts);
  // After a failed write() of records first..last: their bytes must not
  // survive (one of them could line up behind the next records written
  // there and be replayed).
  Status discard(const PlacedRecord& first, const PlacedRecord& last);
  // Once a placed record's bytes are written: opens its segment in the
  // table if it opened one, and moves the head past it.
  void commit(const PendingRecord& rec, const PlacedRecord& p, SegmentTable& segments);
  // place, write and commit one record; returns its offset.
  Result<uint64_t> append(PendingRecord& rec, uint64_t generation, SegmentTable& segments);

  // ---- durability ----
  // Appended, not yet known durable, oldest first: what a power cut drops.
  const std::deque<UnsyncedRecord>& unsynced() const { return unsynced_; }
  void mark_durable(uint64_t upto_seq);
  void forget_unsynced() { unsynced_.clear(); }

  // ---- since the last checkpoint ----
  uint64_t log_since_checkpoint() const { return log_since_checkpoint_; }
  bool changed_since_checkpoint() const { return changed_since_checkpoint_; }
  void note_change() { changed_since_checkpoint_ = true; }
  // A checkpoint covering everything appended is durable: replay starts
  // after it, and FLUSH records describe only what comes next.
  void checkpoint_written();

  // ---- FLUSH records (images with kFeatureFlushRecords) ----
  // The FLUSH records that claim every record up to upto_seq durable, to
  // be appended in order; none when the last claim already covers it or
  // nothing but FLUSH records came since.
  std::vector<PendingRecord> flush_records(uint64_t upto_seq) const;
  // They were appended.
  void flush_claimed(uint64_t upto_seq);

 private:
  SegmentBackend& backend_;
  const format::Superblock& sb_;
  const bool flush_records_;
  HeadPosition head_{format::kNoSegment, 0, 1};
  uint64_t alloc_seq_ = 0;
  std::deque<UnsyncedRecord> unsynced_;
  // Block records appended since the last FLUSH record or checkpoint, for
  // the next FLUSH record to describe; flush_claim_: the last claim made.
  std::vector<format::FlushDescriptor> undescribed_;
  uint64_t flush_claim_ = 0;
  // The last record that is not a FLUSH record: a flush after which only
  // FLUSH records were appended has nothing new to claim.
  uint64_t last_claimable_seq_ = 0;
  uint64_t log_since_checkpoint_ = 0;
  bool changed_since_checkpoint_ = false;
};

}  // namespace vblk::store
