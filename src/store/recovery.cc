// Opening an image: choose the checkpoint, load its metadata, replay the log.
#include <spdlog/spdlog.h>

#include <algorithm>

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
    auto n = reader_.read_image(format::kCheckpointOffset[slot], buf);
    if (!n) return n.status();
    auto cp = format::decode_checkpoint(std::span<const uint8_t>(buf.data(), *n));
    if (!cp || cp->uuid != sb_.uuid) continue;
    if (!best || cp->generation > best->generation) best = *cp, best_slot = slot;
  }
  if (!best) {
    Status s = Status::corruption(name + ": no valid checkpoint slot (image damaged or not fully created)");
    return opts_.repair ? recover_from_meta_chains(s, 0) : s;
  }
  slot_ = best_slot;
  // A newest slot whose metadata is damaged must not silently fall back to
  // an older state: report it.
  Status loaded = load_checkpoint(*best).with_prefix(name + ": checkpoint generation " +
                                                     std::to_string(best->generation));
  if (!loaded && loaded.is_corruption() && opts_.repair) return recover_from_meta_chains(loaded, best->generation);
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
  const format::MetaBounds bounds = meta_bounds(*file_size, cp.segment_count);
  const format::MetaLocation at{cp.meta_last_chunk, cp.meta_chunks, cp.meta_bytes, cp.meta_hash};
  auto links = read_meta_chain(at, cp.generation, bounds);
  if (!links) return links.status();
  auto folded = fold_meta_chain(*links, bounds);
  if (!folded) return folded.status();
  load_meta_locked(*folded);
  VBLK_RETURN_IF_ERROR(load_chain_locked(*links, cp.generation));
  if (const uint64_t head = log_.head_segment(); head != format::kNoSegment) {
    if (segments_.reclaiming(head)) return Status::corruption("the head segment is released");
    segments_.set_fill(head, std::max(segments_.info(head).fill, log_.head().fill));
  }
  segments_.finish_load();
  return Status::ok();
}

void StoreImpl::load_meta_locked(const format::CheckpointMeta& m) {
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
}

Status StoreImpl::load_chain_locked(const std::vector<MetaLink>& links, uint64_t generation) {
  // The older links' META records were written before the newest snapshot:
  // it counts them, in segments in use that reach past them.
  chain_ = MetaChain{};
  for (size_t k = links.size(); k-- > 1;) {
    for (const PageLocation& loc : links[k].chunks) {
      const uint64_t seg = segment_of(loc.offset);
      if (seg >= segments_.size() || segments_.reclaiming(seg) ||
          segments_.info(seg).fill < loc.offset + loc.length - segment_start(seg))
        return Status::corruption("metadata chunk at offset " + std::to_string(loc.offset) + " of generation " +
                                  std::to_string(generation - k) +
                                  ", which the chain needs, lies in a segment the table does not keep");
      chain_.chunks.push_back(loc);
    }
    (k + 1 == links.size() ? chain_.base_bytes : chain_.delta_bytes) += links[k].at.bytes;
  }
  // The newest link's chunks were written after the table snapshot.
  // (Changes: the next DELTA must record them.)
  const MetaLink& newest = links.front();
  for (const PageLocation& loc : newest.chunks) {
    uint64_t seg = segment_of(loc.offset);
    if (seg >= segments_.size()) return Status::corruption("metadata chunk outside the segments");
    if (segments_.reclaiming(seg)) return Status::corruption("metadata chunk in a released segment");
    segments_.add_live(seg, loc.length);
    segments_.set_fill(seg, std::max<uint32_t>(segments_.info(seg).fill,
                                               static_cast<uint32_t>(loc.offset + loc.length - segment_start(seg))));
    chain_.chunks.push_back(loc);
  }
  (links.size() == 1 ? chain_.base_bytes : chain_.delta_bytes) += newest.at.bytes;
  chain_.depth = links.size() - 1;
  chain_.last = newest.at;
  return Status::ok();
}

format::MetaBounds StoreImpl::meta_bounds(uint64_t file_size, uint64_t segment_count) const {
  format::MetaBounds bounds;
  bounds.resizable = resizable_;
  bounds.delta = delta_checkpoints_;
  bounds.superblock_block_count = sb_.block_count;
  bounds.block_size = sb_.block_size;
  bounds.segment_size = sb_.segment_size;
  bounds.entries_per_page = sb_.entries_per_page;
  bounds.data_start = sb_.data_start;
  bounds.file_size = file_size;
  bounds.segment_count = segment_count;
  return bounds;
}

Result<MetaLink> StoreImpl::read_meta_link(const format::MetaLocation& at, uint64_t generation,
                                           const format::MetaBounds& bounds) {
  // Walk the chunk chain backward, then assemble forward.
  MetaLink link;
  link.at = at;
  std::vector<RawBuffer> raws;
  uint64_t off = at.last_chunk;
  for (uint64_t i = at.chunks; i-- > 0;) {
    if (off < sb_.data_start || off >= bounds.file_size)
      return Status::corruption("metadata chunk offset out of the file");
    RecordHeader h;
    RawBuffer raw;
    VBLK_RETURN_IF_ERROR(reader_.read_record(off, format::kRecordHeaderSize, &h, &raw).with_prefix(
        "metadata chunk at offset " + std::to_string(off)));
    if (h.type != format::RecordType::kMeta || h.count != i || h.generation != generation - 1)
      return Status::corruption("metadata chunk at offset " + std::to_string(off) + " is not chunk " +
                                std::to_string(i) + " of generation " + std::to_string(generation));
    link.chunks.push_back({off, format::record_total_length(h.stored_len)});
    raws.push_back(std::move(raw));
    if (i == 0 && h.first != 0) return Status::corruption("metadata chain does not end");
    off = h.first;
  }
  std::reverse(link.chunks.begin(), link.chunks.end());
  std::vector<uint8_t> meta;
  for (auto it = raws.rbegin(); it != raws.rend(); ++it) {
    if (meta.size() + it->size() > at.bytes) return Status::corruption("metadata longer than recorded");
    meta.insert(meta.end(), it->begin(), it->end());
  }
  if (meta.size() != at.bytes || format::hash64(meta.data(), meta.size()) != at.hash)
    return Status::corruption("metadata checksum mismatch");
  auto decoded = format::decode_checkpoint_meta(meta, bounds);
  if (!decoded) return decoded.status();
  link.meta = std::move(*decoded);
  return link;
}

Result<std::vector<MetaLink>> StoreImpl::read_meta_chain(const format::MetaLocation& at, uint64_t generation,
                                                         const format::MetaBounds& bounds) {
  std::vector<MetaLink> links;
  format::MetaLocation next = at;
  // Each link is of the generation before the one after it and one depth
  // less, so the walk ends (at most kMaxDeltaDepth links) and never loops.
  for (uint64_t g = generation;; --g) {
    const std::string where = "metadata chain: the delta of generation " + std::to_string(g + 1) +
                              " names the metadata of generation " + std::to_string(g);
    if (g == 0)
      return Status::corruption(links.empty() ? "checkpoint generation 0 has metadata" : where + ", which has none");
    auto link = read_meta_link(next, g, bounds);
    if (!link) return links.empty() ? link.status() : link.status().with_prefix(where);
    const uint64_t depth = link->meta.is_delta() ? link->meta.depth : 0;
    if (!links.empty() && depth + 1 != links.back().meta.depth)
      return Status::corruption(where + ", of depth " + std::to_string(depth) + ", which does not follow depth " +
                                std::to_string(links.back().meta.depth));
    next = link->meta.prev;
    links.push_back(std::move(*link));
    if (depth == 0) return links;
  }
}

Result<format::CheckpointMeta> StoreImpl::fold_meta_chain(const std::vector<MetaLink>& links,
                                                          const format::MetaBounds& bounds) {
  std::vector<format::CheckpointMeta> deltas;
  deltas.reserve(links.size() - 1);
  for (size_t k = links.size() - 1; k-- > 0;) deltas.push_back(links[k].meta);
  return format::fold_checkpoint_chain(links.back().meta, deltas, bounds);
}

}  // namespace vblk::store
