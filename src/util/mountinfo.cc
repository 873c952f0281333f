#include "util/mountinfo.h"

#include <limits.h>
#include <stdlib.h>

#include <fstream>
#include <sstream>

namespace vblk {

std::string unescape_mountinfo(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    const bool octal = s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' &&
                       s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7';
    if (octal) {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::optional<std::vector<MountEntry>> read_mountinfo(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::vector<MountEntry> mounts;
  std::string line;
  while (std::getline(in, line)) {
    // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS
    std::istringstream ls(line);
    std::string id, parent, devno, root, mountpoint, field, fstype, source;
    ls >> id >> parent >> devno >> root >> mountpoint;
    while (ls >> field && field != "-") {
    }
    ls >> fstype >> source;
    mounts.push_back(MountEntry{unescape_mountinfo(mountpoint), fstype, unescape_mountinfo(source)});
  }
  return mounts;
}

std::optional<MountEntry> find_mount(const std::string& mountpoint, const std::string& path) {
  std::optional<MountEntry> found;
  for (const MountEntry& m : read_mountinfo(path).value_or(std::vector<MountEntry>{}))
    if (m.mountpoint == mountpoint) found = m;
  return found;
}

std::vector<std::string> vblkfs_mountpoints_of(const std::string& image) {
  std::vector<std::string> found;
  const std::string want = real_path(image);
  if (want.empty()) return found;
  for (const MountEntry& m : read_mountinfo().value_or(std::vector<MountEntry>{}))
    if (m.fstype == "fuse.vblkfs" && m.source == want) found.push_back(m.mountpoint);
  return found;
}

std::string real_path(const std::string& path) {
  char buf[PATH_MAX];
  return ::realpath(path.c_str(), buf) ? std::string(buf) : std::string();
}

}  // namespace vblk
