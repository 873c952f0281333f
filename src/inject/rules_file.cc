#include "inject/rules_file.h"

#include <fcntl.h>
#include <spdlog/fmt/fmt.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <string>

#include "inject/command.h"
#include "inject/injector.h"

namespace vblk::inject {

std::string rules_path(const std::string& image) { return image + ".faults"; }

Result<size_t> load_rules(const std::string& path, FaultDevice& faults) {
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) return size_t{0};
    return Status::from_errno(errno, path);
  }
  size_t loaded = 0;
  std::string line;
  for (int lineno = 1; std::getline(in, line); ++lineno) {
    if (auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = fmt::format("{}: line {}", path, lineno);
    auto cmd = parse_command(line);
    if (!cmd) return cmd.status().with_prefix(where);
    const BlockRange r = cmd->range.value_or(BlockRange{0, 0});
    Status st;
    switch (cmd->action) {
      case Action::kFlaky: st = faults.add_flaky(r.first, cmd->fail_writes); break;
      case Action::kLatency: st = faults.add_latency(cmd->latency, r.first, r.count); break;
      case Action::kRemap: st = faults.add_remap(r.first, r.count); break;
      default:
        st = Status::invalid_argument(fmt::format("'{}': only flaky, latency and remap rules belong here", line));
    }
    if (!st) return st.with_prefix(where);
    ++loaded;
  }
  if (in.bad()) return Status::io_error(path + ": read failed");
  return loaded;
}

Status save_rules(const std::string& path, const std::string& image, const std::vector<FaultRule>& rules) {
  if (rules.empty()) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Status::from_errno(errno, path + ": remove");
    return Status::ok();
  }
  std::string text = fmt::format("# vblk fault rules for {} (see vblk-inject(1)); loaded by vblkfs mount\n", image);
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
