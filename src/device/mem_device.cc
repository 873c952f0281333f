#include "vblk/mem_device.h"

#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <bit>
#include <cassert>
#include <cstring>
#include <limits>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "util/bytes.h"
#include "util/mutex.h"

namespace vblk {

struct MemDevice::Contents {
  struct Entry {
    BlockState state = BlockState::kFree;
    std::vector<uint8_t> data;  // empty: all zeros (USED zero block, TRIMMED, BAD)
  };

  // BadBlock naming the first BAD block of [first, first+count), or OK.
  // REQUIRES: the range is valid.
  Status check_not_bad(uint64_t first, uint64_t count) const REQUIRES(mu);
  // Adds (sign +1) or removes (sign -1) an entry's share of the counters.
  void account(const Entry& e, int sign) REQUIRES(mu);

  Mutex mu;
  std::map<uint64_t, Entry> blocks GUARDED_BY(mu);  // absent means FREE
  std::set<uint64_t> bad GUARDED_BY(mu);            // the BAD keys of blocks
  uint64_t used GUARDED_BY(mu) = 0;
  uint64_t zero GUARDED_BY(mu) = 0;
  uint64_t trimmed GUARDED_BY(mu) = 0;
  uint64_t stored_bytes GUARDED_BY(mu) = 0;
};

MemDevice::MemDevice(uint32_t block_size, uint64_t block_count)
    : block_size_(block_size), block_count_(block_count), contents_(std::make_unique<Contents>()) {
  assert(std::has_single_bit(block_size) && block_size >= 512 && block_size <= 65536);
  assert(block_count <= std::numeric_limits<uint64_t>::max() / block_size);
}

MemDevice::~MemDevice() = default;

Status MemDevice::check_io(uint64_t first, uint64_t count, size_t bytes) const {
  VBLK_RETURN_IF_ERROR(check_block_range(*this, first, count));
  // count <= block_count_, and block_count_ * block_size_ fits in uint64_t.
  if (static_cast<uint64_t>(bytes) != count * block_size_) {
    return Status::invalid_argument(fmt::format("buffer of {} bytes for {} blocks of {} bytes at block {}",
                                                bytes, count, block_size_, first));
  }
  return Status::ok();
}

Status MemDevice::Contents::check_not_bad(uint64_t first, uint64_t count) const {
  auto it = bad.lower_bound(first);
  if (it != bad.end() && *it - first < count) {
    return Status::bad_block(fmt::format("block {} is BAD", *it));
  }
  return Status::ok();
}

void MemDevice::Contents::account(const Entry& e, int sign) {
  const uint64_t one = 1;
  auto adjust = [sign](uint64_t& counter, uint64_t by) {
    if (sign > 0) {
      counter += by;
    } else {
      assert(counter >= by);
      counter -= by;
    }
  };
  switch (e.state) {
    case BlockState::kFree: break;
    case BlockState::kUsed:
      adjust(used, one);
      if (e.data.empty()) adjust(zero, one);
      adjust(stored_bytes, e.data.size());
      break;
    case BlockState::kTrimmed: adjust(trimmed, one); break;
    case BlockState::kBad: break;  // counted by bad.size()
  }
}

Status MemDevice::read_blocks(uint64_t first, uint64_t count, std::span<uint8_t> out) {
  VBLK_RETURN_IF_ERROR(check_io(first, count, out.size()));
  Contents& c = *contents_;
  MutexLock lock(c.mu);
  VBLK_RETURN_IF_ERROR(c.check_not_bad(first, count));
  std::memset(out.data(), 0, out.size());
  for (auto it = c.blocks.lower_bound(first); it != c.blocks.end() && it->first - first < count; ++it) {
    if (it->second.data.empty()) continue;
    assert(it->second.data.size() == block_size_);
    std::memcpy(out.data() + (it->first - first) * block_size_, it->second.data.data(), block_size_);
  }
  return Status::ok();
}

Status MemDevice::write_blocks(uint64_t first, std::span<const uint8_t> data) {
  if (data.size() % block_size_ != 0) {
    return Status::invalid_argument(
        fmt::format("write of {} bytes at block {} is not a whole number of {}-byte blocks", data.size(),
                    first, block_size_));
  }
  const uint64_t count = data.size() / block_size_;
  VBLK_RETURN_IF_ERROR(check_io(first, count, data.size()));
  Contents& c = *contents_;
  MutexLock lock(c.mu);
  VBLK_RETURN_IF_ERROR(c.check_not_bad(first, count));
  for (uint64_t i = 0; i < count; ++i) {
    auto block = data.subspan(i * block_size_, block_size_);
    Contents::Entry& e = c.blocks[first + i];
    c.account(e, -1);
    e.state = BlockState::kUsed;
    if (all_zero(block)) {
      e.data.clear();
      e.data.shrink_to_fit();
    } else {
      e.data.assign(block.begin(), block.end());
    }
    c.account(e, +1);
  }
  return Status::ok();
}

Status MemDevice::trim_blocks(uint64_t first, uint64_t count) {
  VBLK_RETURN_IF_ERROR(check_block_range(*this, first, count));
  Contents& c = *contents_;
  MutexLock lock(c.mu);
  // Only blocks present in the map can change: FREE stays FREE (absent),
  // BAD stays BAD, TRIMMED stays TRIMMED.
  for (auto it = c.blocks.lower_bound(first); it != c.blocks.end() && it->first - first < count; ++it) {
    Contents::Entry& e = it->second;
    if (e.state != BlockState::kUsed) continue;
    c.account(e, -1);
    e.state = BlockState::kTrimmed;
    e.data.clear();
    e.data.shrink_to_fit();
    c.account(e, +1);
  }
  return Status::ok();
}

DeviceStats MemDevice::stats() {
  Contents& c = *contents_;
  MutexLock lock(c.mu);
  DeviceStats s;
  s.used_blocks = c.used;
  s.zero_blocks = c.zero;
  s.trimmed_blocks = c.trimmed;
  s.bad_blocks = c.bad.size();
  s.free_blocks = block_count_ - c.used - c.trimmed - s.bad_blocks;
  s.stored_bytes = c.stored_bytes;
  return s;
}

Result<BlockState> MemDevice::state(uint64_t block) {
  VBLK_RETURN_IF_ERROR(check_block_range(*this, block, 1));
  Contents& c = *contents_;
  MutexLock lock(c.mu);
  auto it = c.blocks.find(block);
  return it == c.blocks.end() ? BlockState::kFree : it->second.state;
}

Status MemDevice::state_runs(uint64_t first, uint64_t count, const StateRunFn& fn) {
  VBLK_RETURN_IF_ERROR(check_block_range(*this, first, count));
  struct Run {
    uint64_t first, count;
    BlockState state;
  };
  std::vector<Run> runs;
  auto emit = [&runs](uint64_t b, uint64_t n, BlockState s) {
    if (n == 0) return;
    if (!runs.empty() && runs.back().state == s && runs.back().first + runs.back().count == b) {
      runs.back().count += n;
    } else {
      runs.push_back({b, n, s});
    }
  };
  {
    Contents& c = *contents_;
    MutexLock lock(c.mu);
    uint64_t next = first;  // first block not yet reported
    for (auto it = c.blocks.lower_bound(first); it != c.blocks.end() && it->first - first < count; ++it) {
      emit(next, it->first - next, BlockState::kFree);
      emit(it->first, 1, it->second.state);
      next = it->first + 1;
    }
    emit(next, first + count - next, BlockState::kFree);
  }
  for (const Run& r : runs) fn(r.first, r.count, r.state);
  return Status::ok();
}

Status MemDevice::set_bad(uint64_t first, uint64_t count, bool bad) {
  VBLK_RETURN_IF_ERROR(check_block_range(*this, first, count));
  Contents& c = *contents_;
  MutexLock lock(c.mu);
  if (bad) {
    for (uint64_t b = first; b - first < count; ++b) {
      Contents::Entry& e = c.blocks[b];
      c.account(e, -1);
      e.state = BlockState::kBad;
      e.data.clear();
      e.data.shrink_to_fit();
      c.bad.insert(b);
    }
  } else {
    auto it = c.bad.lower_bound(first);
    while (it != c.bad.end() && *it - first < count) {
      Contents::Entry& e = c.blocks[*it];
      assert(e.state == BlockState::kBad);
      e.state = BlockState::kTrimmed;
      c.account(e, +1);
      it = c.bad.erase(it);
    }
  }
  return Status::ok();
}

}  // namespace vblk
