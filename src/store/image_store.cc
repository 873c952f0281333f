// ImageStore entry points: create, open, and the block operations.
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include <chrono>
#include <cstring>

#include "format/unit_table.h"
#include "store/file_backend.h"
#include "store/store_impl.h"

namespace vblk {

using format::IndexEntry;
using format::RecordHeader;
using format::RecordType;

namespace store {

Result<format::Superblock> superblock_for(const std::string& path, const FormatOptions& opts) {
  const uint32_t segment_size = opts.segment_size ? opts.segment_size : format::kDefaultSegmentSize;
  const uint64_t data_start = opts.data_start ? opts.data_start : format::kDefaultDataStart;
  if (data_start < 3 * 4096 || data_start % 4096 || data_start > (1ull << 30))
    return Status::invalid_argument(path + ": data start " + std::to_string(data_start) + " invalid");
  if (Status s = format::validate_geometry(opts.block_size, opts.block_size ? opts.capacity_bytes / opts.block_size : 0,
                                           segment_size);
      !s)
    return s.with_prefix(path);
  if (opts.capacity_bytes % opts.block_size)
    return Status::invalid_argument(path + ": size " + std::to_string(opts.capacity_bytes) +
                                    " is not a whole number of " + std::to_string(opts.block_size) + "-byte blocks");
  if (opts.compression_level < 0 || opts.compression_level > 19)
    return Status::invalid_argument(path + ": compression level " + std::to_string(opts.compression_level) +
                                    " is outside 0..19");
  if (opts.label.size() > format::kMaxLabelBytes)
    return Status::invalid_argument(path + ": label longer than 63 bytes");

  format::Superblock sb;
  sb.block_size = opts.block_size;
  sb.block_count = opts.capacity_bytes / opts.block_size;
  sb.compression = opts.compression_level > 0 ? format::Compression::kZstd : format::Compression::kNone;
  sb.compression_level = opts.compression_level;
  sb.max_record_bytes = std::max(format::kDefaultMaxRecordBytes, opts.block_size);
  sb.segment_size = segment_size;
  sb.data_start = data_start;
  sb.created_unix = static_cast<uint64_t>(std::time(nullptr));
  sb.label = opts.label;
  sb.incompat_features = format::kFeatureUnitTables | format::kFeatureDeferredCompression |
                         format::kFeatureIndependentUnits | (opts.flush_records ? format::kFeatureFlushRecords : 0) |
                         (opts.resizable ? format::kFeatureResizable : 0);
  // A random (version 4) UUID, as mke2fs and mkswap make them.
  static_assert(sizeof(uuid_t) == sizeof(sb.uuid));
  uuid_generate_random(sb.uuid.data());
  return sb;
}

}  // namespace store

namespace store {
namespace {

// Writes an empty image under a temporary name beside `path` and renames it
// to `path`. Returns the new file, still open and exclusively locked.
Result<std::unique_ptr<io::File>> replace_with_empty_image(const std::string& path, const FormatOptions& opts) {
  auto made = superblock_for(path, opts);
  if (!made) return made.status();
  // Build under a temporary name and rename into place, so an existing image
  // is untouched on failure and a half-written one never carries the name.
  struct stat st;
  bool exists = ::stat(path.c_str(), &st) == 0;
  if (exists && S_ISDIR(st.st_mode)) return Status::invalid_argument(path + ": is a directory");
  if (exists && !opts.force) return Status::invalid_argument(path + ": file exists (use --force to overwrite)");
  // An image in use (a vblkfs mount) is never replaced: its holder would go
  // on writing into the unlinked file. The old file's lock is held until the
  // new one has the name, so no process opens the old image in between.
  std::unique_ptr<io::File> old;
  if (exists) {
    auto locked = io::lock_for_replace(path);
    if (!locked) return locked.status();
    old = std::move(*locked);
  }
  std::string tmp = path + ".vblk-tmp-" + std::to_string(::getpid());
  auto file = io::open_posix_file(tmp, true, true, io::LockMode::kExclusive, path);
  if (!file) return file.status();
  Status s = write_empty_image(**file, *made);
  if (s && ::rename(tmp.c_str(), path.c_str()) != 0) s = Status::from_errno(errno, path + ": rename");
  if (!s) {
    ::unlink(tmp.c_str());
    return s;
  }
  return std::move(*file);
}

}  // namespace
}  // namespace store

Status ImageStore::create(const std::string& path, const FormatOptions& opts) {
  auto file = store::replace_with_empty_image(path, opts);
  return file ? Status::ok() : file.status();
}

Result<std::unique_ptr<ImageStore>> ImageStore::create_and_open(const std::string& path, const FormatOptions& format,
                                                                const OpenOptions& open) {
  auto file = store::replace_with_empty_image(path, format);
  if (!file) return file.status();
  // The file stays locked from its creation on: no other process can open
  // the new image before the caller has filled it.
  auto opened = store::open_image_file(std::move(*file), open);
  if (!opened) ::unlink(path.c_str());
  return opened;
}

Result<std::unique_ptr<ImageStore>> ImageStore::open(const std::string& path, const OpenOptions& opts) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return Status::from_errno(errno, path);
  if (S_ISDIR(st.st_mode)) return Status::invalid_argument(path + ": is a directory, not an image file");
  if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
    return Status::invalid_argument(path + ": not a regular file");
  auto file = io::open_posix_file(path, !opts.read_only, false,
                                  opts.read_only ? io::LockMode::kShared : io::LockMode::kExclusive);
  if (!file) return file.status();
  return store::open_image_file(std::move(*file), opts);
}

namespace store {

Status write_empty_image(io::File& file, const format::Superblock& sb) {
  FileBackend backend(file);
  return write_empty_image(backend, sb);
}

Status write_empty_image(SegmentBackend& backend, const format::Superblock& sb) {
  std::array<uint8_t, format::kSuperblockSize> sbuf{};
  format::encode_superblock(sb, sbuf);
  format::Checkpoint cp;
  cp.head_segment = format::kNoSegment;
  cp.uuid = sb.uuid;
  std::array<uint8_t, format::kCheckpointSize> cbuf{};
  format::encode_checkpoint(cp, cbuf);
  std::vector<uint8_t> zero(format::kCheckpointSize);
  VBLK_RETURN_IF_ERROR(backend.write_header(0, sbuf));
  VBLK_RETURN_IF_ERROR(backend.write_header(format::kCheckpointOffset[0], cbuf));
  VBLK_RETURN_IF_ERROR(backend.write_header(format::kCheckpointOffset[1], zero));
  return backend.sync();
}

Result<std::unique_ptr<ImageStore>> open_image_file(std::unique_ptr<io::File> file, const OpenOptions& opts) {
  return open_image(std::make_unique<FileBackend>(std::move(file)), opts);
}

Result<std::unique_ptr<ImageStore>> open_image(std::unique_ptr<SegmentBackend> backend, const OpenOptions& opts) {
  const std::string path = backend->name();
  std::array<uint8_t, format::kSuperblockSize> buf{};
  auto n = backend->read_header(0, buf);
  if (!n) return n.status();
  auto sb = format::decode_superblock(std::span<const uint8_t>(buf.data(), *n), path);
  if (!sb) return sb.status();
  if (!opts.read_only && (sb->autoclear_features & ~format::kKnownAutoclearFeatures)) {
    // vblk(5): a writer that does not know an autoclear bit cannot keep its
    // promise and clears it before it writes anything else (found by the
    // hostile-image test feature-autoclear-unknown).
    sb->autoclear_features &= format::kKnownAutoclearFeatures;
    std::array<uint8_t, format::kSuperblockSize> out{};
    format::encode_superblock(*sb, out);
    Status s = backend->write_header(0, out);
    if (s) s = backend->sync();
    if (!s) return s.with_prefix(path + ": clearing unknown autoclear feature bits");
  }
  backend->set_geometry(*sb);
  auto store = std::make_unique<StoreImpl>(std::move(backend), *sb, opts);
  if (Status s = store->recover_at_open(); !s) {
    // What replay rebuilt so far is not the image: closing must not
    // checkpoint it over the image's own state.
    store->discard();
    return s;
  }
  // A writable open starts a new generation, so that records of a crashed
  // session beyond the recovered log end can never be replayed later; it
  // does so with its first change (start_generation_locked), so that an
  // open without one leaves the file as it was.
  if (!opts.read_only) store->start_maintenance();
  return std::unique_ptr<ImageStore>(std::move(store));
}

}  // namespace store

namespace store {

StoreImpl::StoreImpl(std::unique_ptr<SegmentBackend> backend, const format::Superblock& sb, const OpenOptions& opts)
    : backend_(std::move(backend)),
      sb_(sb),
      opts_(opts),
      level_(opts.compression_level >= 0 ? opts.compression_level : sb.compression_level),
      max_record_blocks_(std::min(sb.max_record_bytes / sb.block_size, format::kMaxRecordBlocks)),
      unit_tables_(sb.incompat_features & format::kFeatureUnitTables),
      independent_units_(sb.incompat_features & format::kFeatureIndependentUnits),
      flush_records_(sb.incompat_features & format::kFeatureFlushRecords),
      resizable_(sb.incompat_features & format::kFeatureResizable),
      deferred_((sb.incompat_features & format::kFeatureDeferredCompression) && opts.defer_compression &&
                !opts.read_only && level_ > kDeferredWriteLevel),
      write_level_(deferred_ ? kDeferredWriteLevel : level_),
      last_request_ns_(now_ns()),
      block_count_(sb.block_count),
      segments_(),
      log_(*backend_, sb_, flush_records_),
      index_(sb.entries_per_page, opts.index_cache_bytes) {}

StoreImpl::~StoreImpl() {
  if (Status s = close(); !s) spdlog::error("{}: closing image: {}", backend_->name(), s.to_string());
}

Status StoreImpl::check_writable() const {
  if (opts_.read_only) return Status::read_only(backend_->name() + ": image is open read-only");
  if (closed_) return Status::invalid_argument(backend_->name() + ": image is closed");
  VBLK_RETURN_IF_ERROR(check_powered());
  if (broken_)
    return Status::io_error(backend_->name() +
                            ": an earlier sync or checkpoint of the image file failed; reopen the image to continue");
  return Status::ok();
}

Status StoreImpl::close() {
  stop_maintenance();
  MutexLock lock(mu_);
  if (closed_) return Status::ok();
  Status s;
  // After a power cut the image keeps exactly the flushed state.
  auto checkpoint_needed = [&]() REQUIRES(mu_) {
    return !opts_.read_only && !broken_ && !powered_off_ &&
           (log_.changed_since_checkpoint() || index_.dirty_count() || segments_.count(SegmentState::kEmptied) ||
            segments_.count(SegmentState::kReleased) || segments_.count(SegmentState::kPunched));
  };
  // Up to two checkpoints: the first releases the segments emptied since
  // the last one, which are then punched; the second records them free.
  for (int round = 0; round < 2 && s && checkpoint_needed(); ++round) {
    s = checkpoint_locked();
    if (s && segments_.count(SegmentState::kReleased)) punch_released(false, false);
  }
  if (s) punch_reuse_pool(false);
  closed_ = true;
  return s;
}

ImageInfo StoreImpl::info() {
  MutexLock lock(mu_);
  ImageInfo i;
  i.path = backend_->name();
  i.version = sb_.version;
  i.uuid = format::uuid_to_string(sb_.uuid);
  i.label = sb_.label;
  i.block_size = sb_.block_size;
  i.block_count = block_count_;
  i.capacity_bytes = block_count_ * sb_.block_size;
  i.compression_level = sb_.compression_level;
  i.segment_size = sb_.segment_size;
  i.max_record_bytes = sb_.max_record_bytes;
  i.created_unix = sb_.created_unix;
  i.incompat_features = sb_.incompat_features;
  if (sb_.incompat_features & format::kFeatureUnitTables) i.feature_names.push_back("unit_tables");
  if (sb_.incompat_features & format::kFeatureDeferredCompression)
    i.feature_names.push_back("deferred_compression");
  if (sb_.incompat_features & format::kFeatureFlushRecords) i.feature_names.push_back("flush_records");
  if (resizable_) i.feature_names.push_back("resizable");
  if (independent_units_) i.feature_names.push_back("independent_units");
  i.provisional_bytes = provisional_bytes_locked();
  i.provisional_scanned = provisional_scanned_ || !deferred_;
  i.compat_features = sb_.compat_features;
  i.generation = generation_;
  i.segments = segments_.size();
  i.free_segments = segments_.count(SegmentState::kFree);
  i.powered_off = powered_off_;
  return i;
}

Status StoreImpl::read_blocks(uint64_t first, uint64_t count, std::span<uint8_t> out) {
  const uint32_t bs = sb_.block_size;
  if (out.size() != count * bs) return Status::invalid_argument("read buffer size does not match the block count");
  std::vector<IndexEntry> entries(count);
  note_request();
  {
    MutexLock lock(mu_);
    VBLK_RETURN_IF_ERROR(check_powered());
    VBLK_RETURN_IF_ERROR(check_range(first, count));
    if (auto bad = bad_.first_in(first, count))
      return Status::bad_block("block " + std::to_string(*bad) + " is BAD");
    for (uint64_t i = 0; i < count; ++i) {
      auto e = get_entry(first + i);
      if (!e) return e.status();
      entries[i] = *e;
    }
    evict_pages();
  }
  thread_local RawBuffer raw;  // reused: no allocation per read
  for (uint64_t i = 0; i < count;) {
    const IndexEntry& e = entries[i];
    uint8_t* dst = out.data() + i * bs;
    if (e.record_offset == 0) {
      std::memset(dst, 0, bs);
      ++i;
      continue;
    }
    // Blocks i..j-1 come from the same record.
    uint64_t j = i + 1;
    while (j < count && entries[j].record_offset == e.record_offset) ++j;
    RecordHeader h;
    Status s;
    for (int attempt = 0;; ++attempt) {
      // Only the units of the record that hold the blocks read need decoding.
      uint32_t lowest = entries[i].index_in_record, last = 0;
      for (uint64_t k = i; k < j; ++k) {
        lowest = std::min<uint32_t>(lowest, entries[k].index_in_record);
        last = std::max<uint32_t>(last, entries[k].index_in_record);
      }
      s = read_record_part(entries[i], size_t{lowest} * bs, (size_t{last} + 1) * bs, &h, &raw);
      if (s && (h.type != RecordType::kData || raw.size() != size_t{h.count} * bs))
        s = Status::corruption("record does not hold this block");
      // Each block of the stretch must sit at its own place in the record:
      // an index entry naming another block's place would read that block's
      // data (found by the hostile-image test entry-swapped).
      for (uint64_t k = i; s && k < j; ++k)
        if (entries[k].index_in_record >= h.count || h.first + entries[k].index_in_record != first + k)
          s = Status::corruption("record does not hold this block");
      if (s || attempt == 3) break;
      // The record may have moved (overwrite, reclaim) since the lookup.
      MutexLock lock(mu_);
      bool moved = false;
      for (uint64_t k = i; k < j; ++k) {
        auto now = get_entry(first + k);
        if (!now) return now.status();
        if (!(*now == entries[k])) moved = true;
        entries[k] = *now;
      }
      if (!moved) break;
      if (entries[i].record_offset != e.record_offset) {
        j = i;  // re-plan this stretch from the fresh entries
        break;
      }
    }
    if (j == i) continue;
    // Keep the cause's code: a host read error is not damage to the image
    // (found by the crash test HostFault/read*).
    if (!s)
      return s.with_prefix("block " + std::to_string(first + i) + ": record at image offset " +
                           std::to_string(e.record_offset));
    for (uint64_t k = i; k < j; ++k)
      std::memcpy(out.data() + k * bs, raw.data() + size_t{entries[k].index_in_record} * bs, bs);
    i = j;
  }
  return Status::ok();
}

Status StoreImpl::write_blocks(uint64_t first, std::span<const uint8_t> data) {
  const uint32_t bs = sb_.block_size;
  if (data.size() % bs) return Status::invalid_argument("write buffer is not a whole number of blocks");
  const uint64_t count = data.size() / bs;
  note_request();
  {
    MutexLock lock(mu_);
    VBLK_RETURN_IF_ERROR(check_writable());
    VBLK_RETURN_IF_ERROR(check_range(first, count));
    if (auto bad = bad_.first_in(first, count))
      return Status::bad_block("block " + std::to_string(*bad) + " is BAD");
  }
  // Compression runs without the lock so writers compress in parallel.
  std::vector<PendingRecord> records = build_data_records(first, data, write_level_);
  // Group commit (group_commit.cc): queue up; the front of the queue
  // appends for everyone queued behind it by the time it holds mu_.
  constexpr size_t kMaxBatchWrites = 64;
  WriteWaiter self;
  self.first = first;
  self.count = count;
  self.records = &records;
  // A write of one record (4 KiB random writes) takes mu_ itself: queueing
  // costs each follower a sleep and a wake-up, and the leader hand-over
  // serialises on them; with many server threads on few cores (nbdkit's 16
  // per connection, several connections) that costs more than the host
  // writes it saves (bench/README.md, "Figures behind design choices").
  // Writes of several records still batch.
  if (records.size() == 1) {
    MutexLock lock(mu_);
    commit_writes_locked({&self});
    after_change();
    return self.status;
  }
  {
    MutexLock queue(queue_mu_);
    write_queue_.push_back(&self);
    self.cv.wait(queue_mu_, [&]() REQUIRES(queue_mu_) { return self.done || write_queue_.front() == &self; });
    if (self.done) return self.status;
  }
  // The leader. While it waits for mu_ (held by the previous batch's write
  // or by maintenance), later writers queue up behind it.
  MutexLock lock(mu_);
  std::vector<WriteWaiter*> batch;
  {
    MutexLock queue(queue_mu_);
    while (!write_queue_.empty() && batch.size() < kMaxBatchWrites) {
      batch.push_back(write_queue_.front());
      write_queue_.pop_front();
    }
  }
  commit_writes_locked(batch);
  {
    MutexLock queue(queue_mu_);
    for (WriteWaiter* w : batch) {
      if (w == &self) continue;
      w->done = true;
      w->cv.notify_one();
    }
    if (!write_queue_.empty()) write_queue_.front()->cv.notify_one();
  }
  after_change();
  return self.status;
}

Status StoreImpl::append_range_records(RecordType type, uint64_t first, uint64_t count) {
  // Payload-free records covering a block range, split so `count` fits u32.
  constexpr uint64_t kMaxRangeBlocks = 1u << 30;
  for (uint64_t done = 0; done < count;) {
    PendingRecord rec;
    rec.header.type = type;
    rec.header.first = first + done;
    rec.header.count = static_cast<uint32_t>(std::min(count - done, kMaxRangeBlocks));
    rec.continues_call = done > 0;
    VBLK_RETURN_IF_ERROR(append_and_apply(rec));
    done += rec.header.count;
  }
  return Status::ok();
}

Status StoreImpl::trim_blocks(uint64_t first, uint64_t count) {
  note_request();
  MutexLock lock(mu_);
  VBLK_RETURN_IF_ERROR(check_writable());
  VBLK_RETURN_IF_ERROR(check_range(first, count));
  if (count == 0) return Status::ok();
  VBLK_RETURN_IF_ERROR(append_range_records(RecordType::kTrim, first, count));
  after_change();
  return Status::ok();
}

Status StoreImpl::set_bad(uint64_t first, uint64_t count, bool bad) {
  MutexLock lock(mu_);
  VBLK_RETURN_IF_ERROR(check_writable());
  VBLK_RETURN_IF_ERROR(check_range(first, count));
  VBLK_RETURN_IF_ERROR(append_range_records(bad ? RecordType::kBadSet : RecordType::kBadClear, first, count));
  evict_pages();
  return Status::ok();
}

Status StoreImpl::flush() {
  bool due;
  uint64_t upto, epoch;
  {
    MutexLock lock(mu_);
    if (opts_.read_only) return Status::ok();
    VBLK_RETURN_IF_ERROR(check_writable());
    due = checkpoint_due_locked();
    upto = log_.next_seq() - 1;
    epoch = power_epoch_;
  }
  if (due && !maint_thread_.joinable()) {
    MutexLock lock(mu_);
    return checkpoint_presynced();
  }
  if (due) maint_cv_.notify_one();
  // Every write acknowledged before this call is already in the host file's
  // page cache; fdatasync makes it durable without holding up other I/O.
  Status synced = sync_file();
  uint64_t marker = 0;
  {
    MutexLock lock(mu_);
    VBLK_RETURN_IF_ERROR(after_flush_sync_locked(synced, upto, epoch));
    // The FLUSH record that says so must be durable too before the flush
    // returns: replay trusts only a claim it finds on disk (vblk(5) RECOVERY).
    auto appended = append_flush_records_locked(upto);
    if (!appended) return appended.status().with_prefix(backend_->name() + ": flush: writing the flush record");
    marker = *appended;
  }
  if (marker == 0) return Status::ok();
  synced = sync_file();
  MutexLock lock(mu_);
  return after_flush_sync_locked(synced, marker, epoch);
}

Status StoreImpl::after_flush_sync_locked(const Status& synced, uint64_t durable_seq, uint64_t epoch) {
  if (!synced) {
    // After a failed fdatasync Linux may have dropped the dirty pages and
    // a later fdatasync succeeds without writing them: no later flush
    // could honestly promise durability. Refuse writes until reopened.
    break_after_failed_sync_locked();
    return synced;
  }
  // A power cut while the sync ran dropped what this flush covers.
  if (epoch != power_epoch_) return Status::powered_off(backend_->name() + ": a power cut interrupted the flush");
  log_.mark_durable(durable_seq);
  return Status::ok();
}

Status StoreImpl::checkpoint() {
  MutexLock lock(mu_);
  VBLK_RETURN_IF_ERROR(checkpoint_locked());
  // What this checkpoint released is punched now, not at the next pass of
  // the maintenance thread: the caller may be about to measure the file.
  if (segments_.count(SegmentState::kReleased)) punch_released(true, false);
  punch_reuse_pool(false);
  return Status::ok();
}

DeviceStats StoreImpl::stats() {
  MutexLock lock(mu_);
  DeviceStats s;
  s.used_blocks = used_;
  s.zero_blocks = zero_;
  s.trimmed_blocks = trimmed_;
  s.bad_blocks = bad_.total();
  // BAD blocks keep their index entry FREE or TRIMMED, so count them once.
  // Only pages that exist can hold TRIMMED entries: visit those, so huge or
  // many bad ranges cost what the disk holds (found by the hostile-image
  // test meta-bad-many-huge).
  uint64_t bad_trimmed = 0;
  const std::vector<uint64_t> present = bad_.ranges().empty() ? std::vector<uint64_t>{}
                                                              : present_pages(0, ~0ull);
  for (auto& [f, c] : bad_.ranges()) {
    const uint64_t end = f + c;
    for (auto it = std::lower_bound(present.begin(), present.end(), page_of(f));
         it != present.end() && *it * sb_.entries_per_page < end; ++it) {
      auto page = get_page(*it, false);
      if (!page || !*page) continue;
      const uint64_t lo = std::max(f, *it * sb_.entries_per_page);
      const uint64_t hi = std::min(end, (*it + 1) * sb_.entries_per_page);
      for (uint64_t b = lo; b < hi; ++b)
        if ((*page)->entries[slot_of(b)].state == static_cast<uint8_t>(BlockState::kTrimmed)) ++bad_trimmed;
    }
  }
  evict_pages();
  s.trimmed_blocks -= std::min(s.trimmed_blocks, bad_trimmed);
  const uint64_t blocks = block_count_;
  s.free_blocks = blocks - std::min(blocks, s.used_blocks + s.trimmed_blocks + s.bad_blocks);
  s.stored_bytes = stored_;
  if (auto space = backend_->space()) {
    s.host_file_bytes = space->allocated_bytes;
    s.host_file_size = space->apparent_bytes;
  }
  s.reuse_pool_bytes = segments_.reuse_pool().size() * sb_.segment_size;
  return s;
}

Result<BlockLocation> StoreImpl::locate(uint64_t block) {
  IndexEntry e;
  BlockLocation loc;
  {
    MutexLock lock(mu_);
    VBLK_RETURN_IF_ERROR(check_range(block, 1));
    auto r = get_entry(block);
    if (!r) return r.status();
    e = *r;
    loc.state = effective_state(block, e);
  }
  loc.zero = e.state == static_cast<uint8_t>(BlockState::kUsed) && e.record_offset == 0;
  loc.record_offset = e.record_offset;
  loc.record_length = e.record_length;
  loc.index_in_record = e.index_in_record;
  if (e.record_offset) {
    std::array<uint8_t, format::kRecordHeaderSize> buf{};
    auto n = read_image(e.record_offset, buf);
    if (!n) return n.status();
    auto h = format::decode_record_header(std::span<const uint8_t>(buf.data(), *n));
    // A damaged record (or the damage sentinel) is still where the index
    // says; reading the block says what is wrong with it.
    if (!h || is_damage_sentinel(e.record_offset)) {
      loc.record_blocks = e.blocks_minus_one + 1u;
      return loc;
    }
    loc.record_first_block = h->first;
    loc.record_blocks = h->count;
    loc.compressed = h->flags & format::kRecordFlagCompressed;
    loc.provisional = h->flags & format::kRecordFlagProvisional;
    loc.unit_table = h->flags & format::kRecordFlagUnitTable;
    loc.independent_units = h->flags & format::kRecordFlagIndependentUnits;
    loc.stored_payload = h->stored_len;
  }
  return loc;
}

Result<bool> StoreImpl::stored_zero(uint64_t block) {
  MutexLock lock(mu_);
  VBLK_RETURN_IF_ERROR(check_range(block, 1));
  auto e = get_entry(block);
  if (!e) return e.status();
  return effective_state(block, *e) == BlockState::kUsed && e->record_offset == 0;
}

std::vector<std::pair<uint64_t, uint64_t>> StoreImpl::bad_ranges() {
  MutexLock lock(mu_);
  return {bad_.ranges().begin(), bad_.ranges().end()};
}

Result<CheckReport> StoreImpl::check(const CheckOptions& opts) {
  // Superblock, slot and metadata were verified by open. Here: every index
  // page and every record a USED block points at.
  CheckReport report;
  CheckProgress progress;
  // Reports progress; false when the caller asks to stop.
  auto report_progress = [&] {
    if (!opts.progress) return true;
    progress.records_checked = report.records_checked;
    progress.blocks_checked = report.blocks_checked;
    progress.problems = report.problems.size();
    return opts.progress(progress);
  };
  auto keep_going = [&] {
    report.stopped = !report_progress();
    return !report.stopped;
  };
  auto add_problem = [&](CheckProblem p) {
    if (opts.on_problem) opts.on_problem(p);
    report.problems.push_back(std::move(p));
  };
  std::vector<uint64_t> page_nos;
  std::vector<CheckProblem> replay_problems;
  {
    MutexLock lock(mu_);
    replay_problems = replay_problems_;
    page_nos = index_.present(0, ~0ull);
  }
  for (CheckProblem& p : replay_problems) add_problem(std::move(p));
  progress.index_pages_total = page_nos.size();
  RawBuffer raw;
  for (uint64_t page_no : page_nos) {
    if (!keep_going()) return report;
    progress.index_pages_checked++;
    std::vector<IndexEntry> entries;
    {
      MutexLock lock(mu_);
      auto page = get_page(page_no, false);
      if (!page) {
        add_problem({false, 0, index_.stored_at(page_no).value_or(PageLocation{}).offset, page.status().message()});
        continue;
      }
      if (*page) entries = (*page)->entries;
      evict_pages();
    }
    uint64_t last_offset = 0;
    Status last_status;
    RecordHeader h;
    for (uint32_t i = 0; i < entries.size(); ++i) {
      const IndexEntry& e = entries[i];
      if (e.record_offset == 0) continue;
      const uint64_t block = page_no * sb_.entries_per_page + i;
      report.blocks_checked++;
      if (e.record_offset != last_offset) {
        last_offset = e.record_offset;
        last_status = read_record(e.record_offset, e.record_length, &h, &raw);
        report.records_checked++;
        progress.bytes_read += e.record_length;
        if (last_status && (h.type != RecordType::kData || raw.size() != size_t{h.count} * sb_.block_size))
          last_status = Status::corruption("record does not hold whole blocks");
        if (!keep_going()) return report;
      }
      // Every block of a record is checked against it, not only the first
      // one met (found by the hostile-image test entry-swapped).
      Status s = last_status;
      if (s && (e.index_in_record >= h.count || h.first + e.index_in_record != block))
        s = Status::corruption("record does not hold this block");
      // The cleaner (maintenance thread) may have moved the block and freed
      // the record since the page was copied: judge the block by where it
      // lives now, as a read would (found by crash_test, whose verifying
      // open runs the thread).
      IndexEntry now = e;
      for (int attempt = 0; !s && attempt < 3; ++attempt) {
        {
          MutexLock lock(mu_);
          auto fresh = get_entry(block);
          if (!fresh) return fresh.status();
          if (*fresh == now) break;
          now = *fresh;
        }
        if (now.record_offset == 0) {
          s = Status::ok();
          break;
        }
        RecordHeader nh;
        RawBuffer nraw;
        s = read_record(now.record_offset, now.record_length, &nh, &nraw);
        if (s && (nh.type != RecordType::kData || nraw.size() != size_t{nh.count} * sb_.block_size ||
                  now.index_in_record >= nh.count || nh.first + now.index_in_record != block))
          s = Status::corruption("record does not hold this block");
      }
      if (!s)
        add_problem({true, block, now.record_offset,
                     "block " + std::to_string(block) + ": record at image offset " +
                         std::to_string(now.record_offset) + ": " + s.message()});
    }
  }
  report_progress();  // the final counts; every page was checked
  return report;
}

Status StoreImpl::corrupt_block(uint64_t block) {
  MutexLock lock(mu_);
  VBLK_RETURN_IF_ERROR(check_writable());
  VBLK_RETURN_IF_ERROR(check_range(block, 1));
  auto e = get_entry(block);
  if (!e) return e.status();
  if (e->record_offset == 0)
    return Status::invalid_argument("block " + std::to_string(block) + " has no stored data to corrupt");
  // Already failing its check: corrupting it again could flip the byte
  // back. The block stays damaged, as asked.
  format::RecordHeader h;
  RawBuffer raw;
  const size_t begin = size_t{e->index_in_record} * sb_.block_size;
  Status readable = read_record_part(*e, begin, begin + sb_.block_size, &h, &raw);
  if (readable.is_corruption()) return Status::ok();
  auto at = corruption_target(*e);
  if (!at) return at.status();
  uint8_t byte = 0;
  auto n = read_image(*at, {&byte, 1});
  if (!n) return n.status();
  byte ^= 0x5a;
  return backend_->overwrite(segment_of(*at), static_cast<uint32_t>(*at - segment_start(segment_of(*at))),
                             {&byte, 1});
}

Result<uint64_t> StoreImpl::corruption_target(const IndexEntry& e) {
  const uint64_t payload_at = e.record_offset + format::kRecordHeaderSize;
  const uint64_t middle = payload_at + (e.record_length - format::kRecordHeaderSize) / 2;
  // A read checks a payload with a unit table only up to the unit it
  // needs: the byte must be in the unit that holds the block.
  std::array<uint8_t, format::kRecordHeaderSize> head;
  auto n = read_image(e.record_offset, head);
  if (!n) return n.status();
  auto h = format::decode_record_header({head.data(), *n});
  if (!h || !(h->flags & format::kRecordFlagUnitTable)) return middle;
  RawBuffer table_bytes;
  table_bytes.resize(std::min<size_t>(h->stored_len, format::unit_table_size(format::unit_count_for(
                                                          h->raw_len, format::kMinBlockSize))));
  n = read_image(payload_at, std::span<uint8_t>(table_bytes.data(), table_bytes.size()));
  if (!n) return n.status();
  auto table = format::decode_unit_table({table_bytes.data(), *n}, h->stored_len, h->raw_len, h->payload_hash);
  if (!table) return middle;  // damaged already: any byte will do
  const uint32_t unit = table->unit_of(size_t{e.index_in_record} * sb_.block_size);
  if (unit >= table->unit_count()) return middle;  // the entry does not fit the record: reads fail anyway
  const uint32_t start = unit ? table->end(unit - 1) : 0;
  return payload_at + table->size() + (start + table->end(unit)) / 2;
}

}  // namespace store
}  // namespace vblk
