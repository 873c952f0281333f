#pragma once
// FaultDevice: deterministic simulated hardware faults in front of another
// device.
//
// A DeviceWrapper that consults a list of runtime (not persistent) rules
// before forwarding a request:
//   - flaky write: the next K write attempts that touch the block fail with
//     IoError "injected write failure on block N" and change nothing; every
//     firing uses up one of the K. A write touching several flaky blocks fires
//     (and uses up) each of their rules once and names the lowest block.
//   - latency: every read, write and trim touching the range is delayed; when
//     several rules match, their delays add up. flush, stats and state
//     queries are never delayed.
// Every firing is logged at warn as "injecting <fault> into block N".
// BAD blocks are persistent and therefore not rules here: mark them with
// target().set_bad(), which this wrapper forwards unchanged.
// Thread safety: every method is safe to call concurrently; the rule list is
// guarded by one mutex, which is never held while calling the target or
// sleeping.

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vblk/block_device.h"

namespace vblk {

enum class FaultKind : uint8_t {
  kFlakyWrite = 0,
  kLatency = 1,
};

std::string_view to_string(FaultKind kind);

struct FaultRule {
  FaultKind kind = FaultKind::kFlakyWrite;
  uint64_t first = 0;   // first block the rule matches
  uint64_t count = 0;   // blocks matched, always >= 1 once added
  uint64_t remaining = 0;  // kFlakyWrite: write attempts still to fail; kLatency: unused (0)
  std::chrono::microseconds latency{0};  // kLatency: delay per request
};

// "flaky-write blocks 5-5 remaining 2", "latency 100us blocks 0-1023".
std::string to_string(const FaultRule& rule);

class FaultDevice final : public DeviceWrapper {
 public:
  explicit FaultDevice(std::unique_ptr<BlockDevice> target);

  // Makes the next `fail_writes` write attempts touching `block` fail. Replaces
  // an existing flaky rule for that block; 0 removes it.
  // OutOfRange if block is beyond the device.
  Status add_flaky(uint64_t block, uint64_t fail_writes);
  // Delays every request touching [first, first+count) by `latency`.
  // count 0 means "to the end of the device" (the whole device when first is
  // 0). OutOfRange if the range is beyond the device, InvalidArgument if
  // latency is negative.
  Status add_latency(std::chrono::microseconds latency, uint64_t first = 0, uint64_t count = 0);
  // Removes every rule overlapping [first, first+count) (count 0: to the end).
  // Returns the number of rules removed.
  size_t clear(uint64_t first, uint64_t count);
  void clear_all();
  // The rules in the order they were added; spent flaky rules are gone.
  std::vector<FaultRule> list() const;

  Status read_blocks(uint64_t first, uint64_t count, std::span<uint8_t> out) override;
  Status write_blocks(uint64_t first, std::span<const uint8_t> data) override;
  Status trim_blocks(uint64_t first, uint64_t count) override;

 private:
  // Sleeps for the sum of the latency rules matching the range (logging each).
  void apply_latency(uint64_t first, uint64_t count);

  mutable std::mutex mu_;
  std::vector<FaultRule> rules_;  // GUARDED_BY(mu_)
};

}  // namespace vblk
