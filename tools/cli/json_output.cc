#include "cli/json_output.h"

#include <nlohmann/json.hpp>

#include <cstdio>

namespace vblk::cli {

Json json_document(std::string_view schema) {
  Json j;
  j["schema"] = std::string(schema);
  return j;
}

Json json_document(std::string_view schema, const Json& body) {
  Json j = json_document(schema);
  json_append(j, body);
  return j;
}

void json_append(Json& to, const Json& from) {
  if (!from.is_object()) return;
  for (const auto& [key, value] : from.items()) {
    if (key != "schema") to[key] = value;
  }
}

void print_json(const Json& j) { std::printf("%s\n", dump_json(j).c_str()); }

}  // namespace vblk::cli
