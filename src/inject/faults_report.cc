// The faults document (inject/faults_report.h): faults_json and rules_json
// of inject/injector.h are written from its list of members.
#include "inject/faults_report.h"

#include <nlohmann/json.hpp>

namespace vblk::inject {

FaultsReport faults_report(AdminInterface& stack, size_t max_ranges) {
  FaultsReport f;
  const auto bad = stack.bad_ranges();
  for (auto [first, count] : bad) f.bad_blocks += count;
  f.bad_range_count = bad.size();
  for (size_t i = 0; i < bad.size() && i < max_ranges; ++i) f.bad_ranges.push_back({bad[i].first, bad[i].second});
  f.rules = stack.fault_rules();
  return f;
}

Json to_json(const FaultsReport& f) {
  return write_json(f, [](JsonWriter& w, const FaultsReport& r) { faults_fields(w, r); });
}

Result<FaultsReport> faults_report_from_json(const Json& j) {
  return read_json<FaultsReport>(j, [](JsonReader& r, FaultsReport& f) { faults_fields(r, f); });
}

Json faults_json(AdminInterface& stack, size_t max_ranges) { return to_json(faults_report(stack, max_ranges)); }

Json rules_json(const std::vector<FaultRule>& rules) {
  Json out = Json::array();
  for (const FaultRule& rule : rules) {
    out.push_back(write_json(rule, [](JsonWriter& w, const FaultRule& r) { rule_fields(w, r); }));
  }
  return out;
}

}  // namespace vblk::inject
