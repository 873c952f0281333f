#include "util/json.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace vblk {
namespace {

constexpr int kMaxDepth = 64;

const Json& null_json() {
  static const Json kNull;
  return kNull;
}

}  // namespace

std::string dump_json(const Json& j) { return j.dump(2, ' ', false, Json::error_handler_t::replace); }

std::string dump_json_compact(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

Json json_number(double d) {
  if (!std::isfinite(d)) return nullptr;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", d);
  // %.6g writes a whole number below 10^6 without '.' or 'e': an integer.
  if (std::strpbrk(buf, ".e") == nullptr) return static_cast<int64_t>(std::strtoll(buf, nullptr, 10));
  return std::strtod(buf, nullptr);
}

Result<Json> parse_json(std::string_view text) {
  bool too_deep = false;
  // Containers nested deeper than kMaxDepth are dropped as they are read
  // (the parser itself does not recurse), and the document refused: a copy
  // or a print of one would recurse once per level.
  auto limit_depth = [&too_deep](int depth, Json::parse_event_t event, Json&) {
    if ((event == Json::parse_event_t::object_start || event == Json::parse_event_t::array_start) &&
        depth > kMaxDepth) {
      too_deep = true;
      return false;
    }
    return true;
  };
  // nlohmann's parser takes a NUL for the end of the input; no JSON text
  // holds one (a string spells it \u0000).
  if (size_t nul = text.find('\0'); nul != std::string_view::npos) {
    return Status::invalid_argument("JSON: a NUL byte at offset " + std::to_string(nul));
  }
  try {
    Json j = Json::parse(text, limit_depth);
    if (too_deep) return Status::invalid_argument("JSON: nested deeper than " + std::to_string(kMaxDepth) + " levels");
    return j;
  } catch (const Json::exception& e) {
    // "[json.exception.parse_error.101] parse error at line 1, column 2: ..."
    std::string cause = e.what();
    if (size_t end = cause.find("] "); cause.rfind("[json.exception.", 0) == 0 && end != std::string::npos) {
      cause.erase(0, end + 2);
    }
    return Status::invalid_argument("JSON: " + cause);
  }
}

const Json& json_at(const Json& j, std::string_view path) {
  const Json* at = &j;
  while (true) {
    const size_t slash = path.find('/');
    const std::string_view key = path.substr(0, slash);
    if (!at->is_object()) return null_json();
    auto it = at->find(key);
    if (it == at->end()) return null_json();
    at = &*it;
    if (slash == std::string_view::npos) return *at;
    path.remove_prefix(slash + 1);
  }
}

uint64_t json_u64(const Json& j, uint64_t fallback) {
  if (j.is_number_unsigned()) return j.get<uint64_t>();
  if (j.is_number_integer()) {
    const auto v = j.get<int64_t>();
    return v < 0 ? fallback : static_cast<uint64_t>(v);
  }
  if (j.is_number_float()) {
    const auto d = j.get<double>();
    if (!(d >= 0) || d >= 18446744073709551616.0) return fallback;
    return static_cast<uint64_t>(d);
  }
  return fallback;
}

double json_double(const Json& j, double fallback) { return j.is_number() ? j.get<double>() : fallback; }

bool json_bool(const Json& j, bool fallback) { return j.is_boolean() ? j.get<bool>() : fallback; }

const std::string& json_string(const Json& j) {
  static const std::string kEmpty;
  return j.is_string() ? j.get_ref<const std::string&>() : kEmpty;
}

const Json& json_items(const Json& j) {
  static const Json kEmpty = Json::array();
  return j.is_array() ? j : kEmpty;
}

}  // namespace vblk
