// vblk-inspect: shows what a vblk image holds, read-only, or what a running
// vblkfs daemon is doing.
//
//   vblk-inspect IMAGE [--json] [--no-map]   header, block counts, sizes, bad blocks, state map
//   vblk-inspect IMAGE --block N [--json]    one block: state, where it is stored, hex dump
//   vblk-inspect IMAGE --check [--json]      verify every structure and record checksum
//   vblk-inspect IMAGE --check --repair      make a damaged image consistent (writes it)
//   vblk-inspect MOUNTPOINT [--json]         live: the daemon's statistics, faults and state map
//   vblk-inspect MOUNTPOINT --check [--json] live: a scrub by the daemon, reported as --check
//   ... [--watch]                            redraw every second until interrupted
//   vblk-inspect IMAGE|MOUNTPOINT --svg FILE a picture of the block map
//
// The image is opened read-only (a shared lock: it fails at once if a
// writer holds the image), except by --repair, which writes it. A mountpoint (or its disk file) is read through
// the daemon's control interface, extended attributes (vblkfs(1)).
// Exit status (see vblk-inspect(1)):
//   0  success; with --check, the image is clean
//   1  the image cannot be opened or read, or --check found damage
//   2  invalid command line
// Every failure prints one line on stderr: "vblk-inspect: IMAGE: cause".

#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>
#include <thread>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/command_line.h"
#include "cli/field_list.h"
#include "cli/interrupt.h"
#include "cli/json_output.h"
#include "cli/live.h"
#include "cli/progress.h"
#include "cli/report.h"
#include "cli/state_map.h"
#include "cli/svg.h"
#include "inject/block_map.h"
#include "inject/injector.h"
#include "inject/offline.h"
#include "io/file.h"
#include "live/socket.h"
#include "util/block_text.h"
#include "util/check_json.h"
#include "util/json.h"
#include "vblk/image_store.h"
#include "vblk/size_parse.h"
#include "vblk_config.h"

namespace {

using vblk::BlockState;
using vblk::Status;
using vblk::Json;
using vblk::json_at;
using vblk::json_items;
using vblk::json_string;
using vblk::json_u64;
using vblk::cli::kExitError;
using vblk::cli::kExitUsage;

constexpr const char* kProg = "vblk-inspect";
constexpr uint64_t kSectorSize = 512;

struct Args {
  std::string image;
  bool json = false;
  bool check = false;
  bool no_map = false;
  bool has_block = false;
  bool repair = false;
  uint64_t block = 0;
  bool watch = false;
  std::string svg;  // write the block map as SVG here
  vblk::cli::OutputOptions output;  // -p, -q: with --check
};

int fail(const std::string& file, const std::string& cause) {
  vblk::cli::report_error(kProg, file, cause);
  return kExitError;
}

std::string hex(const uint8_t* p, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (size_t i = 0; i < n; ++i) {
    out += kDigits[p[i] >> 4];
    out += kDigits[p[i] & 15];
  }
  return out;
}

// xxd-style dump, 16 bytes a line; a run of lines equal to the one before
// is shown as a single '*' (as hexdump does), and the end offset closes it.
std::string hex_dump(const std::vector<uint8_t>& data) {
  std::string out;
  char line[96];
  bool starred = false;
  for (size_t off = 0; off < data.size(); off += 16) {
    size_t n = std::min<size_t>(16, data.size() - off);
    if (off >= 16 && n == 16 && std::memcmp(&data[off], &data[off - 16], 16) == 0) {
      if (!starred) out += "*\n";
      starred = true;
      continue;
    }
    starred = false;
    int len = std::snprintf(line, sizeof line, "%08zx: ", off);
    std::string text(line, static_cast<size_t>(len));
    for (size_t i = 0; i < 16; ++i) {
      if (i < n) {
        std::snprintf(line, sizeof line, "%02x", data[off + i]);
        text += line;
      } else {
        text += "  ";
      }
      if (i % 2 == 1) text += ' ';
    }
    text += ' ';
    for (size_t i = 0; i < n; ++i) {
      uint8_t c = data[off + i];
      text += (c >= 0x20 && c < 0x7F) ? static_cast<char>(c) : '.';
    }
    out += text + "\n";
  }
  std::snprintf(line, sizeof line, "%08zx\n", data.size());
  return out + line;
}

std::string format_time(uint64_t unix_secs) {
  if (unix_secs == 0) return "unknown";
  auto t = static_cast<time_t>(unix_secs);
  tm tm_utc{};
  if (gmtime_r(&t, &tm_utc) == nullptr) return std::to_string(unix_secs);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm_utc);
  return buf;
}

std::string format_ratio(uint64_t logical, uint64_t stored) {
  if (stored == 0) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f:1", static_cast<double>(logical) / static_cast<double>(stored));
  return buf;
}

std::string bytes_and_human(uint64_t v) { return std::to_string(v) + " bytes (" + vblk::format_size(v) + ")"; }

// "block N: msg", unless msg already starts by naming block N.
std::string about_block(uint64_t n, const std::string& msg) {
  std::string prefix = "block " + std::to_string(n);
  if (msg.compare(0, prefix.size(), prefix) == 0 && msg.size() > prefix.size() &&
      (msg[prefix.size()] == ':' || msg[prefix.size()] == ' ')) {
    return msg;
  }
  return prefix + ": " + msg;
}

// ---- fault rules -----------------------------------------------------------

using Rules = vblk::inject::OfflineImage::Rules;

// Why the rules file's rules are not in force, or "" when they are.
std::string rules_problem(const Rules& r) {
  if (!r.status) return r.status.message() + " (vblkfs mount refuses the image until it is fixed or removed)";
  return r.loaded.ignored;
}

// The "fault rules:" line: the rules a mount would apply, and why a rules
// file beside the image is not applied.
std::string rules_text(const Rules& r, const std::vector<vblk::FaultRule>& rules) {
  std::string text;
  for (const auto& rule : rules) text += (text.empty() ? "" : "; ") + vblk::inject::rule_command(rule);
  if (text.empty()) text = "none";
  if (std::string problem = rules_problem(r); !problem.empty()) return text + " (" + problem + ")";
  if (!rules.empty()) text += " (from " + r.path + (r.loaded.file_uuid.empty() ? ", which names no image uuid" : "") + ")";
  return text;
}

// "fault_rules" and "fault_rules_file" of the --json view.
void add_rules_json(const Rules& r, const std::vector<vblk::FaultRule>& rules, Json& j) {
  j["fault_rules"] = vblk::inject::rules_json(rules);
  const std::string problem = rules_problem(r);
  j["fault_rules_file"] = {{"path", r.path},
                           {"uuid", r.loaded.file_uuid.empty() ? Json(nullptr) : Json(r.loaded.file_uuid)},
                           {"applied", r.status.is_ok() && r.loaded.ignored.empty()},
                           {"problem", problem.empty() ? Json(nullptr) : Json(problem)}};
}

// ---- default view --------------------------------------------------------

// The "map" object of the --json views: the text map's grid.
Json map_json(const vblk::cli::StateMap& map) {
  return {{"blocks_per_cell", map.blocks_per_cell()}, {"cells", map.cells()}, {"rows", map.rows()}};
}

int show_image(vblk::inject::OfflineImage& image, const Args& a) {
  vblk::ImageStore& store = *image.store;
  const std::vector<vblk::FaultRule> rules = image.faults->list();
  vblk::ImageInfo info = store.info();
  vblk::DeviceStats st = store.stats();
  std::vector<std::pair<uint64_t, uint64_t>> bad = store.bad_ranges();  // (first, count)
  // Recompression a writer that defers compression still has to do.
  auto provisional = store.provisional_bytes();
  if (!provisional)
    return fail(a.image, "counting provisional records: " + vblk::cli::error_cause(provisional.status(), a.image));

  vblk::cli::StateMapOptions mo;
  mo.colour = !a.json && vblk::cli::stdout_wants_colour();
  vblk::cli::StateMap map(info.block_count, mo);
  if (!a.no_map) {
    Status s = store.state_runs(0, info.block_count,
                                [&](uint64_t first, uint64_t count, BlockState state) { map.add(first, count, state); });
    if (!s) return fail(a.image, "reading block states: " + vblk::cli::error_cause(s, a.image));
  }

  const uint64_t logical = st.used_blocks * info.block_size;
  const uint64_t sectors = info.capacity_bytes / kSectorSize;
  const double ratio = st.stored_bytes == 0 ? 0.0 : static_cast<double>(logical) / static_cast<double>(st.stored_bytes);

  if (a.json) {
    Json j = vblk::cli::json_document(vblk::cli::kInspectSchema);
    j["image"] = info.path.empty() ? a.image : info.path;
    j["version"] = info.version;
    j["uuid"] = info.uuid;
    j["label"] = info.label;
    j["block_size"] = info.block_size;
    j["block_count"] = info.block_count;
    j["capacity_bytes"] = info.capacity_bytes;
    j["capacity_human"] = vblk::format_size(info.capacity_bytes);
    j["capacity_sectors"] = sectors;
    j["compression_level"] = info.compression_level;
    j["segment_size"] = info.segment_size;
    j["max_record_bytes"] = info.max_record_bytes;
    j["created_unix"] = info.created_unix;
    j["incompat_features"] = info.incompat_features;
    j["compat_features"] = info.compat_features;
    j["features"] = info.feature_names;
    j["generation"] = info.generation;
    j["segments"] = info.segments;
    j["free_segments"] = info.free_segments;
    j["blocks"] = {{"free", st.free_blocks},
                   {"used", st.used_blocks},
                   {"zero", st.zero_blocks},
                   {"trimmed", st.trimmed_blocks},
                   {"bad", st.bad_blocks}};
    j["logical_bytes"] = logical;
    j["stored_bytes"] = st.stored_bytes;
    j["host_file_bytes"] = st.host_file_bytes;
    j["host_file_size"] = st.host_file_size;
    j["compression_ratio"] = st.stored_bytes == 0 ? Json(nullptr) : vblk::json_number(ratio);
    // As in the live statistics; offline, every record header was read.
    j["recompression"] = {{"pending_bytes", *provisional}, {"scanned", true}};
    j["bad_ranges"] = Json::array();
    for (auto [first, count] : bad) j["bad_ranges"].push_back({{"first", first}, {"count", count}});
    add_rules_json(image.rules, rules, j);
    if (!a.no_map) j["map"] = map_json(map);
    vblk::cli::print_json(j);
    return 0;
  }

  std::string out;
  auto line = [&](const char* name, const std::string& value) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%-14s", name);
    out += buf + value + "\n";
  };
  line("image:", info.path.empty() ? a.image : info.path);
  line("version:", std::to_string(info.version));
  line("uuid:", info.uuid);
  line("label:", info.label.empty() ? "(none)" : info.label);
  line("block size:", std::to_string(info.block_size) + " bytes");
  line("capacity:", bytes_and_human(info.capacity_bytes) + ", " + std::to_string(sectors) + " sectors of 512 bytes, " +
                        std::to_string(info.block_count) + " blocks");
  line("compression:", info.compression_level == 0 ? "none (stored raw)"
                                                   : "zstd level " + std::to_string(info.compression_level));
  line("segment size:", bytes_and_human(info.segment_size) + ", " + std::to_string(info.segments) + " segments (" +
                            std::to_string(info.free_segments) + " free)");
  std::string features;
  for (const std::string& f : info.feature_names) features += (features.empty() ? "" : ", ") + f;
  line("features:", features.empty() ? "none" : features);
  line("created:", format_time(info.created_unix));
  line("generation:", std::to_string(info.generation));
  out += "\n";
  line("blocks:", std::to_string(info.block_count));
  line("  free:", std::to_string(st.free_blocks));
  line("  used:", std::to_string(st.used_blocks) +
                      (st.zero_blocks ? " (" + std::to_string(st.zero_blocks) + " all-zero, no payload)" : ""));
  line("  trimmed:", std::to_string(st.trimmed_blocks));
  line("  bad:", std::to_string(st.bad_blocks));
  line("logical:", bytes_and_human(logical));
  line("stored:", bytes_and_human(st.stored_bytes));
  line("host file:", bytes_and_human(st.host_file_bytes) + " allocated, " + bytes_and_human(st.host_file_size) +
                         " apparent");
  line("ratio:", format_ratio(logical, st.stored_bytes) + " (logical : stored)");
  line("recompression:", *provisional ? vblk::format_size(*provisional) +
                                            " stored at level 1, recompressed at level " +
                                            std::to_string(info.compression_level) +
                                            " once served (vblkfs) and idle for a second"
                                      : std::string("none pending"));
  std::string bad_text;
  for (auto [first, count] : bad) {
    if (!bad_text.empty()) bad_text += ", ";
    bad_text += vblk::block_range_text(first, count);
  }
  line("bad blocks:", bad.empty() ? "none" : bad_text);
  line("fault rules:", rules_text(image.rules, rules));
  if (!a.no_map) {
    out += "\nstate map:\n";
    out += map.render();
  }
  std::fputs(out.c_str(), stdout);
  return 0;
}

// ---- --block N -----------------------------------------------------------

int show_block(vblk::ImageStore& store, const Args& a) {
  uint64_t n = a.block;
  if (n >= store.block_count()) {
    return fail(a.image, "block " + std::to_string(n) + " is beyond the end of the image (" +
                             std::to_string(store.block_count()) + " blocks)");
  }
  auto loc = store.locate(n);
  if (!loc) return fail(a.image, about_block(n, vblk::cli::error_cause(loc.status(), a.image)));
  const vblk::BlockLocation& l = loc.value();

  std::vector<uint8_t> data;
  std::string data_error;
  if (l.state == BlockState::kBad) {
    data_error = "block is BAD: reads fail";
  } else {
    data.resize(store.block_size());
    Status s = store.read_blocks(n, 1, data);
    if (!s) {
      data.clear();
      data_error = vblk::cli::error_cause(s, a.image);
    }
  }
  bool has_record = l.record_offset != 0;

  if (a.json) {
    Json j = vblk::cli::json_document(vblk::cli::kInspectSchema);
    j["block"] = n;
    j["state"] = std::string(to_string(l.state));
    j["zero"] = l.zero;
    j["record_offset"] = has_record ? Json(l.record_offset) : Json(nullptr);
    j["record_length"] = l.record_length;
    j["record_first_block"] = l.record_first_block;
    j["record_blocks"] = l.record_blocks;
    j["index_in_record"] = l.index_in_record;
    j["compressed"] = l.compressed;
    j["provisional"] = l.provisional;
    j["units"] = !l.unit_table ? Json(nullptr) : Json(l.independent_units ? "independent" : "chained");
    j["stored_payload"] = l.stored_payload;
    j["data_hex"] = data.empty() ? Json(nullptr) : Json(hex(data.data(), data.size()));
    if (!data_error.empty()) j["data_error"] = data_error;
    vblk::cli::print_json(j);
  } else {
    std::printf("block:        %llu of %llu\n", static_cast<unsigned long long>(n),
                static_cast<unsigned long long>(store.block_count()));
    std::printf("state:        %s\n", std::string(to_string(l.state)).c_str());
    std::printf("zero:         %s\n", l.zero ? "yes (stored without payload)" : "no");
    if (has_record) {
      std::printf("record:       offset %llu (0x%llx), %u bytes, blocks %llu..%llu, this is #%u\n",
                  static_cast<unsigned long long>(l.record_offset), static_cast<unsigned long long>(l.record_offset),
                  l.record_length, static_cast<unsigned long long>(l.record_first_block),
                  static_cast<unsigned long long>(l.record_first_block + (l.record_blocks ? l.record_blocks - 1 : 0)),
                  l.index_in_record);
      const char* units = !l.unit_table ? "" : l.independent_units ? ", independent units" : ", chained units";
      std::printf("payload:      %u bytes, %s%s%s\n", l.stored_payload, l.compressed ? "zstd-compressed" : "raw", units,
                  l.provisional ? " (provisional: awaits recompression at the image's level)" : "");
    } else {
      std::printf("record:       none\n");
    }
    if (!data_error.empty()) {
      std::printf("data:         unreadable: %s\n", data_error.c_str());
    } else {
      std::printf("data:\n%s", hex_dump(data).c_str());
    }
  }
  if (!data_error.empty() && l.state != BlockState::kBad) {
    return fail(a.image, about_block(n, data_error));
  }
  return 0;
}

// ---- --check -------------------------------------------------------------

// Prints a check's findings and returns the exit status. `unlisted`:
// problems found but not in r.problems (a live scrub lists the first ones).
int print_check_report(const vblk::CheckReport& r, uint64_t unlisted, const Args& a) {
  const uint64_t found = r.problems.size() + unlisted;
  if (a.json) {
    Json j = vblk::cli::json_document(vblk::cli::kInspectSchema);
    j["clean"] = found == 0;
    j["records_checked"] = r.records_checked;
    j["blocks_checked"] = r.blocks_checked;
    j["problems"] = vblk::check_problems_json(r.problems);
    if (unlisted) j["unlisted_problems"] = unlisted;
    vblk::cli::print_json(j);
  } else {
    for (const vblk::CheckProblem& p : r.problems) {
      std::string text = p.has_block ? about_block(p.block, p.what)
                                     : (p.what.find("offset") != std::string::npos
                                            ? p.what
                                            : "offset " + std::to_string(p.file_offset) + ": " + p.what);
      std::printf("%s\n", text.c_str());
    }
    if (unlisted) std::printf("and %llu more problems\n", static_cast<unsigned long long>(unlisted));
    if (found == 0 && !a.output.quiet) {
      std::printf("check: clean, %llu records, %llu blocks verified\n",
                  static_cast<unsigned long long>(r.records_checked), static_cast<unsigned long long>(r.blocks_checked));
    }
  }
  std::fflush(stdout);
  if (found) {
    return fail(a.image, "check found " + std::to_string(found) + (found == 1 ? " problem" : " problems") + " (" +
                             std::to_string(r.records_checked) + " records, " + std::to_string(r.blocks_checked) +
                             " blocks checked)");
  }
  return 0;
}

int run_check(vblk::ImageStore& store, const Args& a) {
  // The bar counts index pages checked, scaled to the image file's size so
  // that its rate reads as the image's bytes per second.
  struct stat st {};
  const uint64_t file_bytes = ::stat(a.image.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  vblk::cli::Progress progress("checking " + a.image, std::max<uint64_t>(file_bytes, 1), a.output.progress_mode());
  vblk::CheckOptions opts;
  opts.progress = [&](const vblk::CheckProgress& p) {
    if (p.index_pages_total > 0)
      progress.update(static_cast<uint64_t>(static_cast<double>(file_bytes) * static_cast<double>(p.index_pages_checked) /
                                            static_cast<double>(p.index_pages_total)));
    return true;
  };
  auto rep = store.check(opts);
  progress.finish();
  if (!rep) return fail(a.image, "check failed: " + vblk::cli::error_cause(rep.status(), a.image));
  return print_check_report(rep.value(), 0, a);
}

// Opens the image for repair (exclusively: it writes), repairs it, says what
// it did, and checks it again; 0 once it is clean (vblk(5) REPAIR).
int run_repair(const Args& a) {
  vblk::OpenOptions o;
  o.repair = true;
  auto store = vblk::ImageStore::open(a.image, o);
  if (!store) return fail(a.image, vblk::cli::busy_cause(store.status(), a.image, "unmount it first"));
  auto rep = (*store)->repair();
  if (!rep) return fail(a.image, "repair failed: " + vblk::cli::error_cause(rep.status(), a.image));
  if (a.json) {
    Json j = vblk::cli::json_document(vblk::cli::kInspectSchema);
    j["actions"] = rep->actions;
    j["bad_blocks"] = rep->bad_blocks;
    j["clean"] = rep->clean;
    vblk::cli::print_json(j);
  } else if (!a.output.quiet) {
    for (const std::string& act : rep->actions) std::printf("repair: %s\n", act.c_str());
    if (rep->actions.empty()) std::printf("repair: nothing to do\n");
  }
  std::fflush(stdout);
  if (Status closed = (*store)->close(); !closed) return fail(a.image, vblk::cli::error_cause(closed, a.image));
  store->reset();
  if (!rep->clean) return fail(a.image, "repair left problems that it cannot fix; see vblk-inspect --check");
  if (!a.json) {
    // What a check of the repaired image says, as --check would.
    Args check = a;
    check.repair = false;
    auto image = vblk::inject::open_with_rules(a.image, /*read_only=*/true);
    if (!image) return fail(a.image, vblk::cli::error_cause(image.status(), a.image));
    const int rc = run_check(*image->store, check);
    (void)image->store->close();
    return rc;
  }
  return 0;
}

// ---- --svg ----------------------------------------------------------------

int write_svg(const vblk::inject::BlockMap& map, const vblk::cli::SvgOptions& so, const Args& a) {
  // FILE is rewritten in place: an image in use is never overwritten, and
  // FILE stays locked while it is written.
  auto held = vblk::io::lock_for_replace(a.svg);
  if (!held) return fail(a.svg, vblk::cli::replace_busy_cause(held.status(), a.svg));
  const std::string svg = vblk::cli::render_svg(map, so);
  std::ofstream out(a.svg, std::ios::binary | std::ios::trunc);
  out << svg;
  out.close();
  if (!out) return fail(a.svg, std::string("cannot write: ") + std::strerror(errno));
  if (a.json) {
    Json j = vblk::cli::json_document(vblk::cli::kInspectSchema);
    j["svg"] = a.svg;
    j["cells"] = map.cells.size();
    j["blocks_per_cell"] = map.blocks_per_cell;
    vblk::cli::print_json(j);
    return 0;
  }
  std::printf("wrote %s: %zu cells of %llu block%s\n", a.svg.c_str(), map.cells.size(),
              static_cast<unsigned long long>(map.blocks_per_cell), map.blocks_per_cell == 1 ? "" : "s");
  return 0;
}

std::string capacity_line(uint64_t block_count, uint64_t block_size) {
  return vblk::format_size(block_count * block_size) + ", " + std::to_string(block_count) + " blocks of " +
         std::to_string(block_size) + " bytes";
}

int write_image_svg(vblk::ImageStore& store, const Args& a) {
  auto map = vblk::inject::build_block_map(store, vblk::inject::kMaxMapCells);
  if (!map) return fail(a.image, "reading block states: " + vblk::cli::error_cause(map.status(), a.image));
  vblk::cli::SvgOptions so;
  so.title = store.info().path.empty() ? a.image : store.info().path;
  so.subtitle = "image, " + capacity_line(store.block_count(), store.block_size());
  return write_svg(*map, so, a);
}

// ---- live: a mountpoint ---------------------------------------------------

struct LiveSample {
  Json stats;
  std::chrono::steady_clock::time_point at;
};
std::optional<LiveSample> g_previous;  // the last sample --watch drew, for rates

std::string human_us(double us) {
  char buf[32];
  if (us >= 1e6) {
    std::snprintf(buf, sizeof buf, "%.2f s", us / 1e6);
  } else if (us >= 1e3) {
    std::snprintf(buf, sizeof buf, "%.2f ms", us / 1e3);
  } else {
    std::snprintf(buf, sizeof buf, "%.0f us", us);
  }
  return buf;
}

// `d` as a count in [0, 2^64 - 1]: a live figure is the daemon's word, and
// a double out of range does not convert.
uint64_t clamp_u64(double d) {
  if (!(d > 0)) return 0;
  return d >= 18446744073709551616.0 ? UINT64_MAX : static_cast<uint64_t>(d);
}

std::string human_duration(double s) {
  const uint64_t t = clamp_u64(s);
  char buf[48];
  if (t >= 3600) {
    std::snprintf(buf, sizeof buf, "%lluh %02llum", static_cast<unsigned long long>(t / 3600),
                  static_cast<unsigned long long>(t / 60 % 60));
  } else if (t >= 60) {
    std::snprintf(buf, sizeof buf, "%llum %02llus", static_cast<unsigned long long>(t / 60),
                  static_cast<unsigned long long>(t % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%llus", static_cast<unsigned long long>(t));
  }
  return buf;
}

// ---- live --check: a scrub by the daemon ----------------------------------

// The daemon's statistics (user.vblk.stats), which must be an object.
vblk::Result<Json> read_stats(const std::string& target) {
  auto text = vblk::cli::read_xattr(target, "user.vblk.stats");
  if (!text) return text.status();
  auto stats = vblk::parse_json(*text);
  if (!stats) return Status::corruption("unreadable user.vblk.stats: " + stats.status().message());
  if (!stats->is_object()) return Status::corruption("unreadable user.vblk.stats: not a JSON object");
  return stats;
}

// The daemon's statistics, which must hold a "scrub" object.
vblk::Result<Json> read_stats_with_scrub(const std::string& target) {
  auto stats = read_stats(target);
  if (!stats) return stats.status();
  if (json_at(*stats, "scrub/state").is_null())
    return Status::not_supported(target + ": this vblkfs daemon cannot scrub (remount with a newer vblkfs)");
  return stats;
}

vblk::CheckReport report_from_scrub(const Json& scrub) {
  vblk::CheckReport r;
  r.records_checked = json_u64(json_at(scrub, "records_checked"));
  r.blocks_checked = json_u64(json_at(scrub, "blocks_checked"));
  for (const Json& p : json_items(json_at(scrub, "problems"))) {
    const Json& block = json_at(p, "block");
    r.problems.push_back({!block.is_null(), json_u64(block), json_u64(json_at(p, "file_offset")),
                          json_string(json_at(p, "what"))});
  }
  return r;
}

// Starts a scrub in the daemon (or joins the one running), waits for it,
// and reports what it found as an offline --check does.
int run_live_check(const Args& a) {
  auto reply = vblk::cli::send_control(a.image, "scrub");
  if (!reply) {
    if (reply.status().code() == Status::Code::kReadOnly)
      return fail(a.image, "the disk is mounted read-only, so the daemon cannot be asked to scrub; a read-only "
                           "mount shares the image: run vblk-inspect IMAGE --check on the image itself");
    return fail(a.image, vblk::cli::error_cause(reply.status(), a.image));
  }
  // "scrub N started: ..." or "scrub N already running: ...".
  uint64_t id = 0;
  if (std::sscanf(reply->c_str(), "scrub %" SCNu64, &id) != 1 || id == 0)
    return fail(a.image, "unexpected reply to 'scrub': " + *reply);

  vblk::cli::install_interrupt_handlers(/*restart_syscalls=*/false);
  std::optional<vblk::cli::Progress> progress;
  while (true) {
    auto stats = read_stats_with_scrub(a.image);
    if (!stats) return fail(a.image, "during the scrub: " + vblk::cli::error_cause(stats.status(), a.image));
    const Json& sc = json_at(*stats, "scrub");
    auto u64 = [&](const char* key) { return json_u64(json_at(sc, key)); };
    if (u64("id") != id)
      return fail(a.image, "scrub " + std::to_string(id) + " was replaced by scrub " + std::to_string(u64("id")) +
                               " before its result was read; run --check again");
    const std::string state = json_string(json_at(sc, "state"));
    if (state != "running") {
      if (progress) progress->finish();
      if (state == "done") {
        const uint64_t listed = json_items(json_at(sc, "problems")).size();
        return print_check_report(report_from_scrub(sc), u64("problem_count") - std::min(listed, u64("problem_count")),
                                  a);
      }
      if (state == "failed") return fail(a.image, "the scrub failed: " + json_string(json_at(sc, "error")));
      return fail(a.image, "the scrub was stopped before it finished (" + std::to_string(u64("blocks_checked")) +
                               " of " + std::to_string(u64("blocks_to_check")) + " blocks checked)");
    }
    // The bar counts the bytes of the blocks checked (blocks written since
    // the start may make it end short of or past 100%).
    const uint64_t bs = json_u64(json_at(*stats, "block_size"));
    if (!progress)
      progress.emplace("scrubbing " + a.image, std::max<uint64_t>(1, u64("blocks_to_check")) * bs,
                       a.output.progress_mode());
    progress->update(std::min(u64("blocks_checked"), u64("blocks_to_check")) * bs);
    for (int i = 0; i < 4; ++i) {
      if (vblk::cli::interrupted())
        return fail(a.image, "interrupted; the scrub goes on in the daemon (stop it with: setfattr -n "
                             "user.vblk.control -v 'scrub stop' " + a.image + ")");
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
}

// What frees a live target's image for the options that open it.
std::string release_first(const std::string& target) {
  return vblk::live::has_control_socket(target) ? "stop the nbdkit that serves it first"
                                                : "unmount it first (vblkfs umount)";
}

int run_live(const Args& a) {
  if (a.check) return run_live_check(a);
  if (a.has_block) {
    return fail(a.image, "--block reads the image itself: " + release_first(a.image) + ", then run it on the image");
  }
  auto stats = read_stats(a.image);
  if (!stats) return fail(a.image, vblk::cli::error_cause(stats.status(), a.image));
  const Json& s = *stats;
  const uint64_t nblocks = json_u64(json_at(s, "block_count"));
  const uint64_t bs = json_u64(json_at(s, "block_size"));

  if (!a.svg.empty()) {
    auto map_text = vblk::cli::read_xattr(a.image, "user.vblk.map");
    if (!map_text) return fail(a.image, vblk::cli::error_cause(map_text.status(), a.image));
    auto mj = vblk::parse_json(*map_text);
    if (!mj) return fail(a.image, "unreadable user.vblk.map: " + mj.status().message());
    auto map = vblk::inject::block_map_from_json(*mj);
    if (!map) return fail(a.image, map.status().message());
    vblk::cli::SvgOptions so;
    // An image served by nbdkit has no mountpoint.
    const std::string& image = json_string(json_at(s, "image"));
    so.title = json_string(json_at(s, "server")) == "nbdkit"
                   ? image + " (served over NBD)"
                   : json_string(json_at(s, "mountpoint")) + " (" + image + ")";
    so.subtitle = "live, " + capacity_line(nblocks, bs);
    return write_svg(*map, so, a);
  }

  // The daemon's map at exactly the text map's grid, so each cell is the same blocks.
  auto load_map = [&](vblk::cli::StateMap& text_map, const vblk::cli::StateMapOptions& mo) -> Status {
    const size_t cells = static_cast<size_t>(mo.columns) * static_cast<size_t>(mo.max_rows);
    auto map_text = vblk::cli::read_xattr(a.image, "user.vblk.map." + std::to_string(cells));
    if (!map_text) return Status::io_error(vblk::cli::error_cause(map_text.status(), a.image));
    auto mj = vblk::parse_json(*map_text);
    if (!mj) return Status::corruption("unreadable user.vblk.map: " + mj.status().message());
    auto map = vblk::inject::block_map_from_json(*mj);
    if (!map) return map.status();
    for (size_t i = 0; i < map->cells.size(); ++i) text_map.add(map->cell_first(i), map->cell_blocks(i), map->cells[i].worst);
    return Status::ok();
  };

  if (a.json) {
    Json j = vblk::cli::json_document(vblk::cli::kInspectSchema);
    j["live"] = true;
    vblk::cli::json_append(j, s);
    if (!a.no_map) {
      vblk::cli::StateMap text_map(nblocks, {});
      if (Status st = load_map(text_map, {}); !st) return fail(a.image, st.message());
      j["map"] = map_json(text_map);
    }
    vblk::cli::print_json(j);
    return 0;
  }

  const auto now = std::chrono::steady_clock::now();
  // Members of the statistics by path ("ops/reads"): 0, "" or false when
  // an older daemon does not report them.
  auto u64 = [&](std::string_view path) { return json_u64(json_at(s, path)); };
  auto dbl = [&](std::string_view path) { return vblk::json_double(json_at(s, path)); };
  auto str = [&](std::string_view path) { return json_string(json_at(s, path)); };
  auto flag = [&](std::string_view path) { return vblk::json_bool(json_at(s, path)); };
  auto num = [&](std::string_view path) { return std::to_string(u64(path)); };
  // Change per second of a counter since the sample --watch drew before.
  auto per_second = [&](std::string_view path) -> std::optional<double> {
    if (!a.watch || !g_previous) return std::nullopt;
    const double dt = std::chrono::duration<double>(now - g_previous->at).count();
    if (dt <= 0) return std::nullopt;
    return (dbl(path) - vblk::json_double(json_at(g_previous->stats, path))) / dt;
  };
  // "+N/s" beside a counter.
  auto rate = [&](std::string_view path) -> std::string {
    auto r = per_second(path);
    if (!r) return "";
    char buf[48];
    std::snprintf(buf, sizeof buf, " (+%.0f/s)", *r);
    return buf;
  };
  auto rate_bytes = [&](std::string_view path) -> std::string {
    auto r = per_second(path);
    if (!r) return "";
    return " (" + vblk::format_size(clamp_u64(*r)) + "/s)";
  };
  vblk::cli::FieldList fields;
  auto line = [&](const char* name, const std::string& value) { fields.add(name, value); };
  // A vblkfs mount, or an image served by nbdkit (which has no mountpoint).
  const bool nbd = str("server") == "nbdkit";
  line(nbd ? "served:" : "mountpoint:", (nbd ? std::string("over NBD") : str("mountpoint")) +
                                            " (live: " + (nbd ? "nbdkit" : "vblkfs") + " pid " + num("pid") + ", up " +
                          human_duration(dbl("uptime_s")) + (flag("read_only") ? ", read-only" : "") +
                          (flag("powered_off") ? ", POWERED OFF by a power cut: remount to bring it back" : "") +
                          ")");
  line("image:", str("image"));
  line("capacity:", capacity_line(nblocks, bs));
  fields.group_break();
  line("reads:", num("ops/reads") + rate("ops/reads"));
  line("writes:", num("ops/writes") + rate("ops/writes"));
  if (json_at(s, "writes_in_flight_peak").is_number())
    line("in parallel:", "up to " + num("writes_in_flight_peak") + " writes at once");
  line("trims:", num("ops/trims") + rate("ops/trims"));
  line("flushes:", num("ops/flushes") + rate("ops/flushes"));
  line("read:", vblk::format_size(u64("bytes/read")) + rate_bytes("bytes/read"));
  line("written:", vblk::format_size(u64("bytes/written")) + rate_bytes("bytes/written"));
  line("trimmed:", vblk::format_size(u64("bytes/trimmed")));
  line("retries:", num("retries") + rate("retries"));
  line("failures:", num("failures") + rate("failures"));
  line("latency:", "p50 " + human_us(dbl("latency_us/p50")) + ", p99 " + human_us(dbl("latency_us/p99")) + ", max " +
                       human_us(dbl("latency_us/max")));
  char pct[32] = "n/a";
  if (json_at(s, "cache/hit_rate").is_number()) std::snprintf(pct, sizeof pct, "%.1f%%", 100 * dbl("cache/hit_rate"));
  line("cache hits:", std::string(pct) + " (" + num("cache/hits") + " hits, " + num("cache/misses") + " misses)");
  char ratio[32] = "n/a";
  if (json_at(s, "compression_ratio").is_number())
    std::snprintf(ratio, sizeof ratio, "%.2f:1", dbl("compression_ratio"));
  line("compression:", std::string(ratio) + " (" + vblk::format_size(u64("stored_bytes")) + " stored, " +
                           vblk::format_size(u64("host_file_bytes")) + " on the host" +
                           (u64("reuse_pool_bytes") ? ", " + vblk::format_size(u64("reuse_pool_bytes")) +
                                                          " of it freed, kept for reuse"
                                                    : std::string()) +
                           ")");
  if (json_at(s, "recompression").is_object()) {
    const uint64_t pending = u64("recompression/pending_bytes");
    line("recompression:", pending ? vblk::format_size(pending) + " stored at level 1, recompressed once the disk is idle"
                         : flag("recompression/scanned")
                             ? std::string("none pending")
                             : std::string("not yet looked for (after a second without requests)"));
  }
  line("blocks:", "free " + num("blocks/free") + ", used " + num("blocks/used") + ", trimmed " + num("blocks/trimmed") +
                      ", bad " + num("blocks/bad"));
  const Json& bad_ranges = json_items(json_at(s, "faults/bad_ranges"));
  std::string bad;
  for (const Json& r : bad_ranges) {
    const uint64_t first = json_u64(json_at(r, "first")), count = json_u64(json_at(r, "count"));
    if (!bad.empty()) bad += ", ";
    bad += vblk::block_range_text(first, count);
  }
  if (u64("faults/bad_range_count") > bad_ranges.size()) bad += ", ...";
  line("bad blocks:", bad.empty() ? "none" : bad);
  std::string rules;
  for (const Json& r : json_items(json_at(s, "faults/rules")))
    rules += (rules.empty() ? "" : "; ") + json_string(json_at(r, "command"));
  line("fault rules:", rules.empty() ? "none" : rules);

  // Redrawn on a terminal (--watch), the report fits the screen: the fields
  // two to a line and the map cut to the rows left, so nothing scrolls.
  const bool fit_screen = a.watch && ::isatty(STDOUT_FILENO) == 1;
  const vblk::cli::TerminalSize term = vblk::cli::stdout_terminal_size();
  std::string out = fit_screen ? fields.render_packed(term.columns) : fields.render_lines();
  if (!a.no_map) {
    vblk::cli::StateMapOptions mo;
    mo.colour = vblk::cli::stdout_wants_colour();
    if (fit_screen) {
      // Left for the map: the screen less the fields, "state map:", the
      // legend and a last line kept free (writing it would scroll).
      mo.max_rows = std::min(mo.max_rows, term.rows - vblk::cli::line_count(out) - 3);
      mo.columns = std::min(mo.columns, term.columns - 14);  // the row margin holds a block number
    }
    if (mo.max_rows >= 2 && mo.columns >= 16) {
      vblk::cli::StateMap text_map(nblocks, mo);
      if (Status st = load_map(text_map, mo); !st) return fail(a.image, st.message());
      out += std::string(fit_screen ? "" : "\n") + "state map:\n" + text_map.render();
    } else {
      out += "(no room for the block map: enlarge the terminal)\n";
    }
  }
  std::fputs(out.c_str(), stdout);
  g_previous = LiveSample{s, now};
  return 0;
}

int run(const Args& a) {
  struct stat st {};
  if (::stat(a.image.c_str(), &st) != 0) return fail(a.image, std::strerror(errno));
  if (vblk::cli::is_live_target(a.image)) {
    if (a.repair) return fail(a.image, "--repair writes the image: " + release_first(a.image) + " and repair the image file");
    return run_live(a);
  }
  if (a.repair) return run_repair(a);
  if (S_ISDIR(st.st_mode)) return fail(a.image, "is a directory (and not a vblkfs mountpoint)");
  if (struct stat svg_st {}; !a.svg.empty() && ::stat(a.svg.c_str(), &svg_st) == 0 && svg_st.st_dev == st.st_dev &&
                             svg_st.st_ino == st.st_ino)
    return fail(a.svg, "is the image itself");

  auto image = vblk::inject::open_with_rules(a.image, /*read_only=*/true);
  if (!image) return fail(a.image, vblk::cli::busy_cause(image.status(), a.image, "inspect the mountpoint"));
  vblk::ImageStore& store = *image->store;

  int rc;
  if (!a.svg.empty()) {
    rc = write_image_svg(store, a);
  } else if (a.check) {
    rc = run_check(store, a);
  } else if (a.has_block) {
    rc = show_block(store, a);
  } else {
    rc = show_image(*image, a);
  }
  std::fflush(stdout);
  Status closed = store.close();
  if (!closed && rc == 0) return fail(a.image, vblk::cli::error_cause(closed, a.image));
  return rc;
}

// ---- --watch --------------------------------------------------------------

// Redraws the report in place (ANSI home + clear) every second until
// SIGINT or SIGTERM; stops with the failure if a report fails. Not on a
// terminal (a pipe, a log) the reports follow one another, a blank line
// apart, with no escape codes.
int watch(const Args& a) {
  vblk::cli::install_interrupt_handlers(/*restart_syscalls=*/false);
  const bool terminal = ::isatty(STDOUT_FILENO) == 1;
  for (bool first = true; !vblk::cli::interrupted(); first = false) {
    std::fputs(terminal ? "\033[H\033[2J" : first ? "" : "\n", stdout);
    const int rc = run(a);
    std::fflush(stdout);
    if (rc != 0) return rc;
    for (int i = 0; i < 10 && !vblk::cli::interrupted(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    CLI::App app{"Show the header, block states, compression and damage of a vblk image (read-only),\n"
                 "or the live statistics of a running vblkfs daemon (given its mountpoint or disk file).",
                 kProg};
    Args a;
    app.set_version_flag("--version", std::string(kProg) + " " + VBLK_VERSION, "Print the version and exit");
    app.add_option("IMAGE|MOUNTPOINT", a.image, "Image file, or vblkfs mountpoint / disk file (live)")
        ->required()
        ->type_name("");
    app.add_flag("-j,--json", a.json, "Print one JSON object instead of text (vblk-inspect(1), JSON OUTPUT)");
    auto* block = app.add_option("-B,--block", a.block, "Show one block: state, stored record, hex dump")
                    ->type_name("N")
                    ->check(vblk::cli::whole_number_in(0, UINT64_MAX));
    auto* check = app.add_flag("-c,--check", a.check, "Verify every structure and record checksum; exit 1 on damage");
    app.add_flag("--repair", a.repair,
                 "With --check: make a damaged image consistent (writes it): blocks of damaged records that "
                 "still read are rewritten, the others become BAD; damaged index pages and checkpoint slots "
                 "are rebuilt from the log")
        ->needs(check);
    auto* no_map = app.add_flag("--no-map", a.no_map, "Leave out the block-state map");
    auto* watch_flag = app.add_flag("-w,--watch", a.watch, "Redraw every second until interrupted (Ctrl-C)");
    auto* svg = app.add_option("--svg", a.svg, "Write a picture of the block map (SVG) to FILE")->type_name("FILE");
    vblk::cli::add_output_options(app, a.output);
    app.get_option("--progress")->needs(check);
    app.get_option("--quiet")->needs(check);
    check->excludes(block);
    no_map->excludes(block)->excludes(check);
    svg->excludes(check)->excludes(block)->excludes(watch_flag);
    watch_flag->excludes(check)->excludes(block);
    app.footer("Exit status: 0 ok (clean; with --repair, clean once repaired), 1 error or damage found, 2 invalid "
               "command line.");
    if (auto code = vblk::cli::parse_command_line(app, argc, argv, kProg)) return *code;
    a.has_block = block->count() > 0;
    return a.watch ? watch(a) : run(a);
  } catch (...) {
    return vblk::cli::report_current_exception(kProg);
  }
}
