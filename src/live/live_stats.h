#pragma once
// LiveStats: the statistics of a served image, the document of
// user.vblk.stats (vblkfs(1), CONTROL INTERFACE; the keys in
// vblk-inspect(1), JSON OUTPUT, "A mountpoint"). The daemon's control
// interface writes it (live/control.h), the tools read it back; one list
// of members (util/json_fields.h) does both, so a key is spelled once.
//
// Reading is strict: a missing key or a value of another type fails,
// naming the key. The exceptions are the keys added after the first
// daemons shipped, which a daemon from before them leaves out (keys are
// only added to the document): "server" (then "vblkfs"), "powered_off",
// "reuse_pool_bytes" (then false and 0), "writes_in_flight_peak",
// "recompression" and "scrub" (then absent).
// Thread safety: plain values.

#include <cstdint>
#include <optional>
#include <string>

#include "inject/faults_report.h"
#include "live/scrub.h"
#include "util/json.h"
#include "vblk/block_stats.h"
#include "vblk/status.h"

namespace vblk::live {

struct LiveOps {
  uint64_t reads = 0, writes = 0, trims = 0, flushes = 0;
};

struct LiveBytes {
  uint64_t read = 0, written = 0, trimmed = 0;
};

struct LiveLatency {  // microseconds, over all requests
  double p50 = 0, p90 = 0, p99 = 0, max = 0;
};

struct LiveCache {  // the cache of decompressed blocks
  uint64_t hits = 0, misses = 0;
  std::optional<double> hit_rate;  // hits / (hits + misses); none before the first lookup
};

struct LiveRecompression {  // deferred compression's work still to do
  uint64_t pending_bytes = 0;
  bool scanned = false;  // the records an earlier mount left have been counted
};

struct LiveStats {
  std::string image;              // absolute path
  std::string server = "vblkfs";  // or "nbdkit"
  std::string mountpoint;         // empty when served over NBD
  uint64_t pid = 0;
  bool read_only = false;
  bool powered_off = false;  // in a simulated power cut
  double uptime_s = 0;
  uint32_t block_size = 0;
  uint64_t block_count = 0;
  uint64_t capacity_bytes = 0;
  LiveOps ops;
  LiveBytes bytes;
  std::optional<uint64_t> writes_in_flight_peak;
  uint64_t retries = 0;
  uint64_t failures = 0;
  LiveLatency latency_us;
  LiveCache cache;
  double compression_ratio = 0;  // logical : stored; 0 (null) when nothing is stored
  // "blocks" {free, used, zero, trimmed, bad}, stored_bytes, host_file_bytes,
  // host_file_size, reuse_pool_bytes.
  DeviceStats device;
  std::optional<LiveRecompression> recompression;
  inject::FaultsReport faults;  // at most 64 BAD ranges listed
  std::optional<ScrubStatus> scrub;
};

// The document, members in the order vblk-inspect(1) lists them.
Json to_json(const LiveStats& s);
// Fails with InvalidArgument naming the key: not an object, a missing key,
// a value of another type or out of range.
Result<LiveStats> live_stats_from_json(const Json& j);

}  // namespace vblk::live
