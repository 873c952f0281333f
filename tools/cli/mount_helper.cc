#include "cli/mount_helper.h"

#include <cstring>

#include "vblk/size_parse.h"

namespace vblk::cli {
namespace {

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

bool mount_only_option(const std::string& opt) {
  static const char* const kDropped[] = {"defaults", "auto", "noauto", "user", "nouser", "users", "owner",
                                         "nofail", "_netdev", "rw"};
  for (const char* d : kDropped)
    if (opt == d) return true;
  return starts_with(opt, "x-") || starts_with(opt, "comment=");
}

Status apply_option(const std::string& opt, fuse::MountOptions& m) {
  auto value = [&](const char* key) -> std::optional<std::string> {
    size_t n = std::strlen(key);
    if (opt.size() > n && opt.compare(0, n, key) == 0 && opt[n] == '=') return opt.substr(n + 1);
    return std::nullopt;
  };
  if (opt == "ro") {
    m.read_only = true;
  } else if (opt == "syslog") {
    m.syslog = true;
  } else if (opt == "allow_other") {
    m.allow_other = true;
  } else if (opt == "compress-at-write" || opt == "compress_at_write") {
    m.compress_at_write = true;
  } else if (auto v = value("cache-size"); v || (v = value("cache_size"))) {
    auto size = parse_size(*v);
    if (!size) return Status::invalid_argument("-o cache-size: " + size.status().message());
    m.cache_bytes = *size;
  } else if (auto v = value("name")) {
    m.file_name = *v;
  } else if (auto v = value("log-level"); v || (v = value("log_level"))) {
    m.log_level = *v;
  } else if (auto v = value("log-file"); v || (v = value("log_file"))) {
    m.log_file = *v;
  } else if (auto v = value("threads")) {
    char* end = nullptr;
    unsigned long n = std::strtoul(v->c_str(), &end, 10);
    if (v->empty() || *end || n < 1 || n > 256) return Status::invalid_argument("-o threads: expected 1..256, got " + *v);
    m.max_threads = static_cast<unsigned>(n);
  } else if (!mount_only_option(opt)) {
    m.fuse_options.push_back(opt);
  }
  return Status::ok();
}

}  // namespace

bool is_mount_helper_call(int argc, char** argv) {
  if (argc < 3) return false;
  std::string first = argv[1];
  return first != "mount" && first != "umount" && first != "unmount" && !first.empty() && first[0] != '-';
}

Result<fuse::MountOptions> parse_mount_helper_args(const std::vector<std::string>& args) {
  fuse::MountOptions m;
  std::vector<std::string> positional;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-o") {
      if (i + 1 >= args.size()) return Status::invalid_argument("-o needs an option list");
      std::string list = args[++i];
      size_t start = 0;
      while (start <= list.size()) {
        size_t comma = list.find(',', start);
        std::string opt = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (!opt.empty()) VBLK_RETURN_IF_ERROR(apply_option(opt, m));
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    } else if (starts_with(a, "-o")) {
      std::vector<std::string> again = {"-o", a.substr(2)};
      auto sub = parse_mount_helper_args(again);
      if (!sub) return sub.status();
      VBLK_RETURN_IF_ERROR(apply_option(a.substr(2), m));
    } else if (a == "-f") {
      m.foreground = true;
    } else if (!a.empty() && a[0] == '-') {
      return Status::invalid_argument("unknown option " + a);
    } else {
      positional.push_back(a);
    }
  }
  if (positional.size() != 2) return Status::invalid_argument("expected IMAGE MOUNTPOINT");
  m.image = positional[0];
  m.mountpoint = positional[1];
  return m;
}

}  // namespace vblk::cli
