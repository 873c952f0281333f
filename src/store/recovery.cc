// Opening an image: choose the checkpoint, load its metadata, replay the log.
#include <spdlog/spdlog.h>

#include "store/store_impl.h"

namespace vblk::store {

using format::Checkpoint;
using format::RecordHeader;

namespace {

// Cursor over the checkpoint metadata byte string; every read is bounds-checked.
class MetaReader {
 public:
  explicit MetaReader(std::span<const uint8_t> data) : data_(data) {}
  bool u64(uint64_t* v) {
    if (pos_ + 8 > data_.size()) return false;
    *v = format::get_u64(data_.data() + pos_);
    pos_ += 8;
    return true;
  }
  bool u32(uint32_t* v) {
    if (pos_ + 4 > data_.size()) return false;
    *v = format::get_u32(data_.data() + pos_);
    pos_ += 4;
    return true;
  }
  uint64_t remaining() const { return data_.size() - pos_; }

 private:
  std::span<const uint8_t> data_;
  size_t pos_ = 0;
};

}  // namespace

Status StoreImpl::recover() {
  const std::string& name = file_->name();
  // A writer opening the image owes a new generation (step 7 of RECOVERY).
  new_generation_due_ = !opts_.read_only;
  std::optional<Checkpoint> best;
  int best_slot = -1;
  for (int slot = 0; slot < 2; ++slot) {
    std::array<uint8_t, format::kCheckpointSize> buf{};
    auto n = file_->read_at(format::kCheckpointOffset[slot], buf);
    if (!n) return n.status();
    auto cp = format::decode_checkpoint(std::span<const uint8_t>(buf.data(), *n));
    if (!cp || cp->uuid != sb_.uuid) continue;
    if (!best || cp->generation > best->generation) best = *cp, best_slot = slot;
  }
  if (!best) {
    Status s = Status::corruption(name + ": no valid checkpoint slot (image damaged or not fully created)");
    return opts_.repair ? recover_from_meta_chains(s) : s;
  }
  slot_ = best_slot;
  // A newest slot whose metadata is damaged must not silently fall back to
  // an older state: report it.
  Status loaded = load_checkpoint(*best).with_prefix(name + ": checkpoint generation " +
                                                     std::to_string(best->generation));
  if (!loaded && loaded.is_corruption() && opts_.repair) return recover_from_meta_chains(loaded);
  VBLK_RETURN_IF_ERROR(loaded);
  return replay().with_prefix(name);
}

Status StoreImpl::load_checkpoint(const Checkpoint& cp) {
  auto file_size = file_->size();
  if (!file_size) return file_size.status();
  const uint64_t max_segments = (*file_size > sb_.data_start ? (*file_size - sb_.data_start) / sb_.segment_size + 1 : 1);
  if (cp.segment_count > max_segments)
    return Status::corruption("segment count " + std::to_string(cp.segment_count) + " exceeds the file");
  if (cp.head_segment != format::kNoSegment &&
      (cp.head_segment >= cp.segment_count || cp.head_fill < format::kSegmentHeaderSize ||
       cp.head_fill > sb_.segment_size))
    return Status::corruption("log head position invalid");
  if (cp.meta_bytes > format::kMaxMetaBytes || cp.meta_chunks > cp.meta_bytes / 1 + 1)
    return Status::corruption("metadata size invalid");

  generation_ = cp.generation;
  block_count_ = sb_.block_count;  // until metadata says otherwise
  next_seq_ = cp.next_record_seq;
  head_seg_ = cp.head_segment;
  head_fill_ = cp.head_fill;
  head_alloc_seq_ = cp.head_alloc_seq;
  segs_.assign(cp.segment_count, SegmentInfo{});

  if (cp.meta_last_chunk == 0) {
    if (cp.meta_chunks != 0 || cp.segment_count != 0 || cp.head_segment != format::kNoSegment)
      return Status::corruption("empty checkpoint with a log");
    return Status::ok();
  }
  // Walk the chunk chain backward, then assemble forward.
  std::vector<std::pair<PageLocation, RawBuffer>> chunks;
  uint64_t at = cp.meta_last_chunk;
  for (uint32_t i = cp.meta_chunks; i-- > 0;) {
    if (at < sb_.data_start || at >= *file_size) return Status::corruption("metadata chunk offset out of the file");
    RecordHeader h;
    RawBuffer raw;
    VBLK_RETURN_IF_ERROR(read_record(at, format::kRecordHeaderSize, &h, &raw).with_prefix(
        "metadata chunk at offset " + std::to_string(at)));
    if (h.type != format::RecordType::kMeta || h.count != i || h.generation != cp.generation - 1)
      return Status::corruption("metadata chunk at offset " + std::to_string(at) + " is not chunk " + std::to_string(i));
    chunks.emplace_back(PageLocation{at, format::record_total_length(h.stored_len)}, std::move(raw));
    if (i == 0 && h.first != 0) return Status::corruption("metadata chain does not end");
    at = h.first;
  }
  std::vector<uint8_t> meta;
  for (auto it = chunks.rbegin(); it != chunks.rend(); ++it) {
    if (meta.size() + it->second.size() > cp.meta_bytes) return Status::corruption("metadata longer than recorded");
    meta.insert(meta.end(), it->second.begin(), it->second.end());
  }
  if (meta.size() != cp.meta_bytes || format::hash64(meta.data(), meta.size()) != cp.meta_hash)
    return Status::corruption("metadata checksum mismatch");

  MetaReader r(meta);
  uint64_t version, pages, nsegs, nbad;
  if (!r.u64(&version) || version < 1 || version > format::kMetaVersionCapacity)
    return Status::corruption("unknown metadata version");
  // Version 3, and it alone, carries the capacity: on a resizable image.
  if ((version == format::kMetaVersionCapacity) != resizable_)
    return Status::corruption("metadata version " + std::to_string(version) +
                              (resizable_ ? " has no capacity, which a resizable image's must carry"
                                          : " is for resizable images, and this one is not"));
  uint64_t capacity = sb_.block_count;
  if (resizable_) {
    // The last 8 bytes: needed before the page table and bad list are checked against it.
    if (meta.size() < 16) return Status::corruption("metadata truncated");
    capacity = format::get_u64(meta.data() + meta.size() - 8);
    if (Status s = format::validate_geometry(sb_.block_size, capacity, sb_.segment_size); !s)
      return Status::corruption("metadata capacity invalid: " + s.message());
    block_count_ = capacity;
  }
  if (!r.u64(&used_) || !r.u64(&zero_) || !r.u64(&trimmed_) || !r.u64(&stored_) || !r.u64(&pages))
    return Status::corruption("metadata truncated");
  if (used_ > capacity || zero_ > used_ || trimmed_ > capacity - used_)
    return Status::corruption("metadata block counters invalid");
  if (pages > r.remaining() / format::kMetaPageEntrySize) return Status::corruption("metadata page count invalid");
  const uint64_t page_limit = (capacity + sb_.entries_per_page - 1) / sb_.entries_per_page;
  for (uint64_t i = 0; i < pages; ++i) {
    uint64_t page_no, off;
    uint32_t len, reserved;
    if (!r.u64(&page_no) || !r.u64(&off) || !r.u32(&len) || !r.u32(&reserved)) return Status::corruption("metadata truncated");
    if (reserved != 0) return Status::corruption("index directory entry " + std::to_string(i) + " reserved field is not zero");
    if (page_no >= page_limit || off < sb_.data_start || off >= *file_size || len < format::kRecordHeaderSize ||
        len > format::record_total_length(format::kMaxRecordPayload) || page_dir_.count(page_no))
      return Status::corruption("index directory entry " + std::to_string(i) + " invalid");
    page_dir_[page_no] = {off, len};
  }
  if (!r.u64(&nsegs) || nsegs > cp.segment_count || nsegs > r.remaining() / format::kMetaSegmentEntrySize)
    return Status::corruption("metadata segment table invalid");
  for (uint64_t i = 0; i < nsegs; ++i) {
    if (!r.u32(&segs_[i].live) || !r.u32(&segs_[i].fill)) return Status::corruption("metadata truncated");
    if (version >= 2 && segs_[i].live == format::kSegmentReleased && segs_[i].fill == 0) {
      // Released: punch it (again) and free it at the next checkpoint.
      segs_[i].live = 0;
      to_punch_.push_back(i);
      continue;
    }
    if (segs_[i].fill > sb_.segment_size || segs_[i].live > segs_[i].fill)
      return Status::corruption("segment " + std::to_string(i) + " accounting invalid");
  }
  if (!r.u64(&nbad) || nbad > r.remaining() / format::kMetaBadEntrySize) return Status::corruption("metadata bad list invalid");
  uint64_t last_end = 0;
  for (uint64_t i = 0; i < nbad; ++i) {
    uint64_t first, count;
    if (!r.u64(&first) || !r.u64(&count)) return Status::corruption("metadata truncated");
    if (count == 0 || first < last_end || first > capacity || count > capacity - first)
      return Status::corruption("bad-block range " + std::to_string(i) + " invalid");
    bad_.add(first, count);
    last_end = first + count;
  }
  uint64_t stated = 0;  // the capacity, taken from here above
  if (resizable_ && (!r.u64(&stated) || stated != capacity)) return Status::corruption("metadata truncated");
  if (r.remaining() != 0) return Status::corruption("metadata has trailing bytes");
  // The chunks and the head segment were written after the table snapshot.
  for (auto& [loc, _] : chunks) {
    uint64_t seg = segment_of(loc.offset);
    if (seg >= segs_.size()) return Status::corruption("metadata chunk outside the segments");
    if (reclaiming_locked(seg)) return Status::corruption("metadata chunk in a released segment");
    segs_[seg].live += loc.length;
    segs_[seg].fill = std::max<uint32_t>(segs_[seg].fill, static_cast<uint32_t>(loc.offset + loc.length - segment_start(seg)));
    meta_chunks_.push_back(loc);
  }
  if (head_seg_ != format::kNoSegment) {
    if (reclaiming_locked(head_seg_)) return Status::corruption("the head segment is released");
    segs_[head_seg_].fill = std::max(segs_[head_seg_].fill, head_fill_);
  }
  live_total_ = 0;
  for (uint64_t i = 0; i < segs_.size(); ++i) {
    live_total_ += segs_[i].live;
    if (segs_[i].fill == 0 && !reclaiming_locked(i)) free_segs_.insert(i);
  }
  return Status::ok();
}

}  // namespace vblk::store
