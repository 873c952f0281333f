// vblk-inspect IMAGE: the header, block counts, sizes, BAD ranges, fault
// rules and state map of an image, as text or --json.
#include <cstdio>
#include <ctime>

#include <nlohmann/json.hpp>

#include "cli/json_output.h"
#include "cli/report.h"
#include "inject/injector.h"
#include "inspect/inspect.h"
#include "util/block_text.h"
#include "vblk/size_parse.h"

namespace vblk::cli::inspect {
namespace {

constexpr uint64_t kSectorSize = 512;

using Rules = inject::OfflineImage::Rules;

// What both views show, gathered once.
struct ImageFacts {
  ImageInfo info;
  DeviceStats st;
  std::vector<std::pair<uint64_t, uint64_t>> bad;  // (first, count)
  uint64_t provisional = 0;                        // recompression a writer that defers compression still has to do
  std::vector<FaultRule> rules;
  uint64_t logical = 0;
  uint64_t sectors = 0;
};

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

std::string bytes_and_human(uint64_t v) { return std::to_string(v) + " bytes (" + format_size(v) + ")"; }

// Why the rules file's rules are not in force, or "" when they are.
std::string rules_problem(const Rules& r) {
  if (!r.status) return r.status.message() + " (vblkfs mount refuses the image until it is fixed or removed)";
  return r.loaded.ignored;
}

// The "fault rules:" line: the rules a mount would apply, and why a rules
// file beside the image is not applied.
std::string rules_text(const Rules& r, const std::vector<FaultRule>& rules) {
  std::string text;
  for (const auto& rule : rules) text += (text.empty() ? "" : "; ") + inject::rule_command(rule);
  if (text.empty()) text = "none";
  if (std::string problem = rules_problem(r); !problem.empty()) return text + " (" + problem + ")";
  if (!rules.empty())
    text += " (from " + r.path + (r.loaded.file_uuid.empty() ? ", which names no image uuid" : "") + ")";
  return text;
}

// "fault_rules" and "fault_rules_file" of the --json view.
void add_rules_json(const Rules& r, const std::vector<FaultRule>& rules, Json& j) {
  j["fault_rules"] = inject::rules_json(rules);
  const std::string problem = rules_problem(r);
  j["fault_rules_file"] = {{"path", r.path},
                           {"uuid", r.loaded.file_uuid.empty() ? Json(nullptr) : Json(r.loaded.file_uuid)},
                           {"applied", r.status.is_ok() && r.loaded.ignored.empty()},
                           {"problem", problem.empty() ? Json(nullptr) : Json(problem)}};
}

void print_image_json(const ImageFacts& f, const Rules& file_rules, const StateMap* map, const Args& a) {
  const ImageInfo& info = f.info;
  const DeviceStats& st = f.st;
  Json j = json_document(kInspectSchema);
  j["image"] = info.path.empty() ? a.image : info.path;
  j["version"] = info.version;
  j["uuid"] = info.uuid;
  j["label"] = info.label;
  j["block_size"] = info.block_size;
  j["block_count"] = info.block_count;
  j["capacity_bytes"] = info.capacity_bytes;
  j["capacity_human"] = format_size(info.capacity_bytes);
  j["capacity_sectors"] = f.sectors;
  j["compression_level"] = info.compression_level;
  j["segment_size"] = info.segment_size;
  j["max_record_bytes"] = info.max_record_bytes;
  j["created_unix"] = info.created_unix;
  j["incompat_features"] = info.incompat_features;
  j["compat_features"] = info.compat_features;
  j["features"] = info.feature_names;
  j["generation"] = info.generation;
  j["checkpoint"] = {{"deltas", info.checkpoint_deltas}, {"chain_bytes", info.checkpoint_chain_bytes}};
  j["segments"] = info.segments;
  j["free_segments"] = info.free_segments;
  j["blocks"] = {{"free", st.free_blocks},
                 {"used", st.used_blocks},
                 {"zero", st.zero_blocks},
                 {"trimmed", st.trimmed_blocks},
                 {"bad", st.bad_blocks}};
  j["logical_bytes"] = f.logical;
  j["stored_bytes"] = st.stored_bytes;
  j["host_file_bytes"] = st.host_file_bytes;
  j["host_file_size"] = st.host_file_size;
  j["compression_ratio"] = st.stored_bytes == 0
                               ? Json(nullptr)
                               : json_number(static_cast<double>(f.logical) / static_cast<double>(st.stored_bytes));
  // As in the live statistics; offline, every record header was read.
  j["recompression"] = {{"pending_bytes", f.provisional}, {"scanned", true}};
  j["bad_ranges"] = Json::array();
  for (auto [first, count] : f.bad) j["bad_ranges"].push_back({{"first", first}, {"count", count}});
  add_rules_json(file_rules, f.rules, j);
  if (map != nullptr) j["map"] = map_json(*map);
  print_json(j);
}

// "name:         value\n": the text view's lines, values in one column.
void add_line(std::string& out, const char* name, const std::string& value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%-14s", name);
  out += buf + value + "\n";
}

// The header lines of the text view.
void header_lines(const ImageFacts& f, const Args& a, std::string& out) {
  const ImageInfo& info = f.info;
  auto line = [&out](const char* name, const std::string& value) { add_line(out, name, value); };
  line("image:", info.path.empty() ? a.image : info.path);
  line("version:", std::to_string(info.version));
  line("uuid:", info.uuid);
  line("label:", info.label.empty() ? "(none)" : info.label);
  line("block size:", std::to_string(info.block_size) + " bytes");
  line("capacity:", bytes_and_human(info.capacity_bytes) + ", " + std::to_string(f.sectors) +
                        " sectors of 512 bytes, " + std::to_string(info.block_count) + " blocks");
  line("compression:",
       info.compression_level == 0 ? "none (stored raw)" : "zstd level " + std::to_string(info.compression_level));
  line("segment size:", bytes_and_human(info.segment_size) + ", " + std::to_string(info.segments) + " segments (" +
                            std::to_string(info.free_segments) + " free)");
  std::string features;
  for (const std::string& name : info.feature_names) features += (features.empty() ? "" : ", ") + name;
  line("features:", features.empty() ? "none" : features);
  line("created:", format_time(info.created_unix));
  line("generation:", std::to_string(info.generation) +
                          (info.checkpoint_chain_bytes == 0 ? std::string()  // the empty image's: no metadata
                           : info.checkpoint_deltas == 0
                               ? std::string(", a full checkpoint")
                               : ", a delta checkpoint, " + std::to_string(info.checkpoint_deltas) +
                                     " since the last full one") +
                          (info.checkpoint_chain_bytes == 0
                               ? std::string()
                               : " (" + format_size(info.checkpoint_chain_bytes) + " of metadata to load)"));
}

// The counts, sizes and faults of the text view.
void content_lines(const ImageFacts& f, const Rules& file_rules, std::string& out) {
  const DeviceStats& st = f.st;
  auto line = [&out](const char* name, const std::string& value) { add_line(out, name, value); };
  line("blocks:", std::to_string(f.info.block_count));
  line("  free:", std::to_string(st.free_blocks));
  line("  used:", std::to_string(st.used_blocks) +
                      (st.zero_blocks ? " (" + std::to_string(st.zero_blocks) + " all-zero, no payload)" : ""));
  line("  trimmed:", std::to_string(st.trimmed_blocks));
  line("  bad:", std::to_string(st.bad_blocks));
  line("logical:", bytes_and_human(f.logical));
  line("stored:", bytes_and_human(st.stored_bytes));
  line("host file:",
       bytes_and_human(st.host_file_bytes) + " allocated, " + bytes_and_human(st.host_file_size) + " apparent");
  line("ratio:", format_ratio(f.logical, st.stored_bytes) + " (logical : stored)");
  line("recompression:", f.provisional ? format_size(f.provisional) + " stored at level 1, recompressed at level " +
                                             std::to_string(f.info.compression_level) +
                                             " once served (vblkfs) and idle for a second"
                                       : std::string("none pending"));
  std::string bad_text;
  for (auto [first, count] : f.bad) bad_text += (bad_text.empty() ? "" : ", ") + block_range_text(first, count);
  line("bad blocks:", f.bad.empty() ? "none" : bad_text);
  line("fault rules:", rules_text(file_rules, f.rules));
}

}  // namespace

int show_image(inject::OfflineImage& image, const Args& a) {
  ImageStore& store = *image.store;
  ImageFacts f;
  f.rules = image.faults->list();
  f.info = store.info();
  f.st = store.stats();
  f.bad = store.bad_ranges();
  auto provisional = store.provisional_bytes();
  if (!provisional) return fail(a.image, "counting provisional records: " + error_cause(provisional.status(), a.image));
  f.provisional = *provisional;
  f.logical = f.st.used_blocks * f.info.block_size;
  f.sectors = f.info.capacity_bytes / kSectorSize;

  StateMapOptions mo;
  mo.colour = !a.json && stdout_wants_colour();
  StateMap map(f.info.block_count, mo);
  if (!a.no_map) {
    Status s = store.state_runs(
        0, f.info.block_count, [&](uint64_t first, uint64_t count, BlockState state) { map.add(first, count, state); });
    if (!s) return fail(a.image, "reading block states: " + error_cause(s, a.image));
  }
  if (a.json) {
    print_image_json(f, image.rules, a.no_map ? nullptr : &map, a);
    return 0;
  }
  std::string out;
  header_lines(f, a, out);
  out += "\n";
  content_lines(f, image.rules, out);
  if (!a.no_map) {
    out += "\nstate map:\n";
    out += map.render();
  }
  std::fputs(out.c_str(), stdout);
  return 0;
}

}  // namespace vblk::cli::inspect
