#include "vblk/mem_device.h"

#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <bit>
#include <cassert>
#include <cstring>
#include <limits>
#include <utility>

#include "util/bytes.h"

namespace vblk {

MemDevice::MemDevice(uint32_t block_size, uint64_t block_count)
    : block_size_(block_size), block_count_(block_count) {
  assert(std::has_single_bit(block_size) && block_size >= 512 && block_size <= 65536);
  assert(block_count <= std::numeric_limits<uint64_t>::max() / block_size);
}

Status MemDevice::check_io(uint64_t first, uint64_t count, size_t bytes) const {
  VBLK_RETURN_IF_ERROR(check_block_range(*this, first, count));
  // count <= block_count_, and block_count_ * block_size_ fits in uint64_t.
  if (static_cast<uint64_t>(bytes) != count * block_size_) {
    return Status::invalid_argument(fmt::format("buffer of {} bytes for {} blocks of {} bytes at block {}",
                                                bytes, count, block_size_, first));
  }
  return Status::ok();
}

Status MemDevice::check_not_bad_locked(uint64_t first, uint64_t count) const {
  auto it = bad_.lower_bound(first);
  if (it != bad_.end() && *it - first < count) {
    return Status::bad_block(fmt::format("block {} is BAD", *it));
  }
  return Status::ok();
}

void MemDevice::account_locked(const Entry& e, int sign) {
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
      adjust(used_, one);
      if (e.data.empty()) adjust(zero_, one);
      adjust(stored_bytes_, e.data.size());
      break;
    case BlockState::kTrimmed: adjust(trimmed_, one); break;
    case BlockState::kBad: break;  // counted by bad_.size()
  }
}

Status MemDevice::read_blocks(uint64_t first, uint64_t count, std::span<uint8_t> out) {
  VBLK_RETURN_IF_ERROR(check_io(first, count, out.size()));
  std::lock_guard lock(mu_);
  VBLK_RETURN_IF_ERROR(check_not_bad_locked(first, count));
  std::memset(out.data(), 0, out.size());
  for (auto it = blocks_.lower_bound(first); it != blocks_.end() && it->first - first < count; ++it) {
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
  std::lock_guard lock(mu_);
  VBLK_RETURN_IF_ERROR(check_not_bad_locked(first, count));
  for (uint64_t i = 0; i < count; ++i) {
    auto block = data.subspan(i * block_size_, block_size_);
    Entry& e = blocks_[first + i];
    account_locked(e, -1);
    e.state = BlockState::kUsed;
    if (all_zero(block)) {
      e.data.clear();
      e.data.shrink_to_fit();
    } else {
      e.data.assign(block.begin(), block.end());
    }
    account_locked(e, +1);
  }
  return Status::ok();
}

Status MemDevice::trim_blocks(uint64_t first, uint64_t count) {
  VBLK_RETURN_IF_ERROR(check_block_range(*this, first, count));
  std::lock_guard lock(mu_);
  // Only blocks present in the map can change: FREE stays FREE (absent),
  // BAD stays BAD, TRIMMED stays TRIMMED.
  for (auto it = blocks_.lower_bound(first); it != blocks_.end() && it->first - first < count; ++it) {
    Entry& e = it->second;
    if (e.state != BlockState::kUsed) continue;
    account_locked(e, -1);
    e.state = BlockState::kTrimmed;
    e.data.clear();
    e.data.shrink_to_fit();
    account_locked(e, +1);
  }
  return Status::ok();
}

DeviceStats MemDevice::stats() {
  std::lock_guard lock(mu_);
  DeviceStats s;
  s.used_blocks = used_;
  s.zero_blocks = zero_;
  s.trimmed_blocks = trimmed_;
  s.bad_blocks = bad_.size();
  s.free_blocks = block_count_ - used_ - trimmed_ - s.bad_blocks;
  s.stored_bytes = stored_bytes_;
  return s;
}

Result<BlockState> MemDevice::state(uint64_t block) {
  VBLK_RETURN_IF_ERROR(check_block_range(*this, block, 1));
  std::lock_guard lock(mu_);
  auto it = blocks_.find(block);
  return it == blocks_.end() ? BlockState::kFree : it->second.state;
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
    std::lock_guard lock(mu_);
    uint64_t next = first;  // first block not yet reported
    for (auto it = blocks_.lower_bound(first); it != blocks_.end() && it->first - first < count; ++it) {
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
  std::lock_guard lock(mu_);
  if (bad) {
    for (uint64_t b = first; b - first < count; ++b) {
      Entry& e = blocks_[b];
      account_locked(e, -1);
      e.state = BlockState::kBad;
      e.data.clear();
      e.data.shrink_to_fit();
      bad_.insert(b);
    }
  } else {
    auto it = bad_.lower_bound(first);
    while (it != bad_.end() && *it - first < count) {
      Entry& e = blocks_[*it];
      assert(e.state == BlockState::kBad);
      e.state = BlockState::kTrimmed;
      account_locked(e, +1);
      it = bad_.erase(it);
    }
  }
  return Status::ok();
}

}  // namespace vblk
