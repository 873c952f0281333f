// The statistics document of a served image (live/live_stats.h): its one
// list of members, written by the daemon and read by the tools.
#include "live/live_stats.h"

#include <nlohmann/json.hpp>

#include <array>

#include "util/check_json.h"
#include "util/json_fields.h"

namespace vblk::live {
namespace {

constexpr std::array kScrubStates{ScrubState::kNone, ScrubState::kRunning, ScrubState::kDone, ScrubState::kStopped,
                                  ScrubState::kFailed};

// S: ScrubStatus or const ScrubStatus.
template <class IO, class S>
void scrub_fields(IO& io, S& s) {
  io.name("state", s.state, kScrubStates);
  io.field("id", s.id);
  io.count_or_null("max_rate", s.max_rate);
  // Every digit: six significant ones (json_number) would round a time of
  // this century to 10^4 seconds.
  io.time_or_null("started_unix", s.started_unix);
  io.time_or_null("finished_unix", s.finished_unix);
  io.field("index_pages_checked", s.progress.index_pages_checked);
  io.field("index_pages_total", s.progress.index_pages_total);
  io.field("records_checked", s.progress.records_checked);
  io.field("blocks_checked", s.progress.blocks_checked);
  io.field("blocks_to_check", s.blocks_to_check);
  io.field("bytes_read", s.progress.bytes_read);
  io.field("problem_count", s.problem_count);
  io.field("damaged_blocks", s.damaged_blocks);
  io.array("problems", s.problems, [](auto& e, auto& p) { check_problem_fields(e, p); });
  // The state was read first: a failed scrub says why.
  if (s.state == ScrubState::kFailed) io.field("error", s.error);
}

// The request counters and timings of the driver.
template <class IO, class S>
void request_fields(IO& io, S& s) {
  io.object("ops", [&](auto& o) {
    o.field("reads", s.ops.reads);
    o.field("writes", s.ops.writes);
    o.field("trims", s.ops.trims);
    o.field("flushes", s.ops.flushes);
  });
  io.object("bytes", [&](auto& o) {
    o.field("read", s.bytes.read);
    o.field("written", s.bytes.written);
    o.field("trimmed", s.bytes.trimmed);
  });
  io.field("writes_in_flight_peak", s.writes_in_flight_peak);
  io.field("retries", s.retries);
  io.field("failures", s.failures);
  io.object("latency_us", [&](auto& o) {
    o.number("p50", s.latency_us.p50);
    o.number("p90", s.latency_us.p90);
    o.number("p99", s.latency_us.p99);
    o.number("max", s.latency_us.max);
  });
  io.object("cache", [&](auto& o) {
    o.field("hits", s.cache.hits);
    o.field("misses", s.cache.misses);
    o.nullable_number("hit_rate", s.cache.hit_rate);
  });
}

// What the image holds and takes on the host.
template <class IO, class S>
void storage_fields(IO& io, S& s) {
  io.positive_number("compression_ratio", s.compression_ratio);
  io.object("blocks", [&](auto& o) {
    o.field("free", s.device.free_blocks);
    o.field("used", s.device.used_blocks);
    o.field("zero", s.device.zero_blocks);
    o.field("trimmed", s.device.trimmed_blocks);
    o.field("bad", s.device.bad_blocks);
  });
  io.field("stored_bytes", s.device.stored_bytes);
  io.optional_object("recompression", s.recompression, [](auto& o, auto& r) {
    o.field("pending_bytes", r.pending_bytes);
    o.field("scanned", r.scanned);
  });
  io.field("host_file_bytes", s.device.host_file_bytes);
  io.field("host_file_size", s.device.host_file_size);
  io.field("reuse_pool_bytes", s.device.reuse_pool_bytes, Presence::kAddedLater);
}

template <class IO, class S>
void stats_fields(IO& io, S& s) {
  io.field("image", s.image);
  io.field("server", s.server, Presence::kAddedLater);
  io.field("mountpoint", s.mountpoint);
  io.field("pid", s.pid);
  io.field("read_only", s.read_only);
  io.field("powered_off", s.powered_off, Presence::kAddedLater);
  io.number("uptime_s", s.uptime_s);
  io.field("block_size", s.block_size);
  io.field("block_count", s.block_count);
  io.field("capacity_bytes", s.capacity_bytes);
  request_fields(io, s);
  storage_fields(io, s);
  io.object("faults", [&](auto& o) { inject::faults_fields(o, s.faults); });
  io.optional_object("scrub", s.scrub, [](auto& o, auto& scrub) { scrub_fields(o, scrub); });
}

}  // namespace

Json to_json(const LiveStats& s) {
  return write_json(s, [](JsonWriter& w, const LiveStats& v) { stats_fields(w, v); });
}

Result<LiveStats> live_stats_from_json(const Json& j) {
  return read_json<LiveStats>(j, [](JsonReader& r, LiveStats& v) { stats_fields(r, v); });
}

}  // namespace vblk::live
