// vblk-inspect MOUNTPOINT (or an image served by nbdkit): the server's
// statistics (user.vblk.stats, live/live_stats.h), faults and block map,
// as text, --json or --svg. Under --watch the text view shows the rate of
// each counter since the report before.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>

#include <nlohmann/json.hpp>

#include "cli/field_list.h"
#include "cli/json_output.h"
#include "cli/live.h"
#include "cli/report.h"
#include "inspect/inspect.h"
#include "util/block_text.h"
#include "vblk/size_parse.h"

namespace vblk::cli::inspect {
namespace {

using live::LiveStats;
using Clock = std::chrono::steady_clock;

struct LiveSample {
  LiveStats stats;
  Clock::time_point at;
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

// `d` as a count in [0, 2^64 - 1]: a live figure is the server's word, and
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

// The counters --watch shows a rate beside.
enum class Counter { kReads, kWrites, kTrims, kFlushes, kBytesRead, kBytesWritten, kRetries, kFailures };

uint64_t counter(const LiveStats& s, Counter c) {
  switch (c) {
    case Counter::kReads:
      return s.ops.reads;
    case Counter::kWrites:
      return s.ops.writes;
    case Counter::kTrims:
      return s.ops.trims;
    case Counter::kFlushes:
      return s.ops.flushes;
    case Counter::kBytesRead:
      return s.bytes.read;
    case Counter::kBytesWritten:
      return s.bytes.written;
    case Counter::kRetries:
      return s.retries;
    case Counter::kFailures:
      return s.failures;
  }
  return 0;
}

// The change per second of a counter since the sample --watch drew before.
class Rates {
 public:
  Rates(const LiveStats& s, Clock::time_point now, bool watch) : s_(s), now_(now), watch_(watch) {}

  // " (+N/s)" beside a count, or "".
  std::string count(Counter c) const {
    auto r = per_second(c);
    if (!r) return "";
    char buf[48];
    std::snprintf(buf, sizeof buf, " (+%.0f/s)", *r);
    return buf;
  }
  // " (SIZE/s)" beside bytes, or "".
  std::string bytes(Counter c) const {
    auto r = per_second(c);
    if (!r) return "";
    return " (" + format_size(clamp_u64(*r)) + "/s)";
  }

 private:
  std::optional<double> per_second(Counter c) const {
    if (!watch_ || !g_previous) return std::nullopt;
    const double dt = std::chrono::duration<double>(now_ - g_previous->at).count();
    if (dt <= 0) return std::nullopt;
    return (static_cast<double>(counter(s_, c)) - static_cast<double>(counter(g_previous->stats, c))) / dt;
  }

  const LiveStats& s_;
  Clock::time_point now_;
  bool watch_;
};

// The server's map at exactly the text map's grid, so each cell is the same
// blocks.
Status load_map(const std::string& target, StateMap& text_map, const StateMapOptions& mo) {
  const size_t cells = static_cast<size_t>(mo.columns) * static_cast<size_t>(mo.max_rows);
  auto map_text = read_xattr(target, "user.vblk.map." + std::to_string(cells));
  if (!map_text) return Status::io_error(error_cause(map_text.status(), target));
  auto mj = parse_json(*map_text);
  if (!mj) return Status::corruption("unreadable user.vblk.map: " + mj.status().message());
  auto map = report::block_map_from_json(*mj);
  if (!map) return map.status();
  for (size_t i = 0; i < map->cells.size(); ++i)
    text_map.add(map->cell_first(i), map->cell_blocks(i), map->cells[i].worst);
  return Status::ok();
}

int live_svg(const Args& a, const LiveStats& s) {
  auto map_text = read_xattr(a.image, "user.vblk.map");
  if (!map_text) return fail(a.image, error_cause(map_text.status(), a.image));
  auto mj = parse_json(*map_text);
  if (!mj) return fail(a.image, "unreadable user.vblk.map: " + mj.status().message());
  auto map = report::block_map_from_json(*mj);
  if (!map) return fail(a.image, map.status().message());
  SvgOptions so;
  // An image served by nbdkit has no mountpoint.
  so.title = s.server == "nbdkit" ? s.image + " (served over NBD)" : s.mountpoint + " (" + s.image + ")";
  so.subtitle = "live, " + capacity_line(s.block_count, s.block_size);
  return write_svg(*map, so, a);
}

int live_json(const Args& a, const LiveStats& s) {
  Json j = json_document(kInspectSchema);
  j["live"] = true;
  json_append(j, live::to_json(s));
  if (!a.no_map) {
    StateMap text_map(s.block_count, {});
    if (Status st = load_map(a.image, text_map, {}); !st) return fail(a.image, st.message());
    j["map"] = map_json(text_map);
  }
  print_json(j);
  return 0;
}

// Who serves the image, and the requests since.
void request_fields(const LiveStats& s, const Rates& r, FieldList& fields) {
  const bool nbd = s.server == "nbdkit";  // a vblkfs mount, or an image served by nbdkit
  fields.add(nbd ? "served:" : "mountpoint:",
             (nbd ? std::string("over NBD") : s.mountpoint) + " (live: " + (nbd ? "nbdkit" : "vblkfs") + " pid " +
                 std::to_string(s.pid) + ", up " + human_duration(s.uptime_s) + (s.read_only ? ", read-only" : "") +
                 (s.powered_off ? ", POWERED OFF by a power cut: remount to bring it back" : "") + ")");
  fields.add("image:", s.image);
  fields.add("capacity:", capacity_line(s.block_count, s.block_size));
  fields.group_break();
  fields.add("reads:", std::to_string(s.ops.reads) + r.count(Counter::kReads));
  fields.add("writes:", std::to_string(s.ops.writes) + r.count(Counter::kWrites));
  if (s.writes_in_flight_peak)
    fields.add("in parallel:", "up to " + std::to_string(*s.writes_in_flight_peak) + " writes at once");
  fields.add("trims:", std::to_string(s.ops.trims) + r.count(Counter::kTrims));
  fields.add("flushes:", std::to_string(s.ops.flushes) + r.count(Counter::kFlushes));
  fields.add("read:", format_size(s.bytes.read) + r.bytes(Counter::kBytesRead));
  fields.add("written:", format_size(s.bytes.written) + r.bytes(Counter::kBytesWritten));
  fields.add("trimmed:", format_size(s.bytes.trimmed));
  fields.add("retries:", std::to_string(s.retries) + r.count(Counter::kRetries));
  fields.add("failures:", std::to_string(s.failures) + r.count(Counter::kFailures));
  fields.add("latency:", "p50 " + human_us(s.latency_us.p50) + ", p99 " + human_us(s.latency_us.p99) + ", max " +
                             human_us(s.latency_us.max));
  char pct[32] = "n/a";
  if (s.cache.hit_rate) std::snprintf(pct, sizeof pct, "%.1f%%", 100 * *s.cache.hit_rate);
  fields.add("cache hits:", std::string(pct) + " (" + std::to_string(s.cache.hits) + " hits, " +
                                std::to_string(s.cache.misses) + " misses)");
}

// What the image stores, and the faults in force.
void storage_fields(const LiveStats& s, FieldList& fields) {
  const DeviceStats& d = s.device;
  char ratio[32] = "n/a";
  if (s.compression_ratio > 0) std::snprintf(ratio, sizeof ratio, "%.2f:1", s.compression_ratio);
  fields.add("compression:",
             std::string(ratio) + " (" + format_size(d.stored_bytes) + " stored, " + format_size(d.host_file_bytes) +
                 " on the host" +
                 (d.reuse_pool_bytes ? ", " + format_size(d.reuse_pool_bytes) + " of it freed, kept for reuse"
                                     : std::string()) +
                 ")");
  if (s.recompression) {
    const uint64_t pending = s.recompression->pending_bytes;
    fields.add("recompression:",
               pending ? format_size(pending) + " stored at level 1, recompressed once the disk is idle"
               : s.recompression->scanned ? std::string("none pending")
                                          : std::string("not yet looked for (after a second without requests)"));
  }
  fields.add("blocks:", "free " + std::to_string(d.free_blocks) + ", used " + std::to_string(d.used_blocks) +
                            ", trimmed " + std::to_string(d.trimmed_blocks) + ", bad " + std::to_string(d.bad_blocks));
  std::string bad;
  for (const inject::BlockRange& r : s.faults.bad_ranges)
    bad += (bad.empty() ? "" : ", ") + block_range_text(r.first, r.count);
  if (s.faults.bad_range_count > s.faults.bad_ranges.size()) bad += ", ...";
  fields.add("bad blocks:", bad.empty() ? "none" : bad);
  std::string rules;
  for (const FaultRule& rule : s.faults.rules) rules += (rules.empty() ? "" : "; ") + inject::rule_command(rule);
  fields.add("fault rules:", rules.empty() ? "none" : rules);
}

// The text view. Redrawn on a terminal (--watch), the report fits the
// screen: the fields two to a line and the map cut to the rows left, so
// nothing scrolls.
int live_text(const Args& a, const LiveStats& s) {
  const auto now = Clock::now();
  FieldList fields;
  request_fields(s, Rates(s, now, a.watch), fields);
  storage_fields(s, fields);
  const bool fit_screen = a.watch && ::isatty(STDOUT_FILENO) == 1;
  const TerminalSize term = stdout_terminal_size();
  std::string out = fit_screen ? fields.render_packed(term.columns) : fields.render_lines();
  if (!a.no_map) {
    StateMapOptions mo;
    mo.colour = stdout_wants_colour();
    if (fit_screen) {
      // Left for the map: the screen less the fields, "state map:", the
      // legend and a last line kept free (writing it would scroll).
      mo.max_rows = std::min(mo.max_rows, term.rows - line_count(out) - 3);
      mo.columns = std::min(mo.columns, term.columns - 14);  // the row margin holds a block number
    }
    if (mo.max_rows >= 2 && mo.columns >= 16) {
      StateMap text_map(s.block_count, mo);
      if (Status st = load_map(a.image, text_map, mo); !st) return fail(a.image, st.message());
      out += std::string(fit_screen ? "" : "\n") + "state map:\n" + text_map.render();
    } else {
      out += "(no room for the block map: enlarge the terminal)\n";
    }
  }
  std::fputs(out.c_str(), stdout);
  g_previous = LiveSample{s, now};
  return 0;
}

}  // namespace

int run_live(const Args& a) {
  if (a.check) return run_live_check(a);
  if (a.has_block) {
    return fail(a.image, "--block reads the image itself: " + release_first(a.image) + ", then run it on the image");
  }
  auto stats = read_live_stats(a.image);
  if (!stats) return fail(a.image, error_cause(stats.status(), a.image));
  if (!a.svg.empty()) return live_svg(a, *stats);
  if (a.json) return live_json(a, *stats);
  return live_text(a, *stats);
}

}  // namespace vblk::cli::inspect
