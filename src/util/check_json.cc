#include "util/check_json.h"

#include <nlohmann/json.hpp>

namespace vblk {

Json check_problems_json(std::span<const CheckProblem> problems) {
  Json out = Json::array();
  for (const CheckProblem& p : problems) {
    Json problem;
    problem["block"] = p.has_block ? Json(p.block) : Json(nullptr);
    problem["file_offset"] = p.file_offset;
    problem["what"] = p.what;
    out.push_back(std::move(problem));
  }
  return out;
}

}  // namespace vblk
