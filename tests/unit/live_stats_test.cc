// live/live_stats.h: the statistics document of a served image, written by
// the daemon and read by the tools through one list of members. Its bytes
// (the documented layout), the round trip, and malformed documents: a
// missing key, a value of another type or out of range, each refused
// naming the key; the keys added since the first daemons may be missing.
// Also inject/faults_report.h and util/json_fields.h, which it is built on.
#include "live/live_stats.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "util/json_fields.h"

namespace vblk::live {
namespace {

LiveStats sample() {
  LiveStats s;
  s.image = "/srv/disk.vblk";
  s.server = "vblkfs";
  s.mountpoint = "/mnt/vblk";
  s.pid = 4242;
  s.read_only = false;
  s.powered_off = true;
  s.uptime_s = 12.3456789;  // printed with six significant digits
  s.block_size = 4096;
  s.block_count = 2048;
  s.capacity_bytes = 8 << 20;
  s.ops = {10, 20, 3, 4};
  s.bytes = {40960, 81920, 12288};
  s.writes_in_flight_peak = 2;
  s.retries = 1;
  s.failures = 0;
  s.latency_us = {50, 90.5, 99.25, 1234567};
  s.cache.hits = 3;
  s.cache.misses = 1;
  s.cache.hit_rate = 0.75;
  s.compression_ratio = 2.5;
  s.device.free_blocks = 2000;
  s.device.used_blocks = 40;
  s.device.zero_blocks = 2;
  s.device.trimmed_blocks = 6;
  s.device.bad_blocks = 2;
  s.device.stored_bytes = 65536;
  s.device.host_file_bytes = 1 << 20;
  s.device.host_file_size = 2 << 20;
  s.device.reuse_pool_bytes = 4096;
  s.recompression = LiveRecompression{8192, true};
  s.faults.bad_blocks = 2;
  s.faults.bad_range_count = 1;
  s.faults.bad_ranges = {{5, 2}};
  s.faults.rules = {FaultRule{FaultKind::kFlakyWrite, 9, 1, 3, {}},
                    FaultRule{FaultKind::kLatency, 0, 2048, 0, std::chrono::microseconds(500)},
                    FaultRule{FaultKind::kRemapBad, 5, 2, 0, {}}};
  ScrubStatus sc;
  sc.state = ScrubState::kFailed;
  sc.id = 2;
  sc.max_rate = 0;  // no cap: null
  sc.started_unix = 1765000000.125;
  sc.finished_unix = 0;  // not yet: null
  sc.progress = {3, 4, 5, 6, 7, 1};
  sc.blocks_to_check = 40;
  sc.problem_count = 1;
  sc.damaged_blocks = 1;
  sc.problems = {CheckProblem{true, 7, 123456, "block 7: checksum mismatch"}};
  sc.error = "image read failed";
  s.scrub = sc;
  return s;
}

// The document of sample(), key for key and byte for byte, as vblkfs(1)
// and vblk-inspect(1) (JSON OUTPUT, "A mountpoint") describe it.
constexpr const char* kSampleDocument =
    R"({"image":"/srv/disk.vblk","server":"vblkfs","mountpoint":"/mnt/vblk",)"
    R"("pid":4242,"read_only":false,"powered_off":true,"uptime_s":12.3457,"block_size":4096,"block_count":2048,)"
    R"("capacity_bytes":8388608,"ops":{"reads":10,"writes":20,"trims":3,"flushes":4},)"
    R"("bytes":{"read":40960,"written":81920,"trimmed":12288},"writes_in_flight_peak":2,"retries":1,"failures":0,)"
    R"("latency_us":{"p50":50,"p90":90.5,"p99":99.25,"max":1234570.0},"cache":{"hits":3,"misses":1,"hit_rate":0.75},)"
    R"("compression_ratio":2.5,"blocks":{"free":2000,"used":40,"zero":2,"trimmed":6,"bad":2},"stored_bytes":65536,)"
    R"("recompression":{"pending_bytes":8192,"scanned":true},"host_file_bytes":1048576,"host_file_size":2097152,)"
    R"("reuse_pool_bytes":4096,"faults":{"bad_blocks":2,"bad_range_count":1,"bad_ranges":[{"first":5,"count":2}],)"
    R"("rules":[{"kind":"flaky-write","first":9,"count":1,"remaining":3,"command":"flaky 9 3"},)"
    R"({"kind":"latency","first":0,"count":2048,"latency_us":500,"command":"latency 500us 0-2047"},)"
    R"({"kind":"remap","first":5,"count":2,"command":"remap 5-6"}]},)"
    R"("scrub":{"state":"failed","id":2,"max_rate":null,"started_unix":1765000000.125,"finished_unix":null,)"
    R"("index_pages_checked":3,"index_pages_total":4,"records_checked":5,"blocks_checked":6,"blocks_to_check":40,)"
    R"("bytes_read":7,"problem_count":1,"damaged_blocks":1,)"
    R"("problems":[{"block":7,"file_offset":123456,"what":"block 7: checksum mismatch"}],)"
    R"("error":"image read failed"}})";

Json parsed(const std::string& text) {
  auto j = parse_json(text);
  EXPECT_TRUE(j.is_ok()) << j.status().to_string();
  return j.is_ok() ? *j : Json();
}

// The error reading `doc` gives.
std::string read_error(const Json& doc) {
  auto s = live_stats_from_json(doc);
  EXPECT_FALSE(s.is_ok());
  return s.is_ok() ? std::string() : s.status().message();
}

TEST(LiveStats, WritesTheDocumentedLayout) { EXPECT_EQ(dump_json_compact(to_json(sample())), kSampleDocument); }

TEST(LiveStats, ReadsBackWhatItWrote) {
  const Json doc = to_json(sample());
  auto back = live_stats_from_json(parsed(dump_json(doc)));
  ASSERT_TRUE(back.is_ok()) << back.status().to_string();
  EXPECT_EQ(dump_json(to_json(*back)), dump_json(doc));
  EXPECT_EQ(back->image, "/srv/disk.vblk");
  EXPECT_EQ(back->pid, 4242u);
  EXPECT_TRUE(back->powered_off);
  EXPECT_EQ(back->ops.writes, 20u);
  EXPECT_EQ(back->writes_in_flight_peak, std::optional<uint64_t>(2));
  EXPECT_DOUBLE_EQ(back->uptime_s, 12.3457) << "the reader sees what the daemon printed";
  EXPECT_EQ(back->cache.hit_rate, std::optional<double>(0.75));
  EXPECT_EQ(back->device.reuse_pool_bytes, 4096u);
  ASSERT_EQ(back->faults.rules.size(), 3u);
  EXPECT_EQ(back->faults.rules[0].remaining, 3u);
  EXPECT_EQ(back->faults.rules[1].latency, std::chrono::microseconds(500));
  EXPECT_EQ(back->faults.rules[2].kind, FaultKind::kRemapBad);
  ASSERT_TRUE(back->scrub);
  EXPECT_EQ(back->scrub->state, ScrubState::kFailed);
  EXPECT_EQ(back->scrub->error, "image read failed");
  EXPECT_EQ(back->scrub->started_unix, 1765000000.125);
  ASSERT_EQ(back->scrub->problems.size(), 1u);
  EXPECT_TRUE(back->scrub->problems[0].has_block);
  EXPECT_EQ(back->scrub->problems[0].file_offset, 123456u);
}

TEST(LiveStats, NullsReadAsNothingToSay) {
  LiveStats s = sample();
  s.cache = {};
  s.compression_ratio = 0;
  s.scrub->state = ScrubState::kNone;
  s.scrub->started_unix = 0;
  s.scrub->problems = {CheckProblem{false, 0, 64, "index page"}};
  const Json doc = to_json(s);
  EXPECT_TRUE(doc["cache"]["hit_rate"].is_null());
  EXPECT_TRUE(doc["compression_ratio"].is_null());
  EXPECT_FALSE(doc["scrub"].contains("error")) << "only a failed scrub says why";
  auto back = live_stats_from_json(doc);
  ASSERT_TRUE(back.is_ok()) << back.status().to_string();
  EXPECT_FALSE(back->cache.hit_rate);
  EXPECT_EQ(back->compression_ratio, 0);
  EXPECT_EQ(back->scrub->started_unix, 0);
  EXPECT_FALSE(back->scrub->problems[0].has_block);
  EXPECT_EQ(dump_json(to_json(*back)), dump_json(doc));
}

TEST(LiveStats, AMissingKeyIsRefusedNamingIt) {
  Json doc = to_json(sample());
  doc["ops"].erase("reads");
  EXPECT_EQ(read_error(doc), "key \"ops/reads\" is missing");
  doc = to_json(sample());
  doc.erase("image");
  EXPECT_EQ(read_error(doc), "key \"image\" is missing");
  doc = to_json(sample());
  doc["scrub"].erase("error");
  EXPECT_EQ(read_error(doc), "key \"scrub/error\" is missing") << "a failed scrub must say why";
  doc = to_json(sample());
  doc["faults"]["rules"][0].erase("remaining");
  EXPECT_EQ(read_error(doc), "key \"faults/rules/0/remaining\" is missing") << "a flaky rule counts down";
}

TEST(LiveStats, AValueOfAnotherTypeIsRefusedNamingIt) {
  auto with = [](const char* path, Json v) {
    Json doc = to_json(sample());
    doc[Json::json_pointer(path)] = std::move(v);
    return read_error(doc);
  };
  EXPECT_EQ(with("/block_count", "2048"), "key \"block_count\" is a JSON string, not a whole number from 0 to 2^64-1");
  EXPECT_EQ(with("/block_size", uint64_t{1} << 32),
            "key \"block_size\" is 4294967296, not a whole number from 0 to 2^32-1");
  EXPECT_EQ(with("/bytes/read", -1), "key \"bytes/read\" is -1, not a whole number from 0 to 2^64-1");
  EXPECT_EQ(with("/pid", 1.5), "key \"pid\" is 1.5, not a whole number from 0 to 2^64-1");
  EXPECT_EQ(with("/read_only", 0), "key \"read_only\" is 0, not true or false");
  EXPECT_EQ(with("/latency_us/p99", nullptr), "key \"latency_us/p99\" is a JSON null, not a number");
  EXPECT_EQ(with("/ops", Json::array()), "key \"ops\" is a JSON array, not an object");
  EXPECT_EQ(with("/faults/bad_ranges", Json::object()), "key \"faults/bad_ranges\" is a JSON object, not an array");
  EXPECT_EQ(with("/faults/bad_ranges/0", 5), "key \"faults/bad_ranges/0\" is a JSON number, not an object");
  EXPECT_EQ(with("/faults/rules/1/kind", "gremlin"),
            "key \"faults/rules/1/kind\" is \"gremlin\", not one of flaky-write, latency, remap");
  EXPECT_EQ(with("/scrub/state", "paused"),
            "key \"scrub/state\" is \"paused\", not one of none, running, done, stopped, failed");
  EXPECT_EQ(with("/scrub/problems/0/block", "7"),
            "key \"scrub/problems/0/block\" is a JSON string, not a whole number from 0 to 2^64-1");
  EXPECT_EQ(with("/scrub", 3), "key \"scrub\" is 3, not an object");
}

TEST(LiveStats, NotAnObjectIsRefused) {
  EXPECT_EQ(read_error(Json::array({1, 2})), "a JSON array, not an object");
  EXPECT_EQ(read_error(Json("stats")), "a JSON string, not an object");
}

TEST(LiveStats, KeysAddedSinceTheFirstDaemonsMayBeMissing) {
  Json doc = to_json(sample());
  for (const char* key :
       {"server", "powered_off", "writes_in_flight_peak", "recompression", "reuse_pool_bytes", "scrub"})
    doc.erase(key);
  auto s = live_stats_from_json(doc);
  ASSERT_TRUE(s.is_ok()) << s.status().to_string();
  EXPECT_EQ(s->server, "vblkfs");
  EXPECT_FALSE(s->powered_off);
  EXPECT_FALSE(s->writes_in_flight_peak);
  EXPECT_FALSE(s->recompression);
  EXPECT_EQ(s->device.reuse_pool_bytes, 0u);
  EXPECT_FALSE(s->scrub);
  EXPECT_EQ(s->ops.reads, 10u);
}

TEST(FaultsReport, ReadsBackWhatItWroteAndIgnoresTheDerivedCommand) {
  inject::FaultsReport f = sample().faults;
  Json doc = inject::to_json(f);
  doc["rules"][0]["command"] = "anything";  // written from the rule, never read
  auto back = inject::faults_report_from_json(doc);
  ASSERT_TRUE(back.is_ok()) << back.status().to_string();
  EXPECT_EQ(dump_json(inject::to_json(*back)), dump_json(inject::to_json(f)));
  EXPECT_EQ(dump_json_compact(inject::rules_json(f.rules)), dump_json_compact(inject::to_json(f)["rules"]));
  doc.erase("bad_range_count");
  EXPECT_EQ(inject::faults_report_from_json(doc).status().message(), "key \"bad_range_count\" is missing");
}

}  // namespace
}  // namespace vblk::live
