#pragma once
// Creating and opening member-set images (vblk(5), MEMBER SETS): IMAGE and
// its member files. ImageStore::create/open call these for images with
// kFeatureMemberSet; tests call the File-level ones with in-memory or
// crash-recording files.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ec/layout.h"
#include "format/format.h"
#include "format/member_set.h"
#include "io/file.h"
#include "store/member_backend.h"
#include "vblk/image_store.h"

namespace vblk::store {

// Opens (create = true: creates, empty) the member file a table entry names.
using MemberOpener = std::function<Result<std::unique_ptr<io::File>>(const std::string& name, bool create)>;

// The member table of a new member set: the layout checked, a UUID per
// member, member m's file name from names(m).
Result<format::MemberTable> new_member_table(const format::Superblock& sb, const MemberSetFormat& f,
                                             const std::function<std::string(uint32_t m, uint32_t box)>& names);
// Writes a new member set: every member file's header (synced), then into
// `image` the member table, the superblock and an empty checkpoint.
Status write_member_set(io::File& image, const format::Superblock& sb, const format::MemberTable& table,
                        const MemberOpener& open_member);
// The backend of the member set `image` (whose superblock is sb) holds.
// A member that cannot be opened, or whose header is damaged, is marked
// failed; one whose header names another image or index is refused
// (InvalidArgument naming its file).
Result<std::unique_ptr<MemberBackend>> open_member_backend(std::unique_ptr<io::File> image,
                                                           const format::Superblock& sb,
                                                           const MemberOpener& open_member, bool read_only);

// On the host. The file names of a new member set's members: under
// IMAGE.members/ (made here; relative to IMAGE's directory, so that the two
// move together), or round-robin by box over f.member_dirs (absolute).
Result<std::function<std::string(uint32_t m, uint32_t box)>> member_names(const std::string& path,
                                                                          const MemberSetFormat& f);
Result<std::unique_ptr<MemberBackend>> open_member_set_files(std::unique_ptr<io::File> image,
                                                             const format::Superblock& sb, bool read_only);
// The backend of the member set at `path`, the image lock taken (shared
// when read_only), its superblock's geometry set; InvalidArgument for an
// image that is not a member set.
Result<std::unique_ptr<MemberBackend>> open_member_set_path(const std::string& path, bool read_only);
// Offline (the image not in use): fails or restores a member or a box of
// the member set at `path`, persisted in its member table (the injector's
// and the tests' way to take members away; MemberBackend::fail_member and
// the rest say what each does).
enum class MemberChange : uint8_t { kFailMember, kRestoreMember, kFailBox, kRestoreBox };
Status change_members(const std::string& path, MemberChange change, uint32_t index);

// The host opener of IMAGE's members (names relative to IMAGE's directory).
MemberOpener host_member_opener(const std::string& image_path, bool writable);

}  // namespace vblk::store
