#include "util/check_json.h"

#include <nlohmann/json.hpp>

namespace vblk {

Json check_problems_json(std::span<const CheckProblem> problems) {
  Json out = Json::array();
  for (const CheckProblem& p : problems) {
    out.push_back(write_json(p, [](JsonWriter& w, const CheckProblem& q) { check_problem_fields(w, q); }));
  }
  return out;
}

}  // namespace vblk
