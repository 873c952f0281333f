#include "util/json_fields.h"

#include <nlohmann/json.hpp>

#include <limits>

namespace vblk {

Status expect_json_object(const Json& j) {
  if (j.is_object()) return Status::ok();
  return Status::invalid_argument(std::string("a JSON ") + j.type_name() + ", not an object");
}

// ---- JsonWriter -------------------------------------------------------------

void JsonWriter::set(std::string_view key, Json v) { j_[std::string(key)] = std::move(v); }

Json& JsonWriter::begin(std::string_view key, bool array) {
  Json& at = j_[std::string(key)];
  at = array ? Json::array() : Json::object();
  return at;
}

Json& JsonWriter::append_object(Json& arr) {
  arr.push_back(Json::object());
  return arr.back();
}

void JsonWriter::field(std::string_view key, const std::string& v, Presence) { set(key, v); }
void JsonWriter::field(std::string_view key, bool v, Presence) { set(key, v); }
void JsonWriter::field(std::string_view key, uint64_t v, Presence) { set(key, v); }
void JsonWriter::field(std::string_view key, uint32_t v, Presence) { set(key, v); }
void JsonWriter::field(std::string_view key, const std::optional<uint64_t>& v) {
  if (v) set(key, *v);
}
void JsonWriter::number(std::string_view key, double v) { set(key, json_number(v)); }
void JsonWriter::positive_number(std::string_view key, double v) { set(key, v > 0 ? json_number(v) : Json(nullptr)); }
void JsonWriter::nullable_number(std::string_view key, const std::optional<double>& v) {
  set(key, v ? json_number(*v) : Json(nullptr));
}
void JsonWriter::time_or_null(std::string_view key, double v) { set(key, v > 0 ? Json(v) : Json(nullptr)); }
void JsonWriter::count_or_null(std::string_view key, uint64_t v) { set(key, v ? Json(v) : Json(nullptr)); }
void JsonWriter::nullable(std::string_view key, uint64_t v, bool present) {
  set(key, present ? Json(v) : Json(nullptr));
}

// ---- JsonReader -------------------------------------------------------------

namespace {

// A whole number in [0, max]: an integer of the document, never a
// fraction (a count the writer wrote is an integer).
std::optional<uint64_t> whole(const Json& v, uint64_t max) {
  uint64_t n = 0;
  if (v.is_number_unsigned()) {
    n = v.get<uint64_t>();
  } else if (v.is_number_integer() && v.get<int64_t>() >= 0) {
    n = static_cast<uint64_t>(v.get<int64_t>());
  } else {
    return std::nullopt;
  }
  if (n > max) return std::nullopt;
  return n;
}

}  // namespace

std::string JsonReader::path(std::string_view key) const {
  return path_.empty() ? std::string(key) : path_ + "/" + std::string(key);
}

void JsonReader::fail(std::string_view key, const std::string& what) {
  if (ok()) *error_ = Status::invalid_argument("key \"" + path(key) + "\" " + what);
}

void JsonReader::wrong_type(std::string_view key, const Json& v, const char* wanted) {
  // A number is shown (a count may be negative or too large); anything
  // else by its type.
  const std::string found = v.is_number() ? v.dump() : std::string("a JSON ") + v.type_name();
  fail(key, "is " + found + ", not " + wanted);
}

bool JsonReader::has(std::string_view key) const { return j_.is_object() && j_.contains(key); }

const Json* JsonReader::member(std::string_view key, Kind kind, Presence p) {
  if (!ok()) return nullptr;
  auto it = j_.find(key);
  if (it == j_.end()) {
    if (p == Presence::kRequired) fail(key, "is missing");
    return nullptr;
  }
  if (kind == Kind::kObject && !it->is_object()) {
    wrong_type(key, *it, "an object");
    return nullptr;
  }
  if (kind == Kind::kArray && !it->is_array()) {
    wrong_type(key, *it, "an array");
    return nullptr;
  }
  return &*it;
}

const Json* JsonReader::element(const Json& arr, size_t i, const std::string& at) {
  const Json& e = arr[i];
  if (e.is_object()) return &e;
  if (ok()) *error_ = Status::invalid_argument("key \"" + at + "\" is a JSON " + e.type_name() + ", not an object");
  return nullptr;
}

size_t JsonReader::size(const Json& arr) { return arr.size(); }

void JsonReader::field(std::string_view key, std::string& v, Presence p) {
  const Json* m = member(key, Kind::kAny, p);
  if (m == nullptr) return;
  if (!m->is_string()) return wrong_type(key, *m, "a string");
  v = m->get<std::string>();
}

void JsonReader::field(std::string_view key, bool& v, Presence p) {
  const Json* m = member(key, Kind::kAny, p);
  if (m == nullptr) return;
  if (!m->is_boolean()) return wrong_type(key, *m, "true or false");
  v = m->get<bool>();
}

void JsonReader::field(std::string_view key, uint64_t& v, Presence p) {
  const Json* m = member(key, Kind::kAny, p);
  if (m == nullptr) return;
  auto n = whole(*m, std::numeric_limits<uint64_t>::max());
  if (!n) return wrong_type(key, *m, "a whole number from 0 to 2^64-1");
  v = *n;
}

void JsonReader::field(std::string_view key, uint32_t& v, Presence p) {
  const Json* m = member(key, Kind::kAny, p);
  if (m == nullptr) return;
  auto n = whole(*m, std::numeric_limits<uint32_t>::max());
  if (!n) return wrong_type(key, *m, "a whole number from 0 to 2^32-1");
  v = static_cast<uint32_t>(*n);
}

void JsonReader::field(std::string_view key, std::optional<uint64_t>& v) {
  v.reset();
  if (!has(key)) return;
  uint64_t n = 0;
  field(key, n);
  if (ok()) v = n;
}

void JsonReader::number(std::string_view key, double& v) {
  const Json* m = member(key, Kind::kAny, Presence::kRequired);
  if (m == nullptr) return;
  if (!m->is_number()) return wrong_type(key, *m, "a number");
  v = m->get<double>();
}

void JsonReader::positive_number(std::string_view key, double& v) {
  const Json* m = member(key, Kind::kAny, Presence::kRequired);
  if (m == nullptr) return;
  if (m->is_null()) {
    v = 0;
    return;
  }
  number(key, v);
}

void JsonReader::nullable_number(std::string_view key, std::optional<double>& v) {
  v.reset();
  double d = 0;
  const Json* m = member(key, Kind::kAny, Presence::kRequired);
  if (m == nullptr || m->is_null()) return;
  number(key, d);
  if (ok()) v = d;
}

void JsonReader::time_or_null(std::string_view key, double& v) { positive_number(key, v); }

void JsonReader::count_or_null(std::string_view key, uint64_t& v) {
  const Json* m = member(key, Kind::kAny, Presence::kRequired);
  if (m == nullptr) return;
  if (m->is_null()) {
    v = 0;
    return;
  }
  field(key, v);
}

void JsonReader::nullable(std::string_view key, uint64_t& v, bool& present) {
  const Json* m = member(key, Kind::kAny, Presence::kRequired);
  if (m == nullptr) return;
  present = !m->is_null();
  v = 0;
  if (present) field(key, v);
}

}  // namespace vblk
