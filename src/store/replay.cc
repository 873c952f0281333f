// Replay: following the log after the checkpoint in force (vblk(5) RECOVERY).
//
// The log is walked record by record, as it was written. Where no record
// continues it, the walk looks further on in the same segment and at the
// start of the next segment the allocation rule names for a record of this
// generation with a later sequence number (as a log reader resynchronises
// after a bad block), and goes on from there. What it passed over is
// damage or a torn tail, and only a FLUSH record tells the two apart: its
// claim says which records a completed flush had made durable before it
// was written. So records are applied in order as long as none failed;
// after a failure they wait (pending) until a FLUSH record's claim covers
// the failure, which makes it damage: the failed records' blocks are
// marked damaged and the walk's records after them are applied. A failure
// that no claim covers when the walk ends is the torn tail: the log ends
// there, and everything after it is dropped, as before.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <deque>
#include <map>

#include "format/flush_record.h"
#include "store/store_impl.h"

namespace vblk::store {

using format::RecordHeader;
using format::RecordType;

namespace {

// A failure waits for a claim at most this many items: a torn tail is
// short, and damage is covered by the next flush's FLUSH record; more is a
// hostile image.
constexpr size_t kMaxPendingItems = size_t{1} << 22;

// How far one resynchronising scan reads at a time.
constexpr uint32_t kScanChunk = 1u << 20;

}  // namespace

// One step of the walk.
struct StoreImpl::LogItem {
  enum class Kind {
    kRecord,          // a sound record
    kDamagedPayload,  // its header is sound and continues the log, its payload fails its checksum
    kGap,             // records first_seq..last_seq were passed over: no sound header where they lie
  };
  Kind kind = Kind::kRecord;
  RecordHeader h;             // kRecord, kDamagedPayload
  uint64_t offset = 0;        // of the record header; of the first byte passed over (kGap)
  uint64_t first_seq = 0;     // the sequence numbers the item stands for
  uint64_t last_seq = 0;
  uint64_t seg = 0;           // where the log head stands after the item
  uint32_t end_fill = 0;
  bool opens_segment = false; // the walk allocated seg for this item
  uint64_t damage_segment = 0;  // kGap: a segment that holds the damaged bytes
};

// Where the walk stands and what it has allocated, without changing the
// store: items that end up dropped as a torn tail must leave no trace.
struct StoreImpl::LogCursor {
  uint64_t seg = format::kNoSegment;
  uint32_t pos = 0;
  uint64_t seq = 0;          // expected next
  uint64_t alloc_seq = 0;    // of seg
  uint64_t segment_count = 0;
  std::set<uint64_t> taken;  // free segments the walk allocated
};

uint64_t StoreImpl::next_walk_segment(const LogCursor& c) const {
  // The walk takes the lowest free segments first, so this loop is short.
  for (uint64_t s : segments_.members(SegmentState::kFree))
    if (!c.taken.count(s)) return s;
  return c.segment_count;
}

void StoreImpl::enter_walk_segment(LogCursor& c, uint64_t seg) const {
  c.taken.insert(seg);
  if (seg == c.segment_count) ++c.segment_count;
  c.seg = seg;
  c.pos = format::kSegmentHeaderSize;
  ++c.alloc_seq;
}

Result<std::optional<RecordHeader>> StoreImpl::sound_header_at(uint64_t seg, uint32_t pos) {
  if (pos + format::kRecordHeaderSize > sb_.segment_size) return std::optional<RecordHeader>();
  std::array<uint8_t, format::kRecordHeaderSize> buf{};
  auto n = reader_.read_image(segment_start(seg) + pos, buf);
  if (!n) return n.status();
  auto h = format::decode_record_header(std::span<const uint8_t>(buf.data(), *n));
  if (!h || h->generation != generation_ || pos + format::record_total_length(h->stored_len) > sb_.segment_size)
    return std::optional<RecordHeader>();
  return std::optional<RecordHeader>(*h);
}

Result<bool> StoreImpl::segment_follows(uint64_t seg, uint64_t alloc_seq) {
  std::array<uint8_t, format::kSegmentHeaderSize> buf{};
  auto n = reader_.read_image(segment_start(seg), buf);
  if (!n) return n.status();
  auto sh = format::decode_segment_header(std::span<const uint8_t>(buf.data(), *n));
  return sh && sh->alloc_seq == alloc_seq && sh->segment_index == seg && sh->uuid == sb_.uuid;
}

Result<std::optional<StoreImpl::LogItem>> StoreImpl::record_item(const LogCursor& c, uint64_t seg, uint32_t pos) {
  auto h = sound_header_at(seg, pos);
  if (!h) return h.status();
  if (!*h || (*h)->seq != c.seq) return std::optional<LogItem>();
  LogItem item;
  item.h = **h;
  item.offset = segment_start(seg) + pos;
  item.first_seq = item.last_seq = item.h.seq;
  item.seg = seg;
  item.end_fill = pos + format::record_total_length(item.h.stored_len);
  RecordHeader again;
  Status s = reader_.read_record(item.offset, item.end_fill - pos, &again, nullptr);
  // A host error is no statement about the record: the open fails.
  if (!s && !s.is_corruption()) return s;
  item.kind = s ? LogItem::Kind::kRecord : LogItem::Kind::kDamagedPayload;
  return std::optional<LogItem>(item);
}

Result<std::optional<uint32_t>> StoreImpl::find_later_record(uint64_t seg, uint32_t from, uint64_t after_seq) {
  // Records start 8-byte aligned from the segment start; a header of this
  // generation with a later sequence number continues the log.
  RawBuffer buf;
  for (uint32_t at = from; at + format::kRecordHeaderSize <= sb_.segment_size;) {
    const uint32_t len = std::min<uint32_t>(kScanChunk, sb_.segment_size - at);
    buf.resize(len);
    auto n = reader_.read_image(segment_start(seg) + at, buf);
    if (!n) return n.status();
    for (uint32_t i = 0; i + format::kRecordHeaderSize <= *n; i += format::kRecordAlign) {
      if (format::get_u32(buf.data() + i) != format::kRecordMagic) continue;
      auto h = format::decode_record_header({buf.data() + i, format::kRecordHeaderSize});
      if (h && h->generation == generation_ && h->seq > after_seq && h->seq != ~0ull &&
          at + i + format::record_total_length(h->stored_len) <= sb_.segment_size)
        return std::optional<uint32_t>(at + i);
    }
    if (*n < len) break;  // the end of the file
    // The next chunk starts where a header could still begin whole.
    at += len - format::kRecordHeaderSize + format::kRecordAlign;
  }
  return std::optional<uint32_t>();
}

Result<std::optional<StoreImpl::LogItem>> StoreImpl::walk_step(LogCursor& c) {
  // 1. The next record where the log stands.
  if (c.seg != format::kNoSegment) {
    auto item = record_item(c, c.seg, c.pos);
    if (!item) return item.status();
    if (*item) {
      c.pos = (*item)->end_fill;
      ++c.seq;
      return item;
    }
  }
  // 2. The head segment is full: the next record opens the segment the
  // allocation rule names, if that one was allocated next.
  const uint64_t next = next_walk_segment(c);
  auto follows = segment_follows(next, c.alloc_seq + 1);
  if (!follows) return follows.status();
  if (*follows) {
    auto item = record_item(c, next, format::kSegmentHeaderSize);
    if (!item) return item.status();
    if (*item) {
      enter_walk_segment(c, next);
      (*item)->opens_segment = true;
      c.pos = (*item)->end_fill;
      ++c.seq;
      return item;
    }
  }
  // 3. Damage, or the end: a later record of this generation further on in
  // this segment, or in the next one.
  LogItem gap;
  gap.kind = LogItem::Kind::kGap;
  gap.first_seq = c.seq;
  if (c.seg != format::kNoSegment) {
    auto at = find_later_record(c.seg, c.pos + format::kRecordAlign, c.seq);
    if (!at) return at.status();
    if (*at) {
      gap.offset = segment_start(c.seg) + c.pos;
      gap.damage_segment = c.seg;
      gap.seg = c.seg;
      gap.end_fill = **at;
      c.pos = **at;
    }
  }
  if (!gap.end_fill && *follows) {
    auto at = find_later_record(next, format::kSegmentHeaderSize, c.seq);
    if (!at) return at.status();
    if (*at) {
      // The records passed over lay at the end of the head segment when
      // the first one found opens the next; otherwise in the next one.
      const bool before = **at == format::kSegmentHeaderSize && c.seg != format::kNoSegment;
      gap.offset = before ? segment_start(c.seg) + c.pos : segment_start(next) + format::kSegmentHeaderSize;
      gap.damage_segment = before ? c.seg : next;
      enter_walk_segment(c, next);
      gap.opens_segment = true;
      gap.seg = next;
      gap.end_fill = **at;
      c.pos = **at;
    }
  }
  if (!gap.end_fill) return std::optional<LogItem>();
  auto h = sound_header_at(c.seg, c.pos);
  if (!h) return h.status();
  gap.last_seq = (*h)->seq - 1;
  c.seq = (*h)->seq;
  return std::optional<LogItem>(gap);
}

// What replay() has learnt so far: the FLUSH records' claims, and counts.
struct StoreImpl::ReplayState {
  uint64_t claim = 0;                                       // every record up to it was durable
  std::map<uint64_t, format::FlushDescriptor> descriptors;  // by seq
  std::map<uint64_t, uint64_t> described;                   // from_seq -> to_seq: ranges described
  uint64_t applied = 0, damaged_records = 0, gap_records = 0;
};

Status StoreImpl::apply_log_item(const LogItem& item, ReplayState& r) {
  if (item.opens_segment) {
    // The walk only enters free segments, or the next new one.
    if (!segments_.open(item.seg))
      return Status::corruption("the log enters segment " + std::to_string(item.seg) + ", which is not free");
    log_.replayed_into(item.seg);
  }
  switch (item.kind) {
    case LogItem::Kind::kRecord:
      VBLK_RETURN_IF_ERROR(apply_record(item.h, item.offset).with_prefix(
          "replaying record " + std::to_string(item.h.seq) + " at offset " + std::to_string(item.offset)));
      break;
    case LogItem::Kind::kDamagedPayload:
      VBLK_RETURN_IF_ERROR(apply_damaged_record(item));
      ++r.damaged_records;
      break;
    case LogItem::Kind::kGap:
      VBLK_RETURN_IF_ERROR(apply_gap(item, r.descriptors, r.described));
      r.gap_records += item.last_seq - item.first_seq + 1;
      break;
  }
  // The item's own bytes: from where it starts in its segment (a gap
  // that began in the segment before counts from this one's start).
  const uint64_t seg_start = segment_start(item.seg);
  const uint64_t from = segment_of(item.offset) == item.seg ? item.offset - seg_start : 0;
  log_.replayed_up_to(item.end_fill, item.last_seq, item.end_fill - std::min<uint64_t>(item.end_fill, from));
  segments_.set_fill(item.seg, item.end_fill);
  r.applied++;
  evict_pages();
  return Status::ok();
}

Status StoreImpl::replay() {
  const uint64_t cp_generation = generation_;
  replaying_ = true;
  struct Done {
    bool& flag;
    ~Done() { flag = false; }
  } done{replaying_};

  LogCursor c;
  c.seg = log_.head_segment();
  c.pos = log_.head().fill;
  c.seq = log_.next_seq();
  c.alloc_seq = log_.alloc_seq();
  c.segment_count = segments_.size();

  ReplayState r;
  std::deque<LogItem> pending;
  auto apply = [&](const LogItem& item) REQUIRES(mu_) { return apply_log_item(item, r); };
  auto failed = [](const LogItem& i) { return i.kind != LogItem::Kind::kRecord; };

  for (;;) {
    auto step = walk_step(c);
    if (!step) return step.status();
    if (!*step) break;
    LogItem& item = **step;
    if (item.kind == LogItem::Kind::kRecord && item.h.type == RecordType::kFlush && flush_records_) {
      VBLK_RETURN_IF_ERROR(read_flush_record(item, &r.claim, &r.descriptors, &r.described));
    }
    if (pending.empty() && !failed(item)) {
      VBLK_RETURN_IF_ERROR(apply(item));
      continue;
    }
    if (pending.size() >= kMaxPendingItems)
      return Status::corruption("more than " + std::to_string(kMaxPendingItems) +
                                " log records follow a damaged one without a flush record covering it");
    pending.push_back(std::move(item));
    // Apply what the claims now cover: up to the first failure they do not.
    while (!pending.empty() && (!failed(pending.front()) || pending.front().last_seq <= r.claim)) {
      VBLK_RETURN_IF_ERROR(apply(pending.front()));
      pending.pop_front();
    }
  }
  if (!pending.empty()) {
    const LogItem& end = pending.front();
    // A gap that a claim covers in part: the covered records' blocks are
    // damaged, the rest is the torn tail.
    if (end.kind == LogItem::Kind::kGap && end.first_seq <= r.claim) {
      LogItem covered = end;
      covered.last_seq = r.claim;
      VBLK_RETURN_IF_ERROR(apply_gap(covered, r.descriptors, r.described));
      r.gap_records += r.claim - end.first_seq + 1;
    }
    spdlog::info("{}: the log ends at offset {} (record {}: {}); {} later log items not covered by a completed "
                 "flush dropped",
                 backend_->name(), end.offset, end.first_seq,
                 end.kind == LogItem::Kind::kGap ? "no sound record" : "payload checksum mismatch",
                 pending.size() - 1);
  }
  report_replay_locked(r, cp_generation);
  return Status::ok();
}

void StoreImpl::report_replay_locked(const ReplayState& r, uint64_t cp_generation) {
  // Said only once the replay succeeded: an open that fails says why alone.
  for (const std::string& note : replay_notes_) spdlog::warn("{}: {}", backend_->name(), note);
  replay_notes_.clear();
  if (r.damaged_records || r.gap_records)
    spdlog::warn("{}: damage in the log after checkpoint generation {}: {} records with damaged payloads, {} records "
                 "with damaged headers; their blocks fail to read (vblk-inspect --check lists them)",
                 backend_->name(), cp_generation, r.damaged_records, r.gap_records);
  if (r.applied) {
    log_.note_change();
    spdlog::info("{}: replayed {} log records after checkpoint generation {}", backend_->name(), r.applied, cp_generation);
  }
}

Status StoreImpl::read_flush_record(const LogItem& item, uint64_t* claim,
                                    std::map<uint64_t, format::FlushDescriptor>* descriptors,
                                    std::map<uint64_t, uint64_t>* described) {
  const RecordHeader& h = item.h;
  const std::string where = "FLUSH record " + std::to_string(h.seq) + " at offset " + std::to_string(item.offset);
  if (h.first >= h.seq) return Status::corruption(where + " claims records after itself");
  RecordHeader again;
  std::vector<uint8_t> stored;
  VBLK_RETURN_IF_ERROR(reader_.read_record(item.offset, item.end_fill - static_cast<uint32_t>(
                                                                      item.offset - segment_start(item.seg)),
                                   &again, nullptr, &stored)
                           .with_prefix(where));
  auto p = format::decode_flush_payload(stored, h.first, h.count);
  if (!p) return p.status().with_prefix(where);
  *claim = std::max(*claim, h.first);
  if (p->from_seq <= p->to_seq) (*described)[p->from_seq] = p->to_seq;
  for (const format::FlushDescriptor& d : p->descriptors) (*descriptors)[d.seq] = d;
  return Status::ok();
}

Status StoreImpl::apply_damaged_record(const LogItem& item) {
  const RecordHeader& h = item.h;
  replay_notes_.push_back(fmt::format("log record {} at offset {} ({} blocks {}+{}) has a damaged payload; replay "
                                     "goes on past it",
                                     h.seq, item.offset, format::record_type_name(h.type), h.first, h.count));
  // Its header is sound: the index points its blocks at it, and their
  // reads fail its checksum. FLUSH, PAGE and META records change nothing.
  if (h.type != RecordType::kData) return Status::ok();
  return apply_record(h, item.offset).with_prefix("replaying damaged record " + std::to_string(h.seq));
}

Status StoreImpl::apply_gap(const LogItem& gap, const std::map<uint64_t, format::FlushDescriptor>& descriptors,
                            const std::map<uint64_t, uint64_t>& described) {
  replay_notes_.push_back(fmt::format("log records {}..{} at offset {}: no sound header; replay goes on past them",
                                     gap.first_seq, gap.last_seq, gap.offset));
  // Records a FLUSH record describes are applied from their descriptors:
  // ZERO, TRIM and BAD ones exactly, DATA ones as damaged blocks (their
  // entries name the damage sentinel: reads fail).
  for (auto it = descriptors.lower_bound(gap.first_seq); it != descriptors.end() && it->first <= gap.last_seq; ++it) {
    const format::FlushDescriptor& d = it->second;
    if (d.type != RecordType::kData) {
      RecordHeader h;
      h.type = d.type;
      h.seq = d.seq;
      h.first = d.first;
      h.count = d.count;
      VBLK_RETURN_IF_ERROR(apply_record(h, 0).with_prefix("replaying the descriptor of record " + std::to_string(d.seq)));
      continue;
    }
    if (d.count == 0 || d.count > format::kMaxRecordBlocks) return Status::corruption("FLUSH descriptor of record " + std::to_string(d.seq) + " invalid");
    VBLK_RETURN_IF_ERROR(check_range(d.first, d.count));
    for (uint32_t i = 0; i < d.count; ++i)
      VBLK_RETURN_IF_ERROR(set_entry(d.first + i, damage_sentinel_entry(gap.damage_segment, i, d.count)));
  }
  // Records no FLUSH record describes that may have covered blocks: say so.
  uint64_t undescribed = 0;
  for (uint64_t s = gap.first_seq; s <= gap.last_seq;) {
    auto it = described.upper_bound(s);
    if (it != described.begin() && std::prev(it)->second >= s) {
      s = std::prev(it)->second + 1;
      continue;
    }
    const uint64_t stop = it == described.end() ? gap.last_seq : std::min(gap.last_seq, it->first - 1);
    undescribed += stop - s + 1;
    if (stop == gap.last_seq) break;
    s = stop + 1;
  }
  if (undescribed) {
    CheckProblem p;
    p.file_offset = gap.offset;
    p.what = std::to_string(undescribed) + " log records from seq " + std::to_string(gap.first_seq) +
             " were lost to damage at image offset " + std::to_string(gap.offset) +
             " and no flush record says which blocks they held";
    replay_notes_.push_back(p.what);
    replay_problems_.push_back(std::move(p));
  }
  return Status::ok();
}

}  // namespace vblk::store
