#pragma once
// SegmentTable: the state of every segment of an image's log, and the only
// place that state changes (the transitions below). No I/O and no lock of
// its own: StoreImpl holds mu_ around every call.
//
// A segment's life (vblk(5) SEGMENTS, RECLAIM):
//
//   kFree --open--> kInUse --begin_cleaning--> kCleaning --emptied--> kEmptied
//     ^               ^                            |                     |
//     |               +-------end_cleaning---------+        checkpoint:  |
//     |                                                   release_emptied |
//     |                                                                  v
//   checkpoint: free_punched <-- kPunched <--punched-- kPunching <--take_released-- kReleased
//                                   ^                                                 |
//                                   +--------------- keep (the reuse pool) -----------+
//
// kEmptied, kReleased, kPunching and kPunched are "reclaiming": emptied by
// the cleaner, not needed by the next checkpoint (kEmptied until one is
// written), not allocatable. A checkpoint records kEmptied, kReleased and
// kPunching segments as released and kPunched ones as free, so a segment
// becomes free one checkpoint after it is released: its hole is punched
// while neither a writer nor a replay can allocate it, and runtime and
// replay agree on which segment the head moves to next (the lowest free).
//
// Two marks sit beside the state: damaged (the cleaner found a record it
// cannot read and leaves the segment where it is) and the reuse pool
// (released segments whose old bytes were left in place instead of
// punched, kPunched or kFree until opened or punched).
//
// The table also keeps each segment's counts (fill, live bytes,
// provisional bytes) and the total of live bytes, and which segments
// changed since a checkpoint took them (a DELTA checkpoint writes those
// alone): every transition and every change of fill or live bytes marks
// its segment; loading a checkpoint marks none.

#include <cstdint>
#include <set>
#include <vector>

namespace vblk::store {

enum class SegmentState : uint8_t {
  kFree,      // fill 0: may be opened (the lowest first)
  kInUse,     // the head, or full
  kCleaning,  // in use, being emptied by a clean_segment() call
  kEmptied,   // emptied by the cleaner; the next checkpoint releases it
  kReleased,  // no checkpoint needs its data; to be punched
  kPunching,  // being punched (without the store's lock)
  kPunched,   // punched, or kept in the reuse pool: free from the next checkpoint
};
inline constexpr int kSegmentStates = 7;
const char* segment_state_name(SegmentState s);

struct SegmentInfo {
  uint32_t live = 0;  // bytes of live records (DATA shares, PAGE, META)
  uint32_t fill = 0;  // bytes used from the segment start; 0 = free
  // Bytes of provisional DATA records appended here (in memory only:
  // counted as they are applied, live or not, and by scan_provisional(),
  // live ones only, for those older than the checkpoint an open starts
  // from). It only steers the recompression pass, which takes the segment
  // with the most.
  uint32_t provisional = 0;
};

class SegmentTable {
 public:
  // ---- loading (recover) ----
  // No segments (before a checkpoint is loaded, and after a power cut).
  void reset();
  // `count` segments, all in use with zero counts and no changes, for a
  // checkpoint's metadata to describe (set_counts / load_released), then
  // finish_load().
  void assign(uint64_t count);
  void set_counts(uint64_t seg, uint32_t live, uint32_t fill);
  void load_released(uint64_t seg);
  // In-use segments with nothing in them become free; the live total is
  // summed.
  void finish_load();

  // ---- queries ----
  uint64_t size() const { return info_.size(); }
  SegmentState state(uint64_t seg) const { return state_[seg]; }
  const SegmentInfo& info(uint64_t seg) const { return info_[seg]; }
  uint64_t count(SegmentState s) const { return counts_[static_cast<int>(s)]; }
  // The segments in state s, ascending. Not for kInUse: most segments are
  // in use, and nothing needs them listed.
  const std::set<uint64_t>& members(SegmentState s) const;
  // kInUse and kCleaning: segments holding data someone may need.
  uint64_t holding_data() const { return count(SegmentState::kInUse) + count(SegmentState::kCleaning); }
  bool reclaiming(uint64_t seg) const;
  uint64_t reclaiming_count() const;
  // The segment the head opens next: the lowest free one, else a new one
  // at the end.
  uint64_t next_to_open() const;
  uint64_t live_total() const { return live_total_; }
  bool damaged(uint64_t seg) const { return damaged_.count(seg) != 0; }
  const std::set<uint64_t>& reuse_pool() const { return reuse_pool_; }

  // ---- transitions; each REQUIRES the state it starts from ----
  // kFree (or a new segment, seg == size()) -> kInUse; leaves the reuse
  // pool. Returns false (and changes nothing) when seg is neither.
  bool open(uint64_t seg);
  void begin_cleaning(uint64_t seg);  // kInUse -> kCleaning
  void end_cleaning(uint64_t seg);    // kCleaning -> kInUse (left in place)
  void emptied(uint64_t seg);         // kCleaning -> kEmptied
  // A checkpoint is durable: kEmptied -> kReleased, and kPunched -> kFree
  // with its counts cleared. Returns the punched segments that still
  // counted live bytes (an accounting error worth a warning).
  std::vector<std::pair<uint64_t, uint32_t>> checkpoint_written();
  // kReleased -> kPunching, every one, ascending.
  std::vector<uint64_t> take_released();
  // kPunching -> kPunched, punched, or kept in the reuse pool unpunched.
  void punched(uint64_t seg);
  void keep_unpunched(uint64_t seg);
  // Leaves the pool to be punched now (kPunched or kFree: no one reads it).
  void leave_reuse_pool(uint64_t seg);

  // ---- counts ----
  void set_fill(uint64_t seg, uint32_t fill) {
    info_[seg].fill = fill;
    mark(seg);
  }
  // Live bytes move with the records a segment holds. Removing more than
  // is there stops at zero; segments beyond the table are ignored (both
  // only on damaged images, which then merely misreport space).
  void add_live(uint64_t seg, uint32_t bytes);
  void remove_live(uint64_t seg, uint32_t bytes);
  void add_provisional(uint64_t seg, uint32_t bytes);
  void set_provisional(uint64_t seg, uint32_t bytes) { info_[seg].provisional = bytes; }
  void mark_damaged(uint64_t seg) { damaged_.insert(seg); }

  // ---- changes (delta checkpoints) ----
  // Segments marked since the last take_changes(), unordered.
  const std::vector<uint64_t>& changes() const { return changed_; }
  // A checkpoint's snapshot: returns the changes, ascending, and starts
  // anew. Work: the number of changes.
  std::vector<uint64_t> take_changes();
  // The checkpoint that took `taken` failed: they are changes again.
  void restore_changes(const std::vector<uint64_t>& taken);

 private:
  void move(uint64_t seg, SegmentState from, SegmentState to);
  // The transition of a checkpoint's state being loaded: marks nothing.
  void move_unmarked(uint64_t seg, SegmentState from, SegmentState to);
  void mark(uint64_t seg) {
    if (changed_flag_[seg]) return;
    changed_flag_[seg] = 1;
    changed_.push_back(seg);
  }
  std::set<uint64_t>& listed(SegmentState s) { return members_[static_cast<int>(s)]; }

  std::vector<SegmentInfo> info_;
  std::vector<SegmentState> state_;
  uint64_t counts_[kSegmentStates] = {};
  // Every segment by state, but kInUse's set stays empty (see members()).
  std::set<uint64_t> members_[kSegmentStates];
  std::set<uint64_t> damaged_;
  std::set<uint64_t> reuse_pool_;
  uint64_t live_total_ = 0;
  // Marked segments: listed once each (changed_flag_ says whether), so
  // that marking costs O(1) on the write path.
  std::vector<uint64_t> changed_;
  std::vector<uint8_t> changed_flag_;
};

}  // namespace vblk::store
