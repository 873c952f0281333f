// Opening an image: choose the checkpoint, load its metadata, replay the log.
#include <spdlog/spdlog.h>

#include "format/checkpoint_meta.h"
#include "store/store_impl.h"

namespace vblk::store {

using format::Checkpoint;
using format::RecordHeader;

Status StoreImpl::recover() {
  const std::string& name = backend_->name();
  // A writer opening the image owes a new generation (step 7 of RECOVERY).
  new_generation_due_ = !opts_.read_only;
  std::optional<Checkpoint> best;
  int best_slot = -1;
  for (int slot = 0; slot < 2; ++slot) {
    std::array<uint8_t, format::kCheckpointSize> buf{};
    auto n = read_image(format::kCheckpointOffset[slot], buf);
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
  auto file_size = backend_->end_of_data();
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
  log_.start_at({cp.head_segment, cp.head_fill, cp.next_record_seq}, cp.head_alloc_seq);
  segments_.assign(cp.segment_count);

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

  format::MetaBounds bounds;
  bounds.resizable = resizable_;
  bounds.superblock_block_count = sb_.block_count;
  bounds.block_size = sb_.block_size;
  bounds.segment_size = sb_.segment_size;
  bounds.entries_per_page = sb_.entries_per_page;
  bounds.data_start = sb_.data_start;
  bounds.file_size = *file_size;
  bounds.segment_count = cp.segment_count;
  auto decoded = format::decode_checkpoint_meta(meta, bounds);
  if (!decoded) return decoded.status();
  const format::CheckpointMeta& m = *decoded;
  if (m.block_count) block_count_ = *m.block_count;
  used_ = m.used_blocks;
  zero_ = m.zero_blocks;
  trimmed_ = m.trimmed_blocks;
  stored_ = m.stored_bytes;
  for (const format::MetaPageEntry& p : m.pages) index_.load_stored(p.page_no, {p.record_offset, p.record_length});
  for (uint64_t i = 0; i < m.segments.size(); ++i) {
    if (m.version >= 2 && m.segments[i].is_released()) {
      // Released: punch it (again) and free it at the next checkpoint.
      segments_.load_released(i);
      continue;
    }
    segments_.set_counts(i, m.segments[i].live_bytes, m.segments[i].fill);
  }
  for (const auto& [first, count] : m.bad_ranges) bad_.add(first, count);
  // The chunks and the head segment were written after the table snapshot.
  for (auto& [loc, _] : chunks) {
    uint64_t seg = segment_of(loc.offset);
    if (seg >= segments_.size()) return Status::corruption("metadata chunk outside the segments");
    if (segments_.reclaiming(seg)) return Status::corruption("metadata chunk in a released segment");
    const SegmentInfo& info = segments_.info(seg);
    segments_.set_counts(seg, info.live + loc.length,
                         std::max<uint32_t>(info.fill, static_cast<uint32_t>(loc.offset + loc.length - segment_start(seg))));
    meta_chunks_.push_back(loc);
  }
  if (const uint64_t head = log_.head_segment(); head != format::kNoSegment) {
    if (segments_.reclaiming(head)) return Status::corruption("the head segment is released");
    segments_.set_fill(head, std::max(segments_.info(head).fill, log_.head().fill));
  }
  segments_.finish_load();
  return Status::ok();
}

}  // namespace vblk::store
