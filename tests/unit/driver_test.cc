// Driver over FaultDevice over MemDevice, checked against a plain byte-array
// model. (Its parts have their own tests: block_cache_test, lru_slots_test,
// latency_histogram_test.)

#include "vblk/driver.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "vblk/fault_device.h"
#include "log_capture.h"
#include "util/mutex.h"
#include "vblk/mem_device.h"

namespace vblk {
namespace {

using Bytes = std::vector<uint8_t>;
constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

using test::LogCapture;

// Raises the default logger's level to error for the test's lifetime (for
// tests whose injected faults would log thousands of warnings).
class QuietLogs {
 public:
  QuietLogs() : previous_(spdlog::default_logger()->level()) {
    spdlog::default_logger()->set_level(spdlog::level::err);
  }
  ~QuietLogs() { spdlog::default_logger()->set_level(previous_); }

 private:
  spdlog::level::level_enum previous_;
};

// Records every write_blocks call that reaches it (including failing ones).
class CountingDevice final : public DeviceWrapper {
 public:
  using DeviceWrapper::DeviceWrapper;
  Status write_blocks(uint64_t first, std::span<const uint8_t> data) override {
    {
      MutexLock lock(mu_);
      writes_.emplace_back(first, data.size() / block_size());
    }
    return DeviceWrapper::write_blocks(first, data);
  }
  Status read_blocks(uint64_t first, uint64_t count, std::span<uint8_t> out) override {
    reads_.fetch_add(1);
    Status st = DeviceWrapper::read_blocks(first, count, out);
    // Holds the data back after it was read, widening read/write races.
    if (const int us = read_delay_us.load(); us > 0) std::this_thread::sleep_for(std::chrono::microseconds(us));
    return st;
  }
  std::vector<std::pair<uint64_t, uint64_t>> writes() EXCLUDES(mu_) {
    MutexLock lock(mu_);
    return writes_;
  }
  void reset() EXCLUDES(mu_) {
    MutexLock lock(mu_);
    writes_.clear();
    reads_ = 0;
  }
  uint64_t reads() const { return reads_.load(); }
  std::atomic<int> read_delay_us{0};

 private:
  Mutex mu_;
  std::vector<std::pair<uint64_t, uint64_t>> writes_ GUARDED_BY(mu_);  // (first, count)
  std::atomic<uint64_t> reads_{0};
};

Bytes random_bytes(size_t n, std::mt19937_64& rng) {
  Bytes v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng() | 1);  // never zero, so writes are visible
  return v;
}

DriverOptions fast_opts(uint64_t cache_bytes = 64 * 4096) {
  DriverOptions o;
  o.retry_backoff_us = 1;
  o.cache_bytes = cache_bytes;
  return o;
}
DriverOptions no_cache() { return fast_opts(0); }

// Driver -> CountingDevice -> FaultDevice -> MemDevice, and a model of the bytes.
struct Rig {
  Rig(uint32_t bs, uint64_t blocks, DriverOptions opts = fast_opts()) {
    auto mem_dev = std::make_unique<MemDevice>(bs, blocks);
    mem = mem_dev.get();
    auto fault_dev = std::make_unique<FaultDevice>(std::move(mem_dev));
    fault = fault_dev.get();
    auto counting_dev = std::make_unique<CountingDevice>(std::move(fault_dev));
    counting = counting_dev.get();
    drv = std::make_unique<Driver>(std::move(counting_dev), opts);
    model.assign(bs * blocks, 0);
  }
  // Writes through the driver and the model; returns the driver's result.
  Result<size_t> write(uint64_t offset, const Bytes& data) {
    auto r = drv->write(offset, data);
    if (r.is_ok()) std::copy_n(data.begin(), r.value(), model.begin() + static_cast<ptrdiff_t>(offset));
    return r;
  }
  Status trim(uint64_t offset, uint64_t length) {
    Status st = drv->trim(offset, length);
    if (st.is_ok()) {
      const uint64_t end = std::min<uint64_t>(offset + length, model.size());
      std::fill(model.begin() + static_cast<ptrdiff_t>(offset), model.begin() + static_cast<ptrdiff_t>(end), 0);
    }
    return st;
  }
  Bytes read(uint64_t offset, size_t length) {
    Bytes out(length, 0xEE);
    auto r = drv->read(offset, out);
    EXPECT_TRUE(r.is_ok()) << r.status().to_string();
    if (r.is_ok()) out.resize(r.value());
    return out;
  }
  Bytes model_range(uint64_t offset, size_t length) const {
    const uint64_t end = std::min<uint64_t>(offset + length, model.size());
    if (offset >= end) return {};
    return Bytes(model.begin() + static_cast<ptrdiff_t>(offset), model.begin() + static_cast<ptrdiff_t>(end));
  }
  // Reads the whole device back and compares with the model.
  void verify_all() {
    Bytes all = read(0, model.size());
    ASSERT_EQ(all.size(), model.size());
    for (size_t i = 0; i < all.size(); ++i) {
      ASSERT_EQ(all[i], model[i]) << "first difference at byte " << i << " (block " << i / drv->block_size()
                                  << ")";
    }
  }

  MemDevice* mem = nullptr;
  FaultDevice* fault = nullptr;
  CountingDevice* counting = nullptr;
  std::unique_ptr<Driver> drv;
  Bytes model;
};

// ---------------------------------------------------------------- basics

TEST(Driver, Geometry) {
  Rig rig(4096, 16);
  EXPECT_EQ(rig.drv->block_size(), 4096u);
  EXPECT_EQ(rig.drv->size_bytes(), 16u * 4096);
  EXPECT_EQ(rig.drv->device().block_count(), 16u);
}

TEST(Driver, FreshDeviceReadsZeros) {
  Rig rig(4096, 16);
  EXPECT_EQ(rig.read(1000, 10000), Bytes(10000, 0));
}

TEST(Driver, WriteThenReadMatches) {
  Rig rig(4096, 16);
  std::mt19937_64 rng(1);
  auto data = random_bytes(3 * 4096, rng);
  auto r = rig.write(4096, data);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r.value(), data.size());
  EXPECT_EQ(rig.read(4096, data.size()), data);
  rig.verify_all();
  EXPECT_EQ(*rig.mem->state(1), BlockState::kUsed);
  EXPECT_EQ(*rig.mem->state(4), BlockState::kFree);
}

TEST(Driver, UnalignedWriteThenReadMatches) {
  Rig rig(4096, 16);
  std::mt19937_64 rng(2);
  auto data = random_bytes(10000, rng);
  ASSERT_TRUE(rig.write(1234, data).is_ok());
  EXPECT_EQ(rig.read(1234, data.size()), data);
  rig.verify_all();
}

TEST(Driver, EmptyRequestsDoNothing) {
  Rig rig(4096, 4);
  auto r = rig.drv->write(0, Bytes{});
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r.value(), 0u);
  EXPECT_EQ(rig.read(100, 0).size(), 0u);
  EXPECT_TRUE(rig.drv->trim(0, 0).is_ok());
  EXPECT_TRUE(rig.counting->writes().empty());
}

TEST(Driver, TrimThenReadGivesZeros) {
  Rig rig(4096, 16, no_cache());
  std::mt19937_64 rng(3);
  ASSERT_TRUE(rig.write(0, random_bytes(16 * 4096, rng)).is_ok());
  // Partial head in block 1, whole blocks 2-4, partial tail in block 5.
  ASSERT_TRUE(rig.trim(4096 + 100, 4 * 4096).is_ok());
  EXPECT_EQ(rig.read(4096 + 100, 4 * 4096), Bytes(4 * 4096, 0));
  rig.verify_all();
  EXPECT_EQ(*rig.mem->state(1), BlockState::kUsed);  // zero-filled edge keeps its other bytes
  for (uint64_t b = 2; b <= 4; ++b) EXPECT_EQ(*rig.mem->state(b), BlockState::kTrimmed) << b;
  EXPECT_EQ(*rig.mem->state(5), BlockState::kUsed);
}

TEST(Driver, TrimPartialOfFreeBlockWritesNothing) {
  Rig rig(4096, 4);
  ASSERT_TRUE(rig.trim(100, 200).is_ok());
  EXPECT_TRUE(rig.counting->writes().empty());
  EXPECT_EQ(*rig.mem->state(0), BlockState::kFree);
  EXPECT_EQ(rig.read(0, 4096), Bytes(4096, 0));
}

TEST(Driver, TrimCrossingEndIsCutShort) {
  Rig rig(512, 8);
  std::mt19937_64 rng(4);
  ASSERT_TRUE(rig.write(0, random_bytes(8 * 512, rng)).is_ok());
  ASSERT_TRUE(rig.trim(7 * 512 - 10, 10'000).is_ok());
  rig.verify_all();
  EXPECT_EQ(*rig.mem->state(7), BlockState::kTrimmed);
  EXPECT_EQ(rig.drv->stats().bytes_trimmed, 512u + 10);
}

TEST(Driver, TrimAtOrBeyondEndIsOutOfRange) {
  Rig rig(512, 8);
  Status st = rig.drv->trim(8 * 512, 1);
  EXPECT_TRUE(st.is_out_of_range()) << st.to_string();
  EXPECT_TRUE(rig.drv->trim(kMax - 10, 5).is_out_of_range());
}

// SEEK_DATA / SEEK_HOLE as the driver answers them: data is USED or BAD,
// holes FREE or TRIMMED and the end of the device.
TEST(Driver, SeekFindsDataAndHoles) {
  Rig rig(4096, 64);
  ASSERT_TRUE(rig.write(8 * 4096, Bytes(2 * 4096, 1)).is_ok());   // blocks 8-9 USED
  ASSERT_TRUE(rig.write(20 * 4096, Bytes(4096, 2)).is_ok());       // block 20 USED ...
  ASSERT_TRUE(rig.trim(20 * 4096, 4096).is_ok());                  // ... then TRIMMED
  ASSERT_TRUE(rig.mem->set_bad(30, 1, true).is_ok());              // block 30 BAD
  auto seek = [&](uint64_t off, bool data) {
    auto r = rig.drv->seek(off, data);
    EXPECT_TRUE(r.is_ok()) << r.status().to_string();
    return r.is_ok() ? *r : std::optional<uint64_t>(~0ull);
  };
  EXPECT_EQ(seek(0, true), 8 * 4096u);
  EXPECT_EQ(seek(8 * 4096 + 100, true), 8 * 4096u + 100);  // inside data: itself
  EXPECT_EQ(seek(8 * 4096, false), 10 * 4096u);
  EXPECT_EQ(seek(10 * 4096, true), 30 * 4096u);  // the TRIMMED block is a hole; BAD is data
  EXPECT_EQ(seek(31 * 4096, true), std::nullopt);  // no data after: ENXIO
  EXPECT_EQ(seek(31 * 4096, false), 31 * 4096u);
  EXPECT_EQ(rig.drv->block_count(), 64u);
  EXPECT_EQ(rig.drv->device_stats().bad_blocks, 1u);
}

// ---------------------------------------------------------------- bounds

TEST(Driver, WriteAtEndIsEfbig) {
  Rig rig(4096, 4);
  Bytes data(10, 1);
  auto r = rig.drv->write(rig.drv->size_bytes(), data);
  ASSERT_FALSE(r.is_ok());
  EXPECT_TRUE(r.status().is_out_of_range());
  EXPECT_EQ(r.status().to_errno(), EFBIG);
  EXPECT_NE(r.status().message().find("offset 16384"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("block 4"), std::string::npos) << r.status().message();
  EXPECT_EQ(rig.drv->stats().failures, 1u);
}

TEST(Driver, WriteBeyondEndIsEfbig) {
  Rig rig(4096, 4);
  Bytes data(4096, 1);
  auto r = rig.drv->write(1 << 30, data);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().to_errno(), EFBIG);
  EXPECT_TRUE(rig.counting->writes().empty());
}

TEST(Driver, WriteCrossingEndIsCutShort) {
  Rig rig(4096, 4);
  std::mt19937_64 rng(5);
  auto data = random_bytes(5000, rng);
  const uint64_t offset = rig.drv->size_bytes() - 300;
  auto r = rig.write(offset, data);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r.value(), 300u);
  EXPECT_EQ(rig.read(offset, 300), Bytes(data.begin(), data.begin() + 300));
  rig.verify_all();
}

TEST(Driver, ReadPastEndIsShort) {
  Rig rig(4096, 4);
  Bytes out(100, 0xEE);
  auto r = rig.drv->read(rig.drv->size_bytes(), out);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r.value(), 0u);
  r = rig.drv->read(rig.drv->size_bytes() + 12345, out);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r.value(), 0u);
  r = rig.drv->read(rig.drv->size_bytes() - 10, out);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r.value(), 10u);
  EXPECT_EQ(rig.drv->stats().failures, 0u);
}

TEST(Driver, OffsetOverflowIsInvalidArgument) {
  Rig rig(4096, 4);
  Bytes buf(16, 0);
  auto w = rig.drv->write(kMax - 4, buf);
  ASSERT_FALSE(w.is_ok());
  EXPECT_EQ(w.status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(w.status().to_errno(), EINVAL);
  auto r = rig.drv->read(kMax - 4, buf);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
  Status t = rig.drv->trim(1, kMax);
  EXPECT_EQ(t.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(rig.drv->stats().failures, 3u);
}

// ---------------------------------------------------------------- BAD blocks

TEST(Driver, BadBlockReadAndWriteFailNeighboursFine) {
  Rig rig(512, 8);
  std::mt19937_64 rng(6);
  ASSERT_TRUE(rig.write(0, random_bytes(8 * 512, rng)).is_ok());
  ASSERT_TRUE(rig.drv->device().set_bad(3, 1, true).is_ok());

  Bytes out(512);
  auto r = rig.drv->read(3 * 512, out);
  ASSERT_FALSE(r.is_ok());
  EXPECT_TRUE(r.status().is_bad_block()) << r.status().to_string();
  EXPECT_EQ(r.status().to_errno(), EIO);
  EXPECT_NE(r.status().message().find("offset 1536"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("block 3"), std::string::npos) << r.status().message();

  auto w = rig.drv->write(3 * 512 + 7, Bytes(20, 1));  // partial: fails in the RMW read
  ASSERT_FALSE(w.is_ok());
  EXPECT_TRUE(w.status().is_bad_block()) << w.status().to_string();
  EXPECT_NE(w.status().message().find("offset 1543"), std::string::npos) << w.status().message();
  w = rig.drv->write(3 * 512, Bytes(512, 1));  // whole block
  ASSERT_FALSE(w.is_ok());
  EXPECT_TRUE(w.status().is_bad_block());
  EXPECT_NE(w.status().message().find("block 3"), std::string::npos) << w.status().message();

  // Neighbours: every byte right up to the bad block works.
  EXPECT_EQ(rig.read(2 * 512, 512), rig.model_range(2 * 512, 512));
  EXPECT_EQ(rig.read(4 * 512, 512), rig.model_range(4 * 512, 512));
  ASSERT_TRUE(rig.write(3 * 512 - 5, Bytes(5, 9)).is_ok());
  ASSERT_TRUE(rig.write(4 * 512, Bytes(5, 9)).is_ok());
  EXPECT_EQ(rig.read(2 * 512, 512), rig.model_range(2 * 512, 512));
  EXPECT_EQ(rig.read(4 * 512, 512), rig.model_range(4 * 512, 512));
  EXPECT_EQ(rig.drv->stats().failures, 3u);
  EXPECT_EQ(rig.drv->stats().retries, 0u);
}

TEST(Driver, ReadSpanningBadBlockFailsWhole) {
  Rig rig(512, 8);
  ASSERT_TRUE(rig.drv->device().set_bad(5, 1, true).is_ok());
  Bytes out(4 * 512);
  auto r = rig.drv->read(3 * 512 + 100, out);
  ASSERT_FALSE(r.is_ok());
  EXPECT_TRUE(r.status().is_bad_block());
  EXPECT_NE(r.status().message().find("block 5"), std::string::npos) << r.status().message();
}

TEST(Driver, ClearedBadBlockReadsZeros) {
  Rig rig(512, 8);
  ASSERT_TRUE(rig.write(512, Bytes(512, 3)).is_ok());
  ASSERT_TRUE(rig.drv->device().set_bad(1, 1, true).is_ok());
  ASSERT_TRUE(rig.drv->device().set_bad(1, 1, false).is_ok());
  EXPECT_EQ(rig.read(512, 512), Bytes(512, 0));
}

// ---------------------------------------------------------------- model sweeps

// Writes (and some trims) at every head offset and end offset (in steps), for
// lengths crossing 0..3 block boundaries, at the start, the middle and the very
// end of the device; checks each against the byte-array model.
void alignment_sweep(uint32_t bs, uint64_t blocks, uint32_t step, uint64_t cache_bytes) {
  Rig rig(bs, blocks, fast_opts(cache_bytes));
  std::mt19937_64 rng(bs * 31 + cache_bytes);
  std::vector<uint32_t> offsets;
  for (uint32_t o = 0; o < bs; o += step) offsets.push_back(o);
  offsets.push_back(bs - 1);
  int op = 0;
  for (uint64_t crossings = 0; crossings <= 3; ++crossings) {
    // Start block at the beginning, in the middle, and such that the request
    // ends in the last block of the device.
    for (uint64_t start_block : {uint64_t{0}, blocks / 2, blocks - 1 - crossings}) {
      for (uint32_t head : offsets) {
        for (uint32_t tail : offsets) {
          const uint64_t begin = start_block * bs + head;
          const uint64_t end = (start_block + crossings) * bs + tail + 1;  // exclusive
          if (end <= begin) continue;
          const uint64_t len = end - begin;
          if (++op % 5 == 0) {
            Status st = rig.trim(begin, len);
            ASSERT_TRUE(st.is_ok()) << st.to_string();
          } else {
            auto r = rig.write(begin, random_bytes(len, rng));
            ASSERT_TRUE(r.is_ok()) << r.status().to_string();
            ASSERT_EQ(r.value(), len);
          }
          ASSERT_EQ(rig.read(begin, len), rig.model_range(begin, len))
              << "begin " << begin << " len " << len;
          // A window one block wider on each side: neighbours untouched.
          const uint64_t wbegin = begin >= bs ? begin - bs : 0;
          const uint64_t wlen = std::min<uint64_t>(end + bs, rig.model.size()) - wbegin;
          ASSERT_EQ(rig.read(wbegin, wlen), rig.model_range(wbegin, wlen)) << "window at " << wbegin;
        }
      }
    }
  }
  rig.verify_all();
}

TEST(Driver, EveryAlignment512NoCache) { alignment_sweep(512, 16, 37, 0); }
TEST(Driver, EveryAlignment512WithCache) { alignment_sweep(512, 16, 37, 64 * 512); }
TEST(Driver, EveryAlignment512TinyCache) { alignment_sweep(512, 16, 53, 2 * 512); }
TEST(Driver, EveryAlignment4096WithCache) { alignment_sweep(4096, 16, 293, 1 << 20); }

TEST(Driver, EveryAlignmentReadsOfRandomData) {
  Rig rig(512, 8);
  std::mt19937_64 rng(7);
  ASSERT_TRUE(rig.write(0, random_bytes(8 * 512, rng)).is_ok());
  for (uint64_t begin = 0; begin < 8 * 512; begin += 7) {
    for (uint64_t len : {1, 13, 511, 512, 513, 1024, 1537, 2048, 5000}) {
      ASSERT_EQ(rig.read(begin, len), rig.model_range(begin, len)) << begin << "+" << len;
    }
  }
}

TEST(Driver, ManySequentialReadsAndWrites) {
  Rig rig(4096, 1024);  // 4 MiB
  std::mt19937_64 rng(8);
  // Sequential 4 KiB, then sequential 1000-byte (unaligned) writes.
  for (uint64_t off = 0; off < rig.model.size(); off += 4096) {
    ASSERT_TRUE(rig.write(off, random_bytes(4096, rng)).is_ok());
  }
  for (uint64_t off = 0; off < rig.model.size(); off += 4096) {
    ASSERT_EQ(rig.read(off, 4096), rig.model_range(off, 4096));
  }
  for (uint64_t off = 0; off + 1000 <= rig.model.size(); off += 1000) {
    ASSERT_TRUE(rig.write(off, random_bytes(1000, rng)).is_ok());
  }
  for (uint64_t off = 0; off < rig.model.size(); off += 1000) {
    ASSERT_EQ(rig.read(off, 1000), rig.model_range(off, 1000));
  }
  // Large requests over the per-call cap, unaligned.
  auto big = random_bytes(3 * (1 << 20) + 12345, rng);
  ASSERT_TRUE(rig.write(777, big).is_ok());
  EXPECT_EQ(rig.read(777, big.size()), big);
  rig.verify_all();
  DriverStats s = rig.drv->stats();
  EXPECT_EQ(s.failures, 0u);
  EXPECT_GE(s.writes, 1024u + 4194u);
}

TEST(Driver, DeviceCallsAreCappedAtOneMiB) {
  Rig rig(4096, 1024);
  std::mt19937_64 rng(9);
  ASSERT_TRUE(rig.write(0, random_bytes(3 * (1 << 20), rng)).is_ok());
  auto calls = rig.counting->writes();
  ASSERT_EQ(calls.size(), 3u);
  for (size_t i = 0; i < calls.size(); ++i) {
    EXPECT_EQ(calls[i].first, i * 256);
    EXPECT_EQ(calls[i].second, 256u);
  }
}

TEST(Driver, AlignedBodyIsOneDeviceCall) {
  Rig rig(4096, 64);
  std::mt19937_64 rng(10);
  // Head in block 0, body blocks 1-8, tail in block 9.
  ASSERT_TRUE(rig.write(100, random_bytes(9 * 4096, rng)).is_ok());
  auto calls = rig.counting->writes();
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[0], std::make_pair(uint64_t{0}, uint64_t{1}));
  EXPECT_EQ(calls[1], std::make_pair(uint64_t{1}, uint64_t{8}));
  EXPECT_EQ(calls[2], std::make_pair(uint64_t{9}, uint64_t{1}));
  rig.verify_all();
}

// ---------------------------------------------------------------- retries

TEST(Driver, FlakyTwiceWriteSucceedsWithTwoRetries) {
  Rig rig(4096, 16);
  ASSERT_TRUE(rig.fault->add_flaky(3, 2).is_ok());
  std::mt19937_64 rng(11);
  auto r = rig.write(3 * 4096, random_bytes(4096, rng));
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  DriverStats s = rig.drv->stats();
  EXPECT_EQ(s.retries, 2u);
  EXPECT_EQ(s.failures, 0u);
  rig.verify_all();
}

TEST(Driver, FlakyThreeTimesWriteFailsAfterThreeAttempts) {
  Rig rig(4096, 16);
  ASSERT_TRUE(rig.fault->add_flaky(3, 3).is_ok());
  LogCapture logs;
  auto r = rig.drv->write(3 * 4096 + 10, Bytes(100, 1));
  ASSERT_FALSE(r.is_ok());
  const Status& st = r.status();
  EXPECT_TRUE(st.is_io_error()) << st.to_string();
  EXPECT_EQ(st.to_errno(), EIO);
  EXPECT_NE(st.message().find("offset 12298"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("block 3"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("3 attempts"), std::string::npos) << st.message();
  DriverStats s = rig.drv->stats();
  EXPECT_EQ(s.failures, 1u);
  EXPECT_EQ(s.retries, 2u);
  EXPECT_EQ(rig.counting->writes().size(), 3u);
  // Each retry logged at warn with the original error; the failure at error.
  const std::string text = logs.text();
  size_t warns = 0;
  for (size_t p = text.find("retrying: I/O error: injected write failure on block 3"); p != std::string::npos;
       p = text.find("retrying: I/O error: injected write failure on block 3", p + 1)) {
    ++warns;
  }
  EXPECT_EQ(warns, 2u) << text;
  EXPECT_NE(text.find("[warning]"), std::string::npos) << text;
  EXPECT_NE(text.find("[error] write offset=12298 length=100 failed"), std::string::npos) << text;
  // The data did not change.
  EXPECT_EQ(rig.read(3 * 4096, 4096), Bytes(4096, 0));
}

TEST(Driver, MultiBlockWriteRetriedAsSameCall) {
  Rig rig(4096, 64);
  ASSERT_TRUE(rig.fault->add_flaky(7, 2).is_ok());
  std::mt19937_64 rng(12);
  ASSERT_TRUE(rig.write(4 * 4096, random_bytes(8 * 4096, rng)).is_ok());
  auto calls = rig.counting->writes();
  ASSERT_EQ(calls.size(), 3u);
  for (const auto& c : calls) EXPECT_EQ(c, std::make_pair(uint64_t{4}, uint64_t{8}));
  EXPECT_EQ(rig.drv->stats().retries, 2u);
  rig.verify_all();
}

TEST(Driver, MultiBlockWriteExhaustedNamesBlocks) {
  Rig rig(4096, 64);
  ASSERT_TRUE(rig.fault->add_flaky(7, 5).is_ok());
  auto r = rig.drv->write(4 * 4096, Bytes(8 * 4096, 1));
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("offset 16384 (blocks 4-11)"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("block 7"), std::string::npos) << r.status().message();
  EXPECT_EQ(rig.drv->stats().failures, 1u);
}

TEST(Driver, BadBlockIsNotRetried) {
  Rig rig(4096, 16);
  ASSERT_TRUE(rig.drv->device().set_bad(2, 1, true).is_ok());
  auto r = rig.drv->write(2 * 4096, Bytes(4096, 1));
  ASSERT_FALSE(r.is_ok());
  EXPECT_TRUE(r.status().is_bad_block());
  EXPECT_EQ(rig.counting->writes().size(), 1u);
  DriverStats s = rig.drv->stats();
  EXPECT_EQ(s.retries, 0u);
  EXPECT_EQ(s.failures, 1u);
}

TEST(Driver, OutOfRangeIsNotRetried) {
  Rig rig(4096, 16);
  auto r = rig.drv->write(16 * 4096, Bytes(4096, 1));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(rig.drv->stats().retries, 0u);
}

TEST(Driver, PartialWriteIsRetried) {
  Rig rig(512, 16);
  ASSERT_TRUE(rig.fault->add_flaky(5, 1).is_ok());
  ASSERT_TRUE(rig.write(5 * 512 + 100, Bytes(50, 4)).is_ok());
  EXPECT_EQ(rig.drv->stats().retries, 1u);
  rig.verify_all();
}

TEST(Driver, WriteAttemptsOneMeansNoRetry) {
  DriverOptions o = fast_opts();
  o.write_attempts = 1;
  Rig rig(512, 16, o);
  ASSERT_TRUE(rig.fault->add_flaky(5, 1).is_ok());
  auto r = rig.drv->write(5 * 512, Bytes(512, 4));
  ASSERT_FALSE(r.is_ok());
  EXPECT_TRUE(r.status().is_io_error());
  EXPECT_EQ(rig.drv->stats().retries, 0u);
  EXPECT_EQ(rig.drv->stats().failures, 1u);
}

TEST(Driver, LatencyRuleDelaysRequests) {
  Rig rig(4096, 16);
  const auto delay = std::chrono::milliseconds(20);
  ASSERT_TRUE(rig.fault->add_latency(delay, 4, 1).is_ok());
  Bytes out(100);
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(rig.drv->read(4 * 4096 + 50, out).is_ok());
  EXPECT_GE(std::chrono::steady_clock::now() - t0, delay);
  t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(rig.drv->write(4 * 4096, Bytes(4096, 1)).is_ok());
  EXPECT_GE(std::chrono::steady_clock::now() - t0, delay);
  EXPECT_GE(rig.drv->stats().latency_max_us, 20'000.0);
}

// ---------------------------------------------------------------- concurrency

// 8 threads own disjoint byte ranges that share blocks (segments of 1 to 64
// bytes, every fourth one up to 3 blocks, dealt round-robin over a small
// device so that every block is shared), and write / trim random pieces of
// them. Any lost read-modify-write update shows up as a difference from the
// model.
void concurrent_partial_writes(uint32_t kBs, uint64_t kBlocks, uint64_t cache_bytes, int iterations,
                               std::chrono::microseconds device_latency) {
  constexpr int kThreads = 8;
  Rig rig(kBs, kBlocks, fast_opts(cache_bytes));
  // A small delay on every device call widens the window between an RMW's
  // read and its write, so that a missing lock loses updates every run.
  if (device_latency.count() > 0) {
    ASSERT_TRUE(rig.fault->add_latency(device_latency).is_ok());
  }
  QuietLogs quiet;
  struct Segment {
    uint64_t begin, len;
  };
  std::vector<std::vector<Segment>> owned(kThreads);
  std::mt19937_64 seg_rng(13);
  uint64_t pos = 0;
  for (int i = 0; pos < kBs * kBlocks; ++i) {
    const uint64_t len = std::min<uint64_t>(1 + seg_rng() % (i % 4 == 3 ? 3 * kBs : 64), kBs * kBlocks - pos);
    owned[i % kThreads].push_back({pos, len});
    pos += len;
  }
  std::vector<std::thread> threads;
  std::atomic<int> errors{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(100 + t);
      for (int i = 0; i < iterations; ++i) {
        const Segment& s = owned[t][rng() % owned[t].size()];
        const uint64_t off = s.begin + rng() % s.len;
        const uint64_t len = 1 + rng() % (s.begin + s.len - off);
        if (rng() % 8 == 0) {
          // Distinct threads touch distinct model bytes: no data race.
          if (!rig.trim(off, len).is_ok()) errors.fetch_add(1);
        } else {
          if (!rig.write(off, random_bytes(len, rng)).is_ok()) errors.fetch_add(1);
        }
        if (i % 16 == 0 && rig.read(off, len) != rig.model_range(off, len)) errors.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);
  rig.verify_all();
}

TEST(Driver, ConcurrentPartialWritesSharingBlocksNoCache) {
  concurrent_partial_writes(512, 6, 0, 1000, std::chrono::microseconds(10));
}
TEST(Driver, ConcurrentPartialWritesSharingBlocksWithCache) {
  concurrent_partial_writes(512, 6, 8 * 512, 1000, std::chrono::microseconds(10));
}
// 64 KiB blocks: requests of up to three blocks, each shared by several.
TEST(Driver, ConcurrentWritesOfLargeBlocks) {
  concurrent_partial_writes(65536, 160, 16 * 65536, 150, std::chrono::microseconds(0));
}

// Lets write_blocks calls in only when `want` of them are inside at once, or
// after a timeout; records how many were inside together at most.
class RendezvousDevice final : public DeviceWrapper {
 public:
  RendezvousDevice(std::unique_ptr<BlockDevice> target, int want, std::chrono::milliseconds timeout)
      : DeviceWrapper(std::move(target)), want_(want), timeout_(timeout) {}
  Status write_blocks(uint64_t first, std::span<const uint8_t> data) override {
    {
      MutexLock lock(mu_);
      most_inside_ = std::max(most_inside_, ++inside_);
      if (inside_ >= want_) met_ = true;  // stays open: the first may wake after the last left
      cv_.notify_all();
      cv_.wait_for(mu_, timeout_, [&]() REQUIRES(mu_) { return met_; });
    }
    Status st = DeviceWrapper::write_blocks(first, data);
    MutexLock lock(mu_);
    --inside_;
    return st;
  }
  int most_inside() EXCLUDES(mu_) {
    MutexLock lock(mu_);
    return most_inside_;
  }

 private:
  const int want_;
  const std::chrono::milliseconds timeout_;
  Mutex mu_;
  std::condition_variable_any cv_;  // waits on mu_
  int inside_ GUARDED_BY(mu_) = 0;
  int most_inside_ GUARDED_BY(mu_) = 0;
  bool met_ GUARDED_BY(mu_) = false;
};

// Two whole-block writes side by side, neither aligned to 64 KiB: the
// kernel writes a file back in such runs, and they must reach the device
// (which compresses them) together. With mutexes striped by 64 KiB region
// the second waited for the first (both touch blocks 16-31's region).
TEST(Driver, AdjacentWritesReachTheDeviceTogether) {
  constexpr uint32_t kBs = 4096;
  auto dev = std::make_unique<RendezvousDevice>(std::make_unique<MemDevice>(kBs, 64), 2, std::chrono::seconds(10));
  RendezvousDevice* rendezvous = dev.get();
  Driver drv(std::move(dev), fast_opts());
  std::mt19937_64 rng(5);
  const Bytes a = random_bytes(17 * kBs, rng), b = random_bytes(17 * kBs, rng);
  std::thread other([&] { EXPECT_TRUE(drv.write(17 * kBs, b).is_ok()); });
  EXPECT_TRUE(drv.write(0, a).is_ok());
  other.join();
  // Both were inside at once (serialized, each would have waited out the
  // rendezvous alone and most_inside() would be 1).
  EXPECT_EQ(rendezvous->most_inside(), 2);
  Bytes back(34 * kBs);
  ASSERT_TRUE(drv.read(0, back).is_ok());
  EXPECT_TRUE(std::equal(a.begin(), a.end(), back.begin()));
  EXPECT_TRUE(std::equal(b.begin(), b.end(), back.begin() + 17 * kBs));
}

// Writes that share a block are still serialized: never inside together.
TEST(Driver, OverlappingWritesReachTheDeviceOneAtATime) {
  constexpr uint32_t kBs = 4096;
  auto dev =
      std::make_unique<RendezvousDevice>(std::make_unique<MemDevice>(kBs, 64), 2, std::chrono::milliseconds(200));
  RendezvousDevice* rendezvous = dev.get();
  Driver drv(std::move(dev), fast_opts());
  std::mt19937_64 rng(6);
  const Bytes a = random_bytes(17 * kBs, rng), b = random_bytes(17 * kBs, rng);
  std::thread other([&] { EXPECT_TRUE(drv.write(16 * kBs, b).is_ok()); });
  EXPECT_TRUE(drv.write(0, a).is_ok());
  other.join();
  EXPECT_EQ(rendezvous->most_inside(), 1);
  // Block 16 holds one writer's bytes whole.
  Bytes block(kBs);
  ASSERT_TRUE(drv.read(16 * kBs, block).is_ok());
  const bool from_a = std::equal(block.begin(), block.end(), a.begin() + 16 * kBs);
  const bool from_b = std::equal(block.begin(), block.end(), b.begin());
  EXPECT_TRUE(from_a || from_b);
}

// Whole-block writes racing partial writes to the same block: the whole-block
// write must never be undone by an RMW that read the block before it.
TEST(Driver, ConcurrentWholeAndPartialWritesKeepEveryByteOfSomeWriter) {
  constexpr uint32_t kBs = 512;
  Rig rig(kBs, 4, no_cache());
  ASSERT_TRUE(rig.fault->add_latency(std::chrono::microseconds(5)).is_ok());
  QuietLogs quiet;
  // Thread B rewrites byte 0 of block 1 with 0; the main thread writes the
  // whole block 1 with value v. Until the next whole write, bytes 1..511 must
  // hold v: B's write touches only byte 0.
  std::atomic<bool> stop{false};
  std::atomic<int> partial_writes{0};
  std::thread b([&] {
    while (!stop.load()) {
      EXPECT_TRUE(rig.drv->write(kBs, Bytes(1, 0)).is_ok());
      partial_writes.fetch_add(1);
    }
  });
  uint8_t last = 0;
  int undone = 0;
  Bytes got(kBs);
  for (int i = 1; i <= 300 || partial_writes.load() < 300; ++i) {
    last = static_cast<uint8_t>(i % 250 + 1);
    ASSERT_TRUE(rig.drv->write(kBs, Bytes(kBs, last)).is_ok());
    std::this_thread::sleep_for(std::chrono::microseconds(20));  // let an in-flight RMW land
    ASSERT_TRUE(rig.drv->read(kBs, got).is_ok());
    if (Bytes(got.begin() + 1, got.end()) != Bytes(kBs - 1, last)) ++undone;
  }
  stop = true;
  b.join();
  EXPECT_EQ(undone, 0);
  got = rig.read(kBs, kBs);
  EXPECT_EQ(Bytes(got.begin() + 1, got.end()), Bytes(kBs - 1, last));
}

// ---------------------------------------------------------------- cache

// A device whose end moves: it shows the first `count` blocks of a larger
// MemDevice, and zeroes the blocks a shrink drops (as the store does).
class MovingEndDevice final : public DeviceWrapper {
 public:
  MovingEndDevice(std::unique_ptr<BlockDevice> target, uint64_t count)
      : DeviceWrapper(std::move(target)), count_(count) {}
  uint64_t block_count() const override { return count_; }
  Status read_blocks(uint64_t first, uint64_t count, std::span<uint8_t> out) override {
    VBLK_RETURN_IF_ERROR(check_block_range(*this, first, count));
    return DeviceWrapper::read_blocks(first, count, out);
  }
  Status write_blocks(uint64_t first, std::span<const uint8_t> data) override {
    VBLK_RETURN_IF_ERROR(check_block_range(*this, first, data.size() / block_size()));
    return DeviceWrapper::write_blocks(first, data);
  }
  Status set_end(uint64_t count) {
    if (count < count_) VBLK_RETURN_IF_ERROR(DeviceWrapper::trim_blocks(count, count_ - count));
    count_ = count;
    return Status::ok();
  }

 private:
  std::atomic<uint64_t> count_;
};

TEST(Driver, ResizeMovesTheEndAndForgetsCachedBlocksPastIt) {
  auto mem = std::make_unique<MemDevice>(4096, 64);
  auto moving = std::make_unique<MovingEndDevice>(std::move(mem), 32);
  MovingEndDevice* dev = moving.get();
  Driver drv(std::move(moving), DriverOptions{});
  ASSERT_EQ(drv.size_bytes(), 32u * 4096);
  ASSERT_TRUE(drv.write(20 * 4096, Bytes(4 * 4096, 7)).is_ok());
  Bytes out(4 * 4096);
  ASSERT_TRUE(drv.read(20 * 4096, out).is_ok());  // now cached
  // Shrink past the written blocks.
  ASSERT_TRUE(drv.resize(16, [&] { return dev->set_end(16); }).is_ok());
  EXPECT_EQ(drv.size_bytes(), 16u * 4096);
  EXPECT_EQ(drv.write(16 * 4096, Bytes(4096, 1)).status().code(), Status::Code::kOutOfRange);
  auto r = drv.read(15 * 4096, std::span<uint8_t>(out).first(2 * 4096));
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r.value(), 4096u) << "a read is cut at the new end";
  // Grow: past the old end is writable, and the dropped blocks read zeros,
  // not what the cache held.
  ASSERT_TRUE(drv.resize(48, [&] { return dev->set_end(48); }).is_ok());
  EXPECT_EQ(drv.size_bytes(), 48u * 4096);
  ASSERT_TRUE(drv.read(20 * 4096, out).is_ok());
  EXPECT_EQ(out, Bytes(4 * 4096, 0));
  ASSERT_TRUE(drv.write(47 * 4096, Bytes(4096, 9)).is_ok());
  // A change that fails leaves the size the device has.
  Status refused = drv.resize(8, [] { return Status::invalid_argument("refused"); });
  EXPECT_EQ(refused.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(drv.size_bytes(), 48u * 4096);
  Bytes last(4096);
  ASSERT_TRUE(drv.read(47 * 4096, last).is_ok());
  EXPECT_EQ(last, Bytes(4096, 9));
}

TEST(Driver, CacheHitsCounted) {
  Rig rig(4096, 16);
  ASSERT_TRUE(rig.write(0, Bytes(2 * 4096, 5)).is_ok());
  rig.counting->reset();
  EXPECT_EQ(rig.read(0, 2 * 4096), Bytes(2 * 4096, 5));
  EXPECT_EQ(rig.read(100, 5000), Bytes(5000, 5));
  EXPECT_EQ(rig.read(4096, 100), Bytes(100, 5));
  DriverStats s = rig.drv->stats();
  EXPECT_EQ(s.cache_misses, 2u);
  EXPECT_EQ(s.cache_hits, 3u);
  EXPECT_EQ(rig.counting->reads(), 1u) << "only the first read reached the device";
}

TEST(Driver, CacheDisabledWhenZero) {
  Rig rig(4096, 16, no_cache());
  ASSERT_TRUE(rig.write(0, Bytes(4096, 5)).is_ok());
  rig.counting->reset();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(rig.read(0, 4096), Bytes(4096, 5));
  EXPECT_EQ(rig.drv->stats().cache_hits, 0u);
  EXPECT_EQ(rig.counting->reads(), 3u);
}

TEST(Driver, CacheNeverServesStaleDataAfterOverwriteOrTrim) {
  Rig rig(4096, 16);
  ASSERT_TRUE(rig.write(0, Bytes(4 * 4096, 1)).is_ok());
  EXPECT_EQ(rig.read(0, 4 * 4096), rig.model_range(0, 4 * 4096));  // now cached
  ASSERT_TRUE(rig.write(0, Bytes(4096, 2)).is_ok());                 // aligned overwrite
  ASSERT_TRUE(rig.write(4096 + 10, Bytes(10, 3)).is_ok());            // partial overwrite
  ASSERT_TRUE(rig.trim(2 * 4096, 4096).is_ok());                      // whole-block trim
  ASSERT_TRUE(rig.trim(3 * 4096 + 5, 100).is_ok());                   // partial trim
  EXPECT_EQ(rig.read(0, 4 * 4096), rig.model_range(0, 4 * 4096));
  // Writes through device() are coherent too.
  ASSERT_TRUE(rig.drv->device().write_blocks(0, Bytes(4096, 7)).is_ok());
  std::fill_n(rig.model.begin(), 4096, 7);
  EXPECT_EQ(rig.read(0, 4096), Bytes(4096, 7));
  ASSERT_TRUE(rig.drv->device().trim_blocks(0, 1).is_ok());
  EXPECT_EQ(rig.read(0, 4096), Bytes(4096, 0));
  // A cached block marked BAD fails.
  EXPECT_EQ(rig.read(4096, 4096), rig.model_range(4096, 4096));
  ASSERT_TRUE(rig.drv->device().set_bad(1, 1, true).is_ok());
  Bytes out(4096);
  EXPECT_FALSE(rig.drv->read(4096, out).is_ok());
}

// Readers keep missing, reading the device and filling the cache while one
// writer advances a version stored in the block. A reader that read the old
// version before a write must never get it back into the cache afterwards:
// any read that starts after version c was committed must see >= c.
TEST(Driver, CacheReadersRacingWriterNeverResurrectOldData) {
  constexpr uint32_t kBs = 512;
  Rig rig(kBs, 4, fast_opts(4 * kBs));
  rig.counting->read_delay_us = 50;
  std::atomic<uint32_t> committed{0};
  std::atomic<bool> stop{false};
  std::atomic<int> stale{0};
  auto version_of = [](const Bytes& b) {
    uint32_t v;
    std::memcpy(&v, b.data(), sizeof v);
    return v;
  };
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&] {
      Bytes out(kBs);
      while (!stop.load()) {
        const uint32_t c = committed.load();
        if (!rig.drv->read(0, out).is_ok() || version_of(out) < c) stale.fetch_add(1);
      }
    });
  }
  for (uint32_t v = 1; v <= 600; ++v) {
    Bytes data(kBs, static_cast<uint8_t>(v % 255 + 1));
    std::memcpy(data.data(), &v, sizeof v);
    if (v % 2 == 0) {
      ASSERT_TRUE(rig.drv->write(0, data).is_ok());  // whole block
    } else {
      // Two read-modify-writes; the version bytes go last.
      ASSERT_TRUE(rig.drv->write(4, std::span(data).subspan(4)).is_ok());
      ASSERT_TRUE(rig.drv->write(0, std::span(data).first(4)).is_ok());
    }
    committed = v;
    Bytes got(kBs);
    ASSERT_TRUE(rig.drv->read(0, got).is_ok());
    ASSERT_EQ(got, data) << "stale block after write " << v;
  }
  stop = true;
  for (auto& th : readers) th.join();
  EXPECT_EQ(stale.load(), 0);
  EXPECT_GT(rig.drv->stats().cache_hits, 0u);
}

// ---------------------------------------------------------------- stats, logging

TEST(Driver, StatsCountOperations) {
  Rig rig(4096, 16);
  ASSERT_TRUE(rig.write(0, Bytes(5000, 1)).is_ok());
  ASSERT_TRUE(rig.write(10000, Bytes(100, 1)).is_ok());
  Bytes out(3000);
  ASSERT_TRUE(rig.drv->read(0, out).is_ok());
  ASSERT_TRUE(rig.drv->trim(0, 8192).is_ok());
  ASSERT_TRUE(rig.drv->flush().is_ok());
  DriverStats s = rig.drv->stats();
  EXPECT_EQ(s.writes, 2u);
  EXPECT_EQ(s.reads, 1u);
  EXPECT_EQ(s.trims, 1u);
  EXPECT_EQ(s.flushes, 1u);
  EXPECT_EQ(s.bytes_written, 5100u);
  EXPECT_EQ(s.bytes_read, 3000u);
  EXPECT_EQ(s.bytes_trimmed, 8192u);
  EXPECT_EQ(s.failures, 0u);
  EXPECT_GT(s.latency_max_us, 0.0);
  EXPECT_LE(s.latency_p50_us, s.latency_p90_us);
  EXPECT_LE(s.latency_p90_us, s.latency_p99_us);
  EXPECT_LE(s.latency_p99_us, s.latency_max_us);
  EXPECT_EQ(s.device.trimmed_blocks, 2u);
}

TEST(Driver, CompressionRatio) {
  Rig rig(4096, 16);
  EXPECT_EQ(rig.drv->stats().compression_ratio, 0.0);
  ASSERT_TRUE(rig.write(0, Bytes(4096, 0)).is_ok());  // zero block: USED, no payload
  EXPECT_EQ(rig.drv->stats().compression_ratio, 0.0);
  ASSERT_TRUE(rig.write(4096, Bytes(3 * 4096, 1)).is_ok());
  DriverStats s = rig.drv->stats();
  EXPECT_EQ(s.device.used_blocks, 4u);
  EXPECT_EQ(s.device.zero_blocks, 1u);
  EXPECT_DOUBLE_EQ(s.compression_ratio, 1.0);  // MemDevice stores blocks uncompressed
}

TEST(Driver, EveryOperationLoggedAtTrace) {
  Rig rig(4096, 16);
  LogCapture logs;
  Bytes out(10);
  ASSERT_TRUE(rig.drv->write(5, Bytes(10, 1)).is_ok());
  ASSERT_TRUE(rig.drv->read(5, out).is_ok());
  ASSERT_TRUE(rig.drv->trim(0, 4096).is_ok());
  ASSERT_TRUE(rig.drv->flush().is_ok());
  ASSERT_FALSE(rig.drv->write(1 << 30, Bytes(10, 1)).is_ok());
  const std::string text = logs.text();
  EXPECT_NE(text.find("[trace] write offset=5 length=10"), std::string::npos) << text;
  EXPECT_NE(text.find("[trace] read offset=5 length=10"), std::string::npos) << text;
  EXPECT_NE(text.find("[trace] trim offset=0 length=4096"), std::string::npos) << text;
  EXPECT_NE(text.find("[trace] flush"), std::string::npos) << text;
  EXPECT_NE(text.find("[error] write offset=1073741824 length=10 failed: out of range"), std::string::npos)
      << text;
}

}  // namespace
}  // namespace vblk
