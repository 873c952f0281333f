// Repair (vblk-inspect --check --repair; vblk(5) REPAIR).
//
// An image opened with OpenOptions::repair rebuilds what it cannot load:
// with no usable checkpoint slot, the checkpoint from the newest complete
// chain of META records; an index page whose record is damaged, from the
// records of the log (the newest sound older copy of the page, then every
// block record after it up to the damaged one, in sequence order). repair()
// then turns each damaged block into a BAD block, after rewriting the ones
// that still read (a record with a unit table fails only from its damaged
// unit on), and checkpoints.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>

#include "store/store_impl.h"

namespace vblk::store {

using format::IndexEntry;
using format::RecordHeader;
using format::RecordType;

Result<const std::vector<StoreImpl::ScannedRecord>*> StoreImpl::scanned_records() {
  if (scan_done_) return &scan_;
  auto file_size = backend_->end_of_data();
  if (!file_size) return file_size.status();
  RawBuffer seg_bytes;
  for (uint64_t seg = 0; segment_start(seg) + format::kSegmentHeaderSize <= *file_size; ++seg) {
    seg_bytes.resize(sb_.segment_size);
    auto n = reader_.read_image(segment_start(seg), seg_bytes);
    if (!n) return n.status();
    auto sh = format::decode_segment_header({seg_bytes.data(), std::min<size_t>(*n, format::kSegmentHeaderSize)});
    if (!sh || sh->uuid != sb_.uuid || sh->segment_index != seg) continue;
    // Header by header; past a damaged one, on at the next sound header.
    for (size_t pos = format::kSegmentHeaderSize; pos + format::kRecordHeaderSize <= *n;) {
      auto h = format::decode_record_header({seg_bytes.data() + pos, format::kRecordHeaderSize});
      if (!h || pos + format::record_total_length(h->stored_len) > sb_.segment_size) {
        pos += format::kRecordAlign;
        continue;
      }
      scan_.push_back({segment_start(seg) + pos, *h});
      pos += format::record_total_length(h->stored_len);
    }
  }
  // Records a crash left beyond the end of the log may carry the sequence
  // numbers the next session used again. The PAGE and META records of a
  // checkpoint are the last of their generation: a record of that
  // generation after them is such a leftover.
  std::map<uint64_t, uint64_t> last_checkpoint_seq;  // generation -> seq
  for (const ScannedRecord& r : scan_)
    if (r.h.type == RecordType::kPage || r.h.type == RecordType::kMeta)
      last_checkpoint_seq[r.h.generation] = std::max(last_checkpoint_seq[r.h.generation], r.h.seq);
  std::erase_if(scan_, [&](const ScannedRecord& r) {
    auto it = last_checkpoint_seq.find(r.h.generation);
    return it != last_checkpoint_seq.end() && r.h.seq > it->second;
  });
  std::sort(scan_.begin(), scan_.end(), [](const ScannedRecord& a, const ScannedRecord& b) { return a.h.seq < b.h.seq; });
  scan_done_ = true;
  return &scan_;
}

Result<std::vector<format::Checkpoint>> StoreImpl::checkpoints_from_meta_records() {
  auto scan = scanned_records();
  if (!scan) return scan.status();
  std::vector<format::Checkpoint> found;
  // Newest generation first.
  std::map<uint64_t, std::vector<const ScannedRecord*>, std::greater<>> by_generation;
  for (const ScannedRecord& r : **scan)
    if (r.h.type == RecordType::kMeta) by_generation[r.h.generation].push_back(&r);
  for (auto& [generation, chunks] : by_generation) {
    // The last chunk: the one no other chunk names as its predecessor.
    const ScannedRecord* last = nullptr;
    for (const ScannedRecord* c : chunks)
      if (!last || c->h.count > last->h.count) last = c;
    std::vector<uint8_t> meta;
    bool whole = true;
    uint32_t n = 0;
    for (const ScannedRecord* c = last; whole;) {
      RecordHeader h;
      RawBuffer raw;
      if (!reader_.read_record(c->offset, 0, &h, &raw)) {
        whole = false;
        break;
      }
      meta.insert(meta.begin(), raw.begin(), raw.end());
      ++n;
      if (c->h.count == 0) break;
      auto prev = std::find_if(chunks.begin(), chunks.end(), [&](const ScannedRecord* p) {
        return p->offset == c->h.first && p->h.count + 1 == c->h.count;
      });
      if (prev == chunks.end()) whole = false;
      else c = *prev;
    }
    if (!whole) continue;
    const uint64_t head_seg = segment_of(last->offset);
    std::array<uint8_t, format::kSegmentHeaderSize> buf{};
    auto got = reader_.read_image(segment_start(head_seg), buf);
    if (!got) return got.status();
    auto sh = format::decode_segment_header({buf.data(), *got});
    if (!sh) continue;
    auto file_size = backend_->end_of_data();
    if (!file_size) return file_size.status();
    format::Checkpoint cp;
    cp.generation = generation + 1;
    cp.next_record_seq = last->h.seq + 1;
    cp.head_segment = head_seg;
    cp.head_fill = static_cast<uint32_t>(last->offset - segment_start(head_seg) +
                                         format::record_total_length(last->h.stored_len));
    cp.head_alloc_seq = sh->alloc_seq;
    cp.meta_last_chunk = last->offset;
    cp.meta_chunks = n;
    cp.meta_bytes = meta.size();
    cp.meta_hash = format::hash64(meta.data(), meta.size());
    cp.segment_count = std::max<uint64_t>(head_seg + 1, (*file_size - sb_.data_start + sb_.segment_size - 1) /
                                                            sb_.segment_size);
    cp.uuid = sb_.uuid;
    found.push_back(cp);
  }
  if (found.empty())
    return Status::corruption(backend_->name() + ": no whole chain of checkpoint metadata records to rebuild from");
  return found;
}

Status StoreImpl::recover_from_meta_chains(const Status& why, uint64_t newest_slot_generation) {
  auto candidates = checkpoints_from_meta_records();
  if (!candidates) return candidates.status().with_prefix("repair: " + why.message());
  // The newest checkpoint that loads whole: its own records, and for a
  // DELTA every older metadata it needs down to its FULL base.
  Status last_failure;
  for (const format::Checkpoint& cp : *candidates) {
    reset_state_locked();
    Status loaded = load_checkpoint(cp);
    if (!loaded) {
      if (!loaded.is_corruption()) return loaded.with_prefix(backend_->name() + ": repair");
      spdlog::warn("{}: repair: the metadata records of generation {} do not load: {}", backend_->name(),
                   cp.generation - 1, loaded.message());
      last_failure = loaded;
      continue;
    }
    repairs_.push_back("checkpoint rebuilt from the metadata records of generation " +
                       std::to_string(cp.generation - 1) + " (" + why.message() + ")");
    spdlog::warn("{}: {}", backend_->name(), repairs_.back());
    VBLK_RETURN_IF_ERROR(replay().with_prefix(backend_->name()));
    // The next checkpoint must supersede every slot, the damaged one too:
    // its generation above theirs, which leaves no predecessor of the
    // generation before it for a DELTA to name, so it is FULL (the chain's
    // records stay counted until it replaces them). It comes before the
    // first record this open appends, as after any writable open.
    if (generation_ < newest_slot_generation) {
      generation_ = newest_slot_generation;
      chain_.last = {};
    }
    new_generation_due_ = true;
    return Status::ok();
  }
  return last_failure.with_prefix(backend_->name() + ": repair: " + why.message() +
                                  "; no metadata records load whole, the last tried");
}

Status StoreImpl::rebuild_page(uint64_t page_no, const PageLocation& damaged, std::vector<IndexEntry>* entries,
                               bool* dirty) {
  auto scan = scanned_records();
  if (!scan) return scan.status();
  // The damaged copy's sequence number; without a sound header, the
  // newest record before its place... is unknown: every record counts.
  uint64_t upto = ~0ull;
  for (const ScannedRecord& r : **scan)
    if (r.offset == damaged.offset) upto = r.h.seq;
  entries->assign(sb_.entries_per_page, IndexEntry{});
  uint64_t base_seq = 0;
  for (auto it = (*scan)->rbegin(); it != (*scan)->rend(); ++it) {
    if (it->h.type != RecordType::kPage || it->h.first != page_no || it->h.seq >= upto) continue;
    if (load_page_entries(page_no, {it->offset, format::record_total_length(it->h.stored_len)}, entries)) {
      base_seq = it->h.seq;
      break;
    }
  }
  const uint64_t lo = page_no * sb_.entries_per_page;
  // Past the capacity in force every entry is zero (a shrink dropped the
  // blocks there, which no record says).
  const uint64_t hi = std::max(lo, std::min(lo + sb_.entries_per_page, block_count_.load()));
  for (uint64_t b = hi; b < lo + sb_.entries_per_page; ++b) (*entries)[b - lo] = IndexEntry{};
  uint64_t applied = 0;
  for (const ScannedRecord& r : **scan) {
    if (r.h.seq <= base_seq || r.h.seq >= upto || !format::covers_blocks(r.h.type)) continue;
    const uint64_t first = std::max(lo, r.h.first), end = std::min(hi, r.h.first + r.h.count);
    if (r.h.first >= hi || r.h.first + r.h.count <= lo || first >= end) continue;
    for (uint64_t b = first; b < end; ++b) {
      IndexEntry& e = (*entries)[b - lo];
      switch (r.h.type) {
        case RecordType::kData:
          if (r.h.count > format::kMaxRecordBlocks) break;
          e = {r.offset, format::record_total_length(r.h.stored_len), static_cast<uint16_t>(b - r.h.first),
               static_cast<uint8_t>(BlockState::kUsed), static_cast<uint8_t>(r.h.count - 1)};
          break;
        case RecordType::kZero:
          e = {0, 0, 0, static_cast<uint8_t>(BlockState::kUsed), 0};
          break;
        default:  // TRIM, BAD_SET, BAD_CLEAR: the bad list itself is the checkpoint's
          if (e.state != static_cast<uint8_t>(BlockState::kFree))
            e = {0, 0, 0, static_cast<uint8_t>(BlockState::kTrimmed), 0};
          break;
      }
    }
    ++applied;
  }
  *dirty = true;
  repairs_.push_back("index page " + std::to_string(page_no) + " (blocks " + std::to_string(lo) + "-" +
                     std::to_string(hi - 1) + ") rebuilt from " +
                     (base_seq ? "an older copy and " : std::string("")) + std::to_string(applied) +
                     " log records");
  spdlog::warn("{}: {}", backend_->name(), repairs_.back());
  return Status::ok();
}

Result<RepairReport> StoreImpl::repair() {
  if (!opts_.repair || opts_.read_only)
    return Status::invalid_argument(backend_->name() + ": repair needs an image opened for repair");
  RepairReport report;
  auto before = check();
  if (!before) return before.status();
  {
    MutexLock lock(mu_);
    report.actions = repairs_;
    replay_problems_.clear();
  }
  const uint32_t bs = sb_.block_size;
  std::vector<uint8_t> block(bs);
  std::vector<uint64_t> damaged;
  for (const CheckProblem& p : before->problems)
    if (p.has_block) damaged.push_back(p.block);
  std::sort(damaged.begin(), damaged.end());
  damaged.erase(std::unique(damaged.begin(), damaged.end()), damaged.end());
  uint64_t rewritten = 0, marked_bad = 0;
  for (uint64_t b : damaged) {
    // A block that still reads keeps its data in a record of its own.
    if (read_blocks(b, 1, block)) {
      VBLK_RETURN_IF_ERROR(write_blocks(b, block));
      ++rewritten;
      continue;
    }
    VBLK_RETURN_IF_ERROR(set_bad(b, 1, true));
    report.bad_blocks.push_back(b);
    ++marked_bad;
  }
  if (rewritten)
    report.actions.push_back(std::to_string(rewritten) + " blocks of damaged records still read: rewritten");
  if (marked_bad)
    report.actions.push_back(std::to_string(marked_bad) + " damaged blocks marked BAD (reads fail until rewritten "
                             "or cleared with vblk-inject clear)");
  for (const CheckProblem& p : before->problems)
    if (!p.has_block) report.actions.push_back("left as it is: " + p.what);
  VBLK_RETURN_IF_ERROR(checkpoint());
  {
    MutexLock lock(mu_);
    repairs_.clear();
  }
  auto after = check();
  if (!after) return after.status();
  report.clean = after->clean();
  return report;
}

}  // namespace vblk::store
