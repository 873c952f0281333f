// The option list is read by libfuse's fuse_opt_parse, the parser mount
// helpers of FUSE file systems share (sshfs, ntfs-3g): it splits -o lists
// and -oLIST, honours backslash escapes (\, for a comma in a value) and
// hands each item to the table below. Flags are set through the table;
// options with a value come to on_option, which checks every occurrence
// (the last one wins, as with mount(8)).
#define FUSE_USE_VERSION 312
#include "cli/mount_helper.h"

#include <fuse_opt.h>

#include <cstddef>

#include "cli/command_line.h"
#include "vblk/size_parse.h"

namespace vblk::cli {
namespace {

// What on_option builds besides the flags.
struct HelperParse {
  fuse::MountOptions* m;
  std::vector<std::string> positional;
  std::string error;  // set when on_option fails the parse
};

// The data fuse_opt_parse writes its flags into: ints at fixed offsets, so
// this stays a standard-layout type that offsetof may be used on.
struct OptionData {
  int read_only = 0;
  int foreground = 0;
  int syslog = 0;
  int allow_other = 0;
  int compress_at_write = 0;
  int no_auto_rebuild = 0;
  HelperParse* parse = nullptr;
};

enum Key {
  kCacheSize = 1,
  kName,
  kLogLevel,
  kLogFile,
  kThreads,
  kNeedsValue,    // a value option without "=VALUE"
  kTakesNoValue,  // a flag given "=VALUE"
};

#define VBLK_FLAG(templ, member, value) \
  { templ, offsetof(OptionData, member), value }

const fuse_opt kOptions[] = {
    VBLK_FLAG("ro", read_only, 1),
    VBLK_FLAG("rw", read_only, 0),
    VBLK_FLAG("-f", foreground, 1),
    VBLK_FLAG("syslog", syslog, 1),
    VBLK_FLAG("allow_other", allow_other, 1),
    VBLK_FLAG("compress-at-write", compress_at_write, 1),
    VBLK_FLAG("compress_at_write", compress_at_write, 1),
    VBLK_FLAG("no-auto-rebuild", no_auto_rebuild, 1),
    VBLK_FLAG("no_auto_rebuild", no_auto_rebuild, 1),
    FUSE_OPT_KEY("cache-size=", kCacheSize),
    FUSE_OPT_KEY("cache_size=", kCacheSize),
    FUSE_OPT_KEY("name=", kName),
    FUSE_OPT_KEY("log-level=", kLogLevel),
    FUSE_OPT_KEY("log_level=", kLogLevel),
    FUSE_OPT_KEY("log-file=", kLogFile),
    FUSE_OPT_KEY("log_file=", kLogFile),
    FUSE_OPT_KEY("threads=", kThreads),
    // Misspelt vblk options are errors, not FUSE options that fail later
    // with "bad -o option?".
    FUSE_OPT_KEY("cache-size", kNeedsValue),
    FUSE_OPT_KEY("cache_size", kNeedsValue),
    FUSE_OPT_KEY("name", kNeedsValue),
    FUSE_OPT_KEY("log-level", kNeedsValue),
    FUSE_OPT_KEY("log_level", kNeedsValue),
    FUSE_OPT_KEY("log-file", kNeedsValue),
    FUSE_OPT_KEY("log_file", kNeedsValue),
    FUSE_OPT_KEY("threads", kNeedsValue),
    FUSE_OPT_KEY("ro=", kTakesNoValue),
    FUSE_OPT_KEY("rw=", kTakesNoValue),
    FUSE_OPT_KEY("syslog=", kTakesNoValue),
    FUSE_OPT_KEY("allow_other=", kTakesNoValue),
    FUSE_OPT_KEY("compress-at-write=", kTakesNoValue),
    FUSE_OPT_KEY("compress_at_write=", kTakesNoValue),
    FUSE_OPT_KEY("no-auto-rebuild=", kTakesNoValue),
    FUSE_OPT_KEY("no_auto_rebuild=", kTakesNoValue),
    // Only mount(8) or systemd read these (x-* is dropped in on_option).
    FUSE_OPT_KEY("defaults", FUSE_OPT_KEY_DISCARD),
    FUSE_OPT_KEY("auto", FUSE_OPT_KEY_DISCARD),
    FUSE_OPT_KEY("noauto", FUSE_OPT_KEY_DISCARD),
    FUSE_OPT_KEY("user", FUSE_OPT_KEY_DISCARD),
    FUSE_OPT_KEY("nouser", FUSE_OPT_KEY_DISCARD),
    FUSE_OPT_KEY("users", FUSE_OPT_KEY_DISCARD),
    FUSE_OPT_KEY("owner", FUSE_OPT_KEY_DISCARD),
    FUSE_OPT_KEY("nofail", FUSE_OPT_KEY_DISCARD),
    FUSE_OPT_KEY("_netdev", FUSE_OPT_KEY_DISCARD),
    FUSE_OPT_KEY("comment=", FUSE_OPT_KEY_DISCARD),
    FUSE_OPT_END,
};

#undef VBLK_FLAG

// "cache-size=1M" -> "cache-size".
std::string name_of(const std::string& item) { return item.substr(0, item.find('=')); }

// The value as the command line's own validator for the option checks it.
Status validated(const CLI::Validator& validator, const std::string& name, std::string value) {
  std::string error = validator(value);
  return error.empty() ? Status::ok() : Status::invalid_argument("-o " + name + ": " + error);
}

Status check_value(int key, const std::string& item, fuse::MountOptions& m) {
  const std::string name = name_of(item);
  const std::string value = item.substr(name.size() + 1);
  if (value.empty()) return Status::invalid_argument("-o " + item + ": " + name + " needs a value");
  switch (key) {
    case kCacheSize: {
      auto size = parse_size(value);
      if (!size) return Status::invalid_argument("-o " + name + ": " + size.status().message());
      m.cache_bytes = *size;
      break;
    }
    case kName:
      m.file_name = value;
      break;
    case kLogLevel:
      VBLK_RETURN_IF_ERROR(validated(one_of({fuse::kLogLevels.begin(), fuse::kLogLevels.end()}), name, value));
      m.log_level = value;
      break;
    case kLogFile:
      m.log_file = value;
      break;
    case kThreads:
      VBLK_RETURN_IF_ERROR(validated(whole_number_in(1, 256), name, value));
      m.max_threads = static_cast<unsigned>(std::stoul(value));
      break;
  }
  return Status::ok();
}

Status classify(const std::string& arg, int key, HelperParse& p) {
  switch (key) {
    case FUSE_OPT_KEY_NONOPT:
      p.positional.push_back(arg);
      return Status::ok();
    case FUSE_OPT_KEY_OPT:
      if (arg.empty() || arg.rfind("x-", 0) == 0) return Status::ok();  // ",," or a systemd x-* option
      if (arg[0] == '-') return Status::invalid_argument("unknown option " + arg);
      p.m->fuse_options.push_back(arg);  // for FUSE: dev, suid, noatime, max_read=N, ...
      return Status::ok();
    case kNeedsValue:
      return Status::invalid_argument("-o " + arg + ": needs a value, as " + arg + "=VALUE");
    case kTakesNoValue:
      return Status::invalid_argument("-o " + arg + ": " + name_of(arg) + " takes no value");
    default:
      return check_value(key, arg, *p.m);
  }
}

// fuse_opt_parse's processing function: 0 drops the item (everything is
// taken into MountOptions), -1 ends the parse. No exception may cross it.
int on_option(void* data, const char* arg, int key, fuse_args*) {
  HelperParse& p = *static_cast<OptionData*>(data)->parse;
  try {
    Status s = classify(arg, key, p);
    if (s) return 0;
    p.error = s.message();
  } catch (const std::bad_alloc&) {
    p.error = "out of memory";
  }
  return -1;
}

}  // namespace

bool is_mount_helper_call(int argc, char** argv) {
  if (argc < 3) return false;
  std::string first = argv[1];
  return first != "mount" && first != "umount" && first != "unmount" && !first.empty() && first[0] != '-';
}

Result<fuse::MountOptions> parse_mount_helper_args(const std::vector<std::string>& args) {
  // fuse_opt_parse would print its own complaint about this one.
  if (!args.empty() && args.back() == "-o") return Status::invalid_argument("-o needs an option list");
  fuse::MountOptions m;
  HelperParse parse{&m, {}, {}};
  OptionData data;
  data.parse = &parse;
  std::vector<std::string> argv_s = {"vblkfs"};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& s : argv_s) argv.push_back(s.data());
  argv.push_back(nullptr);
  fuse_args fargs = FUSE_ARGS_INIT(static_cast<int>(argv_s.size()), argv.data());
  const int rc = fuse_opt_parse(&fargs, &data, kOptions, on_option);
  fuse_opt_free_args(&fargs);
  if (rc != 0) return Status::invalid_argument(parse.error.empty() ? "cannot parse the options" : parse.error);
  if (parse.positional.size() != 2) return Status::invalid_argument("expected IMAGE MOUNTPOINT");
  m.image = parse.positional[0];
  m.mountpoint = parse.positional[1];
  m.read_only = data.read_only;
  m.foreground = data.foreground;
  m.syslog = data.syslog;
  m.allow_other = data.allow_other;
  m.compress_at_write = data.compress_at_write;
  m.auto_rebuild = !data.no_auto_rebuild;
  return m;
}

}  // namespace vblk::cli
