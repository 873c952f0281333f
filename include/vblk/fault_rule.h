#pragma once
// FaultRule: one runtime fault of a FaultDevice (vblk/fault_device.h), as
// the device keeps it and the admin interface (vblk/admin_interface.h)
// hands it out and takes it in. A rule is a value; what it does is the
// FaultDevice's business.
// Thread safety: plain values and pure functions.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace vblk {

enum class FaultKind : uint8_t {
  kFlakyWrite = 0,
  kLatency = 1,
  kRemapBad = 2,
};

std::string_view to_string(FaultKind kind);

struct FaultRule {
  FaultKind kind = FaultKind::kFlakyWrite;
  uint64_t first = 0;                    // first block the rule matches
  uint64_t count = 0;                    // blocks matched, always >= 1 once added
  uint64_t remaining = 0;                // kFlakyWrite: write attempts still to fail; kLatency: unused (0)
  std::chrono::microseconds latency{0};  // kLatency: delay per request
};

// The rules as one would add them (FaultDevice::add_flaky, add_latency,
// add_remap take the same arguments): the next `fail_writes` write attempts
// to `block` fail; requests to [first, first+count) wait `latency` (count
// 0: to the end of the device); writes to BAD blocks of [first,
// first+count) clear the mark.
FaultRule flaky_rule(uint64_t block, uint64_t fail_writes);
FaultRule latency_rule(std::chrono::microseconds latency, uint64_t first, uint64_t count);
FaultRule remap_rule(uint64_t first, uint64_t count);

// "flaky-write blocks 5-5 remaining 2", "latency blocks 0-1023 delay 100us",
// "remap blocks 10-20".
std::string to_string(const FaultRule& rule);

}  // namespace vblk
