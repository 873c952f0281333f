#include "vblk/fault_rule.h"

#include <spdlog/fmt/fmt.h>

namespace vblk {

std::string_view to_string(FaultKind kind) {
  switch (kind) {
    case FaultKind::kFlakyWrite:
      return "flaky-write";
    case FaultKind::kLatency:
      return "latency";
    case FaultKind::kRemapBad:
      return "remap";
  }
  return "unknown";
}

FaultRule flaky_rule(uint64_t block, uint64_t fail_writes) {
  return {FaultKind::kFlakyWrite, block, 1, fail_writes, std::chrono::microseconds{0}};
}

FaultRule latency_rule(std::chrono::microseconds latency, uint64_t first, uint64_t count) {
  return {FaultKind::kLatency, first, count, 0, latency};
}

FaultRule remap_rule(uint64_t first, uint64_t count) {
  return {FaultKind::kRemapBad, first, count, 0, std::chrono::microseconds{0}};
}

std::string to_string(const FaultRule& rule) {
  std::string s = fmt::format("{} blocks {}-{}", to_string(rule.kind), rule.first, rule.first + rule.count - 1);
  switch (rule.kind) {
    case FaultKind::kFlakyWrite:
      s += fmt::format(" remaining {}", rule.remaining);
      break;
    case FaultKind::kLatency:
      s += fmt::format(" delay {}us", rule.latency.count());
      break;
    case FaultKind::kRemapBad:
      break;
  }
  return s;
}

}  // namespace vblk
