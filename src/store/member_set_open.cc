// Creating and opening member-set images: the member table, the member
// files' headers, the checks that keep another image's member out.
#include "store/member_set_open.h"

#include <sys/stat.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include <climits>
#include <cstdio>
#include <cstdlib>

#include "store/file_backend.h"
#include "store/open.h"

namespace vblk::store {

namespace {

std::string dir_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

std::string base_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string member_number(uint32_t m) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "m%03u", m);
  return buf;
}

}  // namespace

Result<format::MemberTable> new_member_table(const format::Superblock& sb, const MemberSetFormat& f,
                                             const std::function<std::string(uint32_t, uint32_t)>& names) {
  ec::LayoutOptions o;
  o.data_members = f.data_members;
  o.group_size = f.group_size;
  o.global_parity = f.global_parity;
  o.spares = f.spares;
  o.boxes = f.boxes;
  o.ha = f.ha;
  auto layout = ec::Layout::create(o);
  if (!layout) return layout.status();
  format::MemberTable t;
  t.image_uuid = sb.uuid;
  t.chunk_size = f.chunk_size ? f.chunk_size : kDefaultChunkSize;
  if (t.chunk_size % ec::kChunkAlign || t.chunk_size > sb.segment_size)
    return Status::invalid_argument("chunk size " + std::to_string(t.chunk_size) +
                                    ": must be a multiple of 64 bytes and at most the segment size");
  ec::encode_layout(*layout, t.layout);
  if (layout->member_count() > format::kMaxTableMembers)
    return Status::invalid_argument(std::to_string(layout->member_count()) + " members: at most " +
                                    std::to_string(format::kMaxTableMembers));
  for (const ec::Member& m : layout->members()) {
    format::MemberEntry e;
    uuid_generate_random(e.uuid.data());
    e.role = static_cast<uint8_t>(m.role);
    e.box = m.box;
    e.name = names(m.index, m.box);
    t.members.push_back(std::move(e));
  }
  return t;
}

Status write_member_set(io::File& image, const format::Superblock& sb, const format::MemberTable& table,
                        const MemberOpener& open_member) {
  for (uint32_t m = 0; m < table.members.size(); ++m) {
    auto file = open_member(table.members[m].name, true);
    if (!file) return file.status();
    format::MemberHeader h;
    h.index = m;
    h.image_uuid = sb.uuid;
    h.member_uuid = table.members[m].uuid;
    h.role = table.members[m].role;
    h.chunk_size = table.chunk_size;
    std::array<uint8_t, 64> buf{};
    format::encode_member_header(h, buf);
    VBLK_RETURN_IF_ERROR((*file)->write_at(0, buf));
    VBLK_RETURN_IF_ERROR((*file)->sync());
  }
  auto bytes = format::encode_member_table(table);
  if (!bytes) return bytes.status();
  VBLK_RETURN_IF_ERROR(image.write_at(format::kMemberTableOffset[0], *bytes));
  return write_empty_image(image, sb);
}

Result<std::unique_ptr<MemberBackend>> open_member_backend(std::unique_ptr<io::File> image,
                                                           const format::Superblock& sb,
                                                           const MemberOpener& open_member, bool read_only) {
  const std::string name = image->name();
  std::vector<uint8_t> copies[2];
  for (int s = 0; s < 2; ++s) {
    copies[s].resize(format::kMemberTableSlotBytes);
    auto n = image->read_at(format::kMemberTableOffset[s], copies[s]);
    if (!n) return n.status();
    copies[s].resize(*n);
  }
  auto picked = format::pick_member_table(copies[0], copies[1]);
  if (!picked) return picked.status().with_prefix(name);
  format::MemberTable& table = picked->table;
  if (table.image_uuid != sb.uuid)
    return Status::corruption(name + ": the member table belongs to image " + format::uuid_to_string(table.image_uuid));
  std::vector<std::unique_ptr<io::File>> files(table.members.size());
  std::vector<std::string> causes(table.members.size());
  for (uint32_t m = 0; m < table.members.size(); ++m) {
    const format::MemberEntry& e = table.members[m];
    auto file = open_member(e.name, false);
    if (!file) {
      causes[m] = file.status().message();
      continue;
    }
    std::array<uint8_t, 64> buf{};
    auto n = (*file)->read_at(0, buf);
    auto h = n ? format::decode_member_header(std::span<const uint8_t>(buf.data(), *n)) : n.status();
    if (!h) {
      causes[m] = (*file)->name() + ": " + h.status().message();
      continue;
    }
    std::string wrong;
    if (h->image_uuid != sb.uuid)
      wrong = "is a member of image " + format::uuid_to_string(h->image_uuid) + ", not of " +
              format::uuid_to_string(sb.uuid);
    else if (h->index != m || h->member_uuid != e.uuid)
      wrong = "is member " + std::to_string(h->index) + " of this image, not member " + std::to_string(m);
    if (!wrong.empty()) {
      // A failed member's place may hold anything; a live one must be the
      // file the table names, or the rows would mix two disks' bytes.
      if (e.state != format::MemberState::kOk) continue;
      return Status::invalid_argument((*file)->name() + ": " + wrong + " (refused)");
    }
    files[m] = std::move(*file);
  }
  return MemberBackend::make(std::move(image), std::move(table), picked->slot, std::move(files), std::move(causes),
                             read_only);
}

MemberOpener host_member_opener(const std::string& image_path, bool writable) {
  const std::string dir = dir_of(image_path);
  return [dir, writable](const std::string& name, bool create) -> Result<std::unique_ptr<io::File>> {
    const std::string path = (!name.empty() && name[0] == '/') || dir == "." ? name : dir + "/" + name;
    if (create) ::unlink(path.c_str());
    return io::open_posix_file(path, writable || create, create, io::LockMode::kNone);
  };
}

Result<std::unique_ptr<MemberBackend>> open_member_set_files(std::unique_ptr<io::File> image,
                                                             const format::Superblock& sb, bool read_only) {
  const std::string path = image->name();
  return open_member_backend(std::move(image), sb, host_member_opener(path, !read_only), read_only);
}

Result<std::unique_ptr<MemberBackend>> open_member_set_path(const std::string& path, bool read_only) {
  auto file = io::open_posix_file(path, !read_only, false, read_only ? io::LockMode::kShared : io::LockMode::kExclusive);
  if (!file) return file.status();
  std::array<uint8_t, format::kSuperblockSize> buf{};
  auto n = (*file)->read_at(0, buf);
  if (!n) return n.status();
  auto sb = format::decode_superblock(std::span<const uint8_t>(buf.data(), *n), path);
  if (!sb) return sb.status();
  if (!(sb->incompat_features & format::kFeatureMemberSet))
    return Status::invalid_argument(path + ": not a member set (it has no member files)");
  auto backend = open_member_set_files(std::move(*file), *sb, read_only);
  // The superblock's geometry, for callers that use the backend without a
  // store above it (vblk-rebuild, vblk-inspect --members, the parity check).
  if (backend) (*backend)->set_geometry(*sb);
  return backend;
}

Status change_members(const std::string& path, MemberChange change, uint32_t index) {
  auto backend = open_member_set_path(path, false);
  if (!backend) return backend.status();
  MemberBackend& b = **backend;
  switch (change) {
    case MemberChange::kFailMember: return b.fail_member(index);
    case MemberChange::kRestoreMember: return b.restore_member(index);
    case MemberChange::kFailBox: return b.fail_box(index);
    case MemberChange::kRestoreBox: return b.restore_box(index);
  }
  return Status::invalid_argument("unknown member change");
}

// The names of a new member set's files: under IMAGE.members/ (relative to
// IMAGE's directory, so that the two move together), or round-robin by box
// over the --member-dir directories (absolute).
Result<std::function<std::string(uint32_t, uint32_t)>> member_names(const std::string& path,
                                                                    const MemberSetFormat& f) {
  std::vector<std::string> dirs;
  const std::string base = base_of(path);
  if (f.member_dirs.empty()) {
    const std::string dir = dir_of(path) + "/" + base + ".members";
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return Status::from_errno(errno, dir);
    return std::function<std::string(uint32_t, uint32_t)>(
        [base](uint32_t m, uint32_t) { return base + ".members/" + member_number(m); });
  }
  for (const std::string& d : f.member_dirs) {
    char real[PATH_MAX];
    if (!::realpath(d.c_str(), real)) return Status::from_errno(errno, d);
    struct stat st;
    if (::stat(real, &st) != 0 || !S_ISDIR(st.st_mode)) return Status::invalid_argument(d + ": not a directory");
    dirs.push_back(real);
  }
  return std::function<std::string(uint32_t, uint32_t)>([dirs, base](uint32_t m, uint32_t box) {
    return dirs[box % dirs.size()] + "/" + base + "." + member_number(m);
  });
}

}  // namespace vblk::store
