// Power cuts under a member-set image (no write hole). IMAGE and the seven
// member files of a 4 + 2 local + 1 global layout are regions of one
// crash-recorded file (io/crash_file.h): a workload of writes, flushes and
// checkpoints goes through it, then for cut points along the log (evenly
// spread, and just before every sync) the disk a power cut could have left
// (unsynced writes dropped, kept, or a random subset kept; the last write
// torn) is opened with one member missing, in
// turn each of the seven, and every block a completed flush acknowledged
// reads back its data (or a version written after that flush), never
// anything else. About 2,100 cut points here and 750 in the rebuild test
// (a third of each under the sanitizers).
//
// Note: the recorder is one file, so a sync of one member makes the writes
// to every member durable; the cuts between syncs and the torn writes are
// what exercise the order of data, parity and tail slots.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "format/member_set.h"
#include "io/crash_file.h"
#include "io/mem_file.h"
#include "store/member_backend.h"
#include "store/member_set_open.h"
#include "store/open.h"
#include "member_test_util.h"
#include "test_util.h"
#include "vblk/image_store.h"

namespace vblk {
namespace {

constexpr uint32_t kBlock = 4096;
constexpr uint64_t kRegion = 2u << 20;  // bytes per file in the recorder
constexpr uint32_t kMembers = 7;
constexpr uint32_t kMaxRegions = 9;  // IMAGE and up to 8 members

// While set, a sync takes a while (as a disk's does), so that other
// threads' writes land while it runs.
std::atomic<bool> slow_syncs{false};

// A region of a shared file, as a file of its own.
class RegionFile final : public io::File {
 public:
  RegionFile(std::shared_ptr<io::File> base, uint64_t start, std::string name, std::atomic<uint64_t>& size)
      : base_(std::move(base)), start_(start), name_(std::move(name)), size_(size) {}
  Result<size_t> read_at(uint64_t offset, std::span<uint8_t> out) override {
    const uint64_t size = size_.load();
    if (offset >= size) return size_t{0};
    return base_->read_at(start_ + offset, out.first(std::min<uint64_t>(out.size(), size - offset)));
  }
  Status write_at(uint64_t offset, std::span<const uint8_t> data) override {
    if (offset + data.size() > kRegion) return Status::no_space(name_ + ": region full");
    VBLK_RETURN_IF_ERROR(base_->write_at(start_ + offset, data));
    uint64_t want = offset + data.size(), have = size_.load();
    while (have < want && !size_.compare_exchange_weak(have, want)) {
    }
    return Status::ok();
  }
  Status sync() override {
    if (slow_syncs) std::this_thread::sleep_for(std::chrono::microseconds(100));
    return base_->sync();
  }
  Status punch_hole(uint64_t offset, uint64_t length) override {
    if (offset >= kRegion) return Status::ok();
    return base_->punch_hole(start_ + offset, std::min(length, kRegion - offset));
  }
  Result<uint64_t> size() override { return size_.load(); }
  Result<uint64_t> allocated_bytes() override { return size_.load(); }
  const std::string& name() const override { return name_; }

 private:
  std::shared_ptr<io::File> base_;
  uint64_t start_;
  std::string name_;
  std::atomic<uint64_t>& size_;
};

// The files of one disk: IMAGE in region 0, member m in region m + 1.
struct Disk {
  std::shared_ptr<io::File> base;
  std::array<std::atomic<uint64_t>, kMaxRegions> sizes{};
  uint32_t missing = UINT32_MAX;  // a member the opener does not find
  std::vector<uint32_t> also_missing;  // more of them

  std::unique_ptr<io::File> region(uint32_t r, const std::string& name) {
    return std::make_unique<RegionFile>(base, r * kRegion, name, sizes[r]);
  }
  store::MemberOpener opener() {
    return [this](const std::string& name, bool) -> Result<std::unique_ptr<io::File>> {
      const uint32_t m = static_cast<uint32_t>(std::stoul(name.substr(1)));
      if (m == missing || std::find(also_missing.begin(), also_missing.end(), m) != also_missing.end())
        return Status::not_found(name + ": No such file or directory");
      return region(m + 1, name);
    };
  }
};

FormatOptions crash_format() { return test::small_member_format(16ull << 20); }

OpenOptions crash_open() {
  OpenOptions o;
  o.background_maintenance = false;
  return o;
}

Result<std::unique_ptr<ImageStore>> open_disk(Disk& d, const format::Superblock& sb) {
  auto backend = store::open_member_backend(d.region(0, "crash.img"), sb, d.opener(), false);
  if (!backend) return backend.status();
  return store::open_image(std::move(*backend), crash_open());
}

struct Ack {
  uint64_t ops = 0;                     // the recorder's op count when the flush returned
  std::map<uint64_t, uint64_t> blocks;  // block -> version, as acknowledged
};

// A new member set of format f on `disk`: its superblock.
format::Superblock new_set(Disk& disk, const FormatOptions& f) {
  auto sb = store::superblock_for("crash.img", f);
  EXPECT_TRUE(sb);
  auto table = store::new_member_table(*sb, f.members, [](uint32_t m, uint32_t) {
    char n[16];
    std::snprintf(n, sizeof n, "m%03u", m);
    return std::string(n);
  });
  EXPECT_TRUE(table) << table.status().to_string();
  auto image = disk.region(0, "crash.img");
  EXPECT_TRUE(store::write_member_set(*image, *sb, *table, disk.opener()));
  return *sb;
}

// The cut points after first_op: `spread` evenly spread, in every mode and
// with torn writes; and just before every `sync_step`-th sync, everything
// since the one before dropped (where the order of data, parity and tail
// slots shows).
std::vector<io::CutPoint> cut_points(const io::CrashRecorder& rec, uint64_t first_op, uint64_t spread,
                                     size_t sync_step, std::mt19937_64& rng) {
  const uint64_t ops = rec.op_count();
  std::vector<io::CutPoint> points;
  const uint64_t stride = std::max<uint64_t>(1, (ops - first_op) / (spread / test::kSanitizedSweepThinning));
  for (uint64_t at = first_op, i = 0; at <= ops; at += stride, ++i) {
    io::CutPoint cut;
    cut.ops = at;
    cut.unsynced = static_cast<io::Unsynced>(i % 3);
    cut.seed = i;
    if (i % 2 && at > 0 && rec.op(at - 1).kind == io::CrashRecorder::OpKind::kWrite)
      cut.torn_bytes = rng() % (rec.op(at - 1).length + 1);
    points.push_back(cut);
  }
  const std::vector<uint64_t> syncs = rec.sync_indices();
  for (size_t i = 0; i < syncs.size(); i += sync_step * test::kSanitizedSweepThinning)
    if (syncs[i] > first_op) points.push_back(io::CutPoint{syncs[i], io::Unsynced::kDropAll, 0, std::nullopt});
  std::sort(points.begin(), points.end(), [](const io::CutPoint& a, const io::CutPoint& b) { return a.ops < b.ops; });
  return points;
}

// The disk a cut leaves: `members` member regions after IMAGE's, each as
// long as its last non-zero byte (rounded to 4 KiB).
void cut_disk(io::CrashReplayer& replayer, const io::CutPoint& cut, uint32_t members, Disk& after) {
  std::vector<uint8_t> bytes = replayer.materialize(cut);
  bytes.resize(std::max<size_t>(bytes.size(), (members + 1) * kRegion));
  for (uint32_t r = 0; r <= members; ++r) {
    const uint8_t* region = bytes.data() + r * kRegion;
    uint64_t end = kRegion;
    for (uint64_t word = 0; end >= sizeof word; end -= sizeof word) {  // a word at a time: mostly zeros
      std::memcpy(&word, region + end - sizeof word, sizeof word);
      if (word != 0) break;
    }
    while (end > 0 && region[end - 1] == 0) --end;
    after.sizes[r] = format::align_up(end, 4096);
  }
  after.base = std::make_shared<io::MemFile>("crash.img", std::move(bytes));
}

using History = std::map<uint64_t, std::vector<std::pair<uint64_t, uint64_t>>>;  // block -> (ops, version)

// One write of 1 to max_blocks blocks at a random place below block 300,
// at the next version, recorded in `history` and `current`.
void write_run(ImageStore& st, const io::CrashRecorder& rec, std::mt19937_64& rng, uint32_t max_blocks,
               uint64_t& version, History& history, std::map<uint64_t, uint64_t>& current) {
  const uint64_t block = rng() % 300;
  const uint32_t count = 1 + static_cast<uint32_t>(rng() % max_blocks);
  std::vector<uint8_t> data;
  ++version;
  for (uint32_t k = 0; k < count && block + k < 300; ++k) {
    auto b = test::member_block_data(block + k, version);
    data.insert(data.end(), b.begin(), b.end());
    history[block + k].push_back({rec.op_count(), version});
    current[block + k] = version;
  }
  ASSERT_TRUE(st.write_blocks(block, data));
}

// Every block `ack` acknowledged reads back its version or a later one.
void expect_acknowledged(ImageStore& st, const Ack& ack, History& history, const char* when) {
  std::vector<uint8_t> got(kBlock);
  for (auto [block, v] : ack.blocks) {
    Status s = st.read_blocks(block, 1, got);
    ASSERT_TRUE(s) << when << ": block " << block << ": " << s.to_string();
    bool matched = got == test::member_block_data(block, v);
    for (auto [when_op, later] : history[block])
      if (!matched && when_op >= ack.ops) matched = got == test::member_block_data(block, later);
    ASSERT_TRUE(matched) << when << ": block " << block << " acknowledged at version " << v;
  }
}

TEST(MemberCrash, EveryAcknowledgedWriteSurvivesACutWithAMemberMissing) {
  io::CrashRecorder rec(std::vector<uint8_t>{});
  Disk disk;
  disk.base = rec.open("crash.img");
  const format::Superblock sb = new_set(disk, crash_format());

  // The workload, with a reopen half way.
  std::vector<Ack> acks;
  History history;
  std::map<uint64_t, uint64_t> current;
  std::mt19937_64 rng(20261207);
  const uint64_t first_op = rec.op_count();
  uint64_t version = 0;
  for (int session = 0; session < 2; ++session) {
    auto st = open_disk(disk, sb);
    ASSERT_TRUE(st) << st.status().to_string();
    for (int i = 0; i < 160; ++i) {
      ASSERT_NO_FATAL_FAILURE(write_run(**st, rec, rng, 6, version, history, current));
      if (rng() % 4 == 0) {
        ASSERT_TRUE((*st)->flush());
        acks.push_back({rec.op_count(), current});
      }
      if (rng() % 40 == 0) {
        ASSERT_TRUE((*st)->checkpoint());
      }
    }
    ASSERT_TRUE((*st)->close());
    acks.push_back({rec.op_count(), current});
  }
  ASSERT_GT(acks.size(), 20u);

  const std::vector<io::CutPoint> points = cut_points(rec, first_op, 150, 1, rng);
  io::CrashReplayer replayer(rec);
  uint64_t cuts = 0;
  for (const io::CutPoint& cut : points) {
    const uint64_t at = cut.ops;
    ++cuts;
    Disk after;
    cut_disk(replayer, cut, kMembers, after);
    after.missing = static_cast<uint32_t>(cuts % kMembers);
    SCOPED_TRACE("cut at op " + std::to_string(at) + " (" + io::to_string(cut.unsynced) +
                 (cut.torn_bytes ? ", torn" : "") + "), member " + std::to_string(after.missing) + " missing");
    // What the last flush before the cut acknowledged.
    const Ack* ack = nullptr;
    for (const Ack& a : acks)
      if (a.ops <= at) ack = &a;
    auto st = open_disk(after, sb);
    ASSERT_TRUE(st) << st.status().to_string();
    if (!ack) continue;
    ASSERT_NO_FATAL_FAILURE(expect_acknowledged(**st, *ack, history, "after the cut"));
  }
  // Thousands of cuts: every sync is one.
  EXPECT_GT(cuts, 1500u / test::kSanitizedSweepThinning);
}

// Power cuts with writers beside the syncs: a sync waits for the members
// without holding the backend's lock, so writers append while it runs, and
// the tail it writes covers the open row as it was when it began. Two
// writer threads (each on blocks of its own) and a flusher thread; a flush
// acknowledges what the writers had completed before it began. After each
// cut, with one member missing in turn, every acknowledged block reads back
// its version or a later one written before the cut.
TEST(MemberCrash, EveryAcknowledgedWriteSurvivesACutWithWritersBesideTheSyncs) {
  io::CrashRecorder rec(std::vector<uint8_t>{});
  Disk disk;
  disk.base = rec.open("crash.img");
  const format::Superblock sb = new_set(disk, crash_format());
  constexpr int kWriters = 2;
  constexpr uint64_t kBlocksEach = 150;
  std::mutex mu;
  std::map<uint64_t, uint64_t> completed;                          // block -> version, writes returned
  std::map<uint64_t, std::vector<std::pair<uint64_t, uint64_t>>> started;  // block -> (op, version)
  std::vector<Ack> acks;
  const uint64_t first_op = rec.op_count();
  {
    auto st = open_disk(disk, sb);
    ASSERT_TRUE(st) << st.status().to_string();
    std::atomic<int> writing{kWriters};
    std::atomic<bool> failed{false};
    auto writer = [&](int t) {
      std::mt19937_64 rng(20261209 + t);
      for (uint64_t version = 1; version <= 200 && !failed; ++version) {
        const uint64_t block = t * kBlocksEach + rng() % (kBlocksEach - 4);
        const uint32_t count = 1 + static_cast<uint32_t>(rng() % 3);
        std::vector<uint8_t> data;
        {
          std::lock_guard<std::mutex> lock(mu);
          for (uint32_t k = 0; k < count; ++k) started[block + k].push_back({rec.op_count(), version});
        }
        for (uint32_t k = 0; k < count; ++k) {
          auto b = test::member_block_data(block + k, version);
          data.insert(data.end(), b.begin(), b.end());
        }
        if (Status w = (*st)->write_blocks(block, data); !w) {
          ADD_FAILURE() << "write of block " << block << ": " << w.to_string();
          failed = true;
        }
        {
          std::lock_guard<std::mutex> lock(mu);
          for (uint32_t k = 0; k < count; ++k) completed[block + k] = version;
        }
        std::this_thread::sleep_for(std::chrono::microseconds(200));  // flushes between the writes
      }
      --writing;
    };
    std::vector<std::thread> threads;
    slow_syncs = true;
    for (int t = 0; t < kWriters; ++t) threads.emplace_back(writer, t);
    while (writing > 0 && !failed) {
      std::map<uint64_t, uint64_t> before;
      {
        std::lock_guard<std::mutex> lock(mu);
        before = completed;
      }
      if (Status f = (*st)->flush(); !f) {
        ADD_FAILURE() << "flush: " << f.to_string();
        failed = true;
      }
      acks.push_back({rec.op_count(), std::move(before)});
    }
    for (auto& th : threads) th.join();
    slow_syncs = false;
    ASSERT_FALSE(failed);
    ASSERT_TRUE((*st)->close());
    acks.push_back({rec.op_count(), completed});
  }
  ASSERT_GT(acks.size(), 10u);

  std::mt19937_64 rng(20261210);
  const std::vector<io::CutPoint> points = cut_points(rec, first_op, 150, 1, rng);
  io::CrashReplayer replayer(rec);
  std::vector<uint8_t> got(kBlock);
  uint64_t cuts = 0;
  for (const io::CutPoint& cut : points) {
    ++cuts;
    Disk after;
    cut_disk(replayer, cut, kMembers, after);
    // A data member: the tail's parity stands in for the data members'
    // chunks of the open row.
    after.missing = static_cast<uint32_t>(cuts % 4);
    SCOPED_TRACE("cut at op " + std::to_string(cut.ops) + " (" + io::to_string(cut.unsynced) +
                 (cut.torn_bytes ? ", torn" : "") + "), member " + std::to_string(after.missing) + " missing");
    const Ack* ack = nullptr;
    for (const Ack& a : acks)
      if (a.ops <= cut.ops) ack = &a;
    auto st = open_disk(after, sb);
    ASSERT_TRUE(st) << st.status().to_string();
    if (!ack) continue;
    for (auto [block, v] : ack->blocks) {
      Status s = (*st)->read_blocks(block, 1, got);
      ASSERT_TRUE(s) << "block " << block << ": " << s.to_string();
      bool matched = false;
      for (auto [op, later] : started[block])
        matched = matched || (later >= v && op < cut.ops && got == test::member_block_data(block, later));
      ASSERT_TRUE(matched) << "block " << block << " acknowledged at version " << v;
    }
  }
  EXPECT_GT(cuts, 400u / test::kSanitizedSweepThinning);
}

// Power cuts during a rebuild (vblk(5), MEMBER SETS, Rebuild). A 4 + 2 + 1
// layout with one spare: member 1 is failed and written without, then
// rebuilt onto spare 7 in small steps with its progress persisted often,
// writes and flushes between the steps, and writes after it. After every
// cut the disk is opened with member 1's file gone and one more member
// missing (of the other group, or the spare, in turn): every acknowledged
// block reads back. When the cut came after the switch, two more members
// missing still read back (the full tolerance again). Then the rebuild is
// run to its end on the cut disk and every block reads back again.
TEST(MemberCrash, EveryAcknowledgedWriteSurvivesACutDuringARebuild) {
  constexpr uint32_t kWithSpare = 8;
  FormatOptions f = crash_format();
  f.members.spares = 1;
  io::CrashRecorder rec(std::vector<uint8_t>{});
  Disk disk;
  disk.base = rec.open("crash.img");
  const format::Superblock sb = new_set(disk, f);
  std::vector<Ack> acks;
  History history;
  std::map<uint64_t, uint64_t> current;
  std::mt19937_64 rng(20261208);
  uint64_t version = 0;
  auto write_some = [&](ImageStore& st, int n) {
    for (int i = 0; i < n; ++i) {
      ASSERT_NO_FATAL_FAILURE(write_run(st, rec, rng, 4, version, history, current));
      if (rng() % 3 == 0) {
        ASSERT_TRUE(st.flush());
        acks.push_back({rec.op_count(), current});
      }
    }
  };
  uint64_t first_op = 0;
  {
    auto st = open_disk(disk, sb);
    ASSERT_TRUE(st) << st.status().to_string();
    write_some(**st, 120);
    store::MemberBackend* b = (*st)->member_backend();
    ASSERT_TRUE(b->fail_member(1));
    write_some(**st, 60);  // member 1 stale
    first_op = rec.op_count();
    b->set_rebuild_steps(4, 8);
    auto out = b->rebuild([&](const store::MemberBackend::RebuildProgress&) {
      write_some(**st, 3);
      return true;
    });
    ASSERT_TRUE(out) << out.status().to_string();
    ASSERT_EQ(out->rebuilt.size(), 1u);
    EXPECT_GT(out->rebuilt[0].rows, 40u);
    write_some(**st, 40);
    ASSERT_TRUE((*st)->close());
    acks.push_back({rec.op_count(), current});
  }
  const std::vector<io::CutPoint> points = cut_points(rec, first_op, 100, 3, rng);

  // Every open logs the failed members: thousands of lines otherwise.
  const spdlog::level::level_enum level = spdlog::get_level();
  spdlog::set_level(spdlog::level::off);
  struct RestoreLevel {
    spdlog::level::level_enum level;
    ~RestoreLevel() { spdlog::set_level(level); }
  } restore_level{level};
  io::CrashReplayer replayer(rec);
  uint64_t cuts = 0, after_switch = 0;
  for (const io::CutPoint& cut : points) {
    const uint64_t at = cut.ops;
    ++cuts;
    Disk after;
    cut_disk(replayer, cut, kWithSpare, after);
    // The other member of group 0 (then rows past the last sync need the
    // global parity, whose unsynced chunks the cut may have dropped), one
    // of the other group, or the spare.
    static constexpr uint32_t kOthers[] = {0, 2, 3, 5, 7};
    const uint32_t other = kOthers[cuts % 5];
    after.missing = 1;
    after.also_missing = {other};
    SCOPED_TRACE("cut at op " + std::to_string(at) + " (" + io::to_string(cut.unsynced) +
                 (cut.torn_bytes ? ", torn" : "") + "), members 1 and " + std::to_string(other) + " missing");
    const Ack* ack = nullptr;
    for (const Ack& a : acks)
      if (a.ops <= at) ack = &a;
    auto check = [&](ImageStore& st, const char* when) {
      if (ack) expect_acknowledged(st, *ack, history, when);
    };
    bool replaced = false;
    {
      auto st = open_disk(after, sb);
      ASSERT_TRUE(st) << st.status().to_string();
      ASSERT_NO_FATAL_FAILURE(check(**st, "after the cut"));
      replaced = (*st)->member_backend()->member_table().members[1].state == format::MemberState::kReplaced;
      // The rebuild finished on the cut disk, every fourth cut (member
      // `other` is failed now: the spare, if free, may go to it; either way
      // nothing acknowledged may change).
      if (cuts % 4 == 0) {
        auto out = (*st)->member_backend()->rebuild();
        ASSERT_TRUE(out || out.status().is_io_error()) << out.status().to_string();
        ASSERT_NO_FATAL_FAILURE(check(**st, "after the rebuild"));
      }
    }
    if (replaced) {
      ++after_switch;
      Disk& d = after;
      // Two members missing besides the replaced one, in the two groups
      // (the spare 7 is group 0's now); see above for two of one group.
      d.also_missing = {other, other == 7 ? 3u : 0u};
      auto st = open_disk(d, sb);
      ASSERT_TRUE(st) << st.status().to_string();
      ASSERT_NO_FATAL_FAILURE(check(**st, "two more members missing after the switch"));
    }
  }
  EXPECT_GT(cuts, 600u / test::kSanitizedSweepThinning);
  EXPECT_GT(after_switch, 5u);
}

}  // namespace
}  // namespace vblk
