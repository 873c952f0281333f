#include "inject/rules_file.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <spdlog/fmt/fmt.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

#include "inject/command.h"

namespace vblk::inject {

std::string rules_path(const std::string& image) { return image + ".faults"; }

std::string real_image_path(const std::string& image) {
  char buf[PATH_MAX];
  return ::realpath(image.c_str(), buf) ? std::string(buf) : image;
}

namespace {

constexpr std::string_view kUuidKeyword = "uuid";

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// "uuid X" -> X; nullopt for any other line.
std::optional<std::string> uuid_of_line(const std::string& line) {
  std::istringstream in(line);
  std::string word, uuid, extra;
  if (!(in >> word) || word != kUuidKeyword) return std::nullopt;
  in >> uuid >> extra;
  if (uuid.empty() || !extra.empty()) return std::string();  // malformed: the caller refuses it
  return lower(uuid);
}

struct RuleLine {
  int lineno;
  std::string text;
};

struct ParsedFile {
  std::string uuid;
  std::vector<RuleLine> rules;
};

// The file's UUID and rule lines, comments and blank lines dropped.
Result<ParsedFile> parse_file(std::istream& in, const std::string& path) {
  ParsedFile f;
  std::string line;
  for (int lineno = 1; std::getline(in, line); ++lineno) {
    if (auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    if (auto uuid = uuid_of_line(line)) {
      if (uuid->empty() || !f.uuid.empty())
        return Status::invalid_argument(fmt::format("{}: line {}: '{}': one 'uuid UUID' line is allowed", path,
                                                    lineno, line));
      f.uuid = *uuid;
      continue;
    }
    f.rules.push_back({lineno, line});
  }
  if (in.bad()) return Status::io_error(path + ": read failed");
  return f;
}

Status apply_rule(const RuleLine& r, const std::string& path, FaultDevice& faults) {
  const std::string where = fmt::format("{}: line {}", path, r.lineno);
  auto cmd = parse_command(r.text);
  if (!cmd) return cmd.status().with_prefix(where);
  const BlockRange range = cmd->range.value_or(BlockRange{0, 0});
  Status st;
  switch (cmd->action) {
    case Action::kFlaky: st = faults.add_flaky(range.first, cmd->fail_writes); break;
    case Action::kLatency: st = faults.add_latency(cmd->latency, range.first, range.count); break;
    case Action::kRemap: st = faults.add_remap(range.first, range.count); break;
    default:
      st = Status::invalid_argument(fmt::format("'{}': only flaky, latency and remap rules belong here", r.text));
  }
  return st ? st : st.with_prefix(where);
}

}  // namespace

Result<LoadedRules> load_rules(const std::string& path, const ImageId& image, FaultDevice& faults) {
  LoadedRules loaded;
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) return loaded;
    return Status::from_errno(errno, path);
  }
  auto file = parse_file(in, path);
  if (!file) return file.status();
  loaded.file_uuid = file->uuid;
  if (!file->uuid.empty() && file->uuid != lower(image.uuid)) {
    loaded.ignored = fmt::format("{}: fault rules of image {}, not of {} (uuid {}): not applied", path, file->uuid,
                                 image.path, image.uuid);
    return loaded;
  }
  for (const RuleLine& r : file->rules) {
    VBLK_RETURN_IF_ERROR(apply_rule(r, path, faults));
    ++loaded.applied;
  }
  return loaded;
}

Status remove_rules(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Status::from_errno(errno, path + ": remove");
  return Status::ok();
}

Status save_rules(const std::string& path, const ImageId& image, const std::vector<FaultRule>& rules) {
  if (rules.empty()) return remove_rules(path);
  std::string text = fmt::format("# vblk fault rules for {} (see vblk-inject(1)); loaded by vblkfs mount\n{} {}\n",
                                 image.path, kUuidKeyword, lower(image.uuid));
  for (const FaultRule& r : rules) text += rule_command(r) + "\n";
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::from_errno(errno, tmp);
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Status st = Status::from_errno(errno, tmp);
      ::close(fd);
      ::unlink(tmp.c_str());
      return st;
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    Status st = Status::from_errno(errno, tmp + ": fsync");
    ::close(fd);
    ::unlink(tmp.c_str());
    return st;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    Status st = Status::from_errno(errno, path + ": rename");
    ::unlink(tmp.c_str());
    return st;
  }
  return Status::ok();
}

}  // namespace vblk::inject
