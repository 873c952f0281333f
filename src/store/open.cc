// Creating and opening images: the ImageStore entry points and the store's
// own (open_image, write_empty_image) that a segment backend's opener calls.
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include <chrono>
#include <cstring>

#include "format/unit_table.h"
#include "store/file_backend.h"
#include "store/member_set_open.h"
#include "store/open.h"
#include "store/store_impl.h"

namespace vblk {

using format::IndexEntry;
using format::RecordHeader;
using format::RecordType;

namespace store {

Result<format::Superblock> superblock_for(const std::string& path, const FormatOptions& opts) {
  const uint32_t segment_size = opts.segment_size ? opts.segment_size : format::kDefaultSegmentSize;
  const bool member_set = opts.members.data_members > 0;
  const uint64_t data_start =
      opts.data_start ? opts.data_start : member_set ? format::kMemberSetDataStart : format::kDefaultDataStart;
  if (member_set && data_start < format::kMemberSetDataStart)
    return Status::invalid_argument(path + ": data start " + std::to_string(data_start) +
                                    " leaves no room for the member table");
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
                         format::kFeatureIndependentUnits | format::kFeatureDeltaCheckpoints |
                         (opts.flush_records ? format::kFeatureFlushRecords : 0) |
                         (opts.resizable ? format::kFeatureResizable : 0) |
                         (member_set ? format::kFeatureMemberSet : 0);
  // A random (version 4) UUID, as mke2fs and mkswap make them.
  static_assert(sizeof(uuid_t) == sizeof(sb.uuid));
  uuid_generate_random(sb.uuid.data());
  return sb;
}

}  // namespace store

namespace store {
namespace {

// Creates the member files of a new member set and writes its IMAGE into
// `image`; `created` collects the member files made, to remove on failure.
Status write_new_member_set(const std::string& path, const FormatOptions& opts, io::File& image,
                            const format::Superblock& sb, std::vector<std::string>& created) {
  auto names = member_names(path, opts.members);
  if (!names) return names.status().with_prefix(path);
  auto table = new_member_table(sb, opts.members, *names);
  if (!table) return table.status().with_prefix(path);
  const MemberOpener host = host_member_opener(path, true);
  const std::string dir = path.rfind('/') == std::string::npos ? "." : path.substr(0, path.rfind('/'));
  MemberOpener opener = [&](const std::string& name, bool create) -> Result<std::unique_ptr<io::File>> {
    const std::string at = name[0] == '/' ? name : dir + "/" + name;
    struct stat st;
    if (create && ::stat(at.c_str(), &st) == 0 && !opts.force)
      return Status::invalid_argument(at + ": file exists (use --force to overwrite)");
    auto f = host(name, create);
    if (f && create) created.push_back(at);
    return f;
  };
  return write_member_set(image, sb, *table, opener);
}

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
  std::vector<std::string> members;
  Status s = opts.members.data_members ? write_new_member_set(path, opts, **file, *made, members)
                                       : write_empty_image(**file, *made);
  if (s && ::rename(tmp.c_str(), path.c_str()) != 0) s = Status::from_errno(errno, path + ": rename");
  if (!s) {
    ::unlink(tmp.c_str());
    for (const std::string& m : members) ::unlink(m.c_str());
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
  // A member set's IMAGE holds the header area only: its segments are on
  // the member files its table names.
  std::array<uint8_t, format::kSuperblockSize> buf{};
  auto n = file->read_at(0, buf);
  if (!n) return n.status();
  auto sb = format::decode_superblock(std::span<const uint8_t>(buf.data(), *n), file->name());
  if (sb && (sb->incompat_features & format::kFeatureMemberSet)) {
    auto backend = open_member_set_files(std::move(file), *sb, opts.read_only);
    if (!backend) return backend.status();
    return open_image(std::move(*backend), opts);
  }
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

}  // namespace vblk
