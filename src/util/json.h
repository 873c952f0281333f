#pragma once
// JSON for the tools' --json output and the daemon's live control
// interface: JsonWriter builds a document, parse_json reads one back.
//
// JsonWriter:
// Builds one JSON document (RFC 8259) in memory, indented two spaces per
// level. Commas and key/value separators are placed automatically. Strings
// are escaped; bytes that are not valid UTF-8 (labels of damaged images can
// hold anything) become U+FFFD so the output always parses. Non-finite
// doubles are written as null.
// Thread safety: none.
//
// Example:
//   JsonWriter j;
//   j.begin_object().key("path").value(path).key("blocks").value(n).end_object();
//   std::cout << j.str() << '\n';

#include <concepts>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "vblk/status.h"

namespace vblk {

class JsonValue;

class JsonWriter {
 public:
  JsonWriter& begin_object();
  JsonWriter& end_object();
  JsonWriter& begin_array();
  JsonWriter& end_array();
  // REQUIRES: inside an object, before each value.
  JsonWriter& key(std::string_view k);

  JsonWriter& value(std::string_view s);
  JsonWriter& value(const char* s) { return value(std::string_view(s)); }
  JsonWriter& value(const std::string& s) { return value(std::string_view(s)); }
  JsonWriter& value(bool b);
  JsonWriter& value(double d);
  template <std::integral T>
    requires(!std::same_as<T, bool>)
  JsonWriter& value(T v) {
    return raw(std::to_string(v));
  }
  JsonWriter& null() { return raw("null"); }
  // Writes a parsed value (parse_json), re-indented.
  JsonWriter& value(const JsonValue& v);
  // Inserts `json`, a complete JSON value, as it is (no re-indentation):
  // for large arrays that must stay compact. REQUIRES: `json` is valid JSON.
  JsonWriter& raw_value(std::string_view json) { return raw(json); }

  // key(k).value(v) in one call.
  template <typename T>
  JsonWriter& field(std::string_view k, const T& v) {
    return key(k).value(v);
  }

  // The document so far.
  const std::string& str() const { return out_; }

 private:
  JsonWriter& raw(std::string_view token);
  void before_value();
  void open(char c);
  void close(char c);

  std::string out_;
  // One entry per open container: true until its first member is written.
  std::vector<bool> first_;
  bool after_key_ = false;
};

// `s` as a quoted JSON string literal.
std::string json_quote(std::string_view s);

// A parsed JSON value. Numbers are kept as double (integers up to 2^53 are
// exact, which covers every counter vblk reports for the life of a daemon).
// Accessors never throw: a missing key or a value of another type gives the
// fallback.
class JsonValue {
 public:
  enum class Type : uint8_t { kNull, kBool, kNumber, kString, kArray, kObject };

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::kNull; }
  bool is_number() const { return type_ == Type::kNumber; }
  bool is_string() const { return type_ == Type::kString; }
  bool is_array() const { return type_ == Type::kArray; }
  bool is_object() const { return type_ == Type::kObject; }

  bool as_bool(bool fallback = false) const { return type_ == Type::kBool ? bool_ : fallback; }
  double as_double(double fallback = 0) const { return type_ == Type::kNumber ? number_ : fallback; }
  // The number rounded toward zero; negative numbers give the fallback.
  uint64_t as_u64(uint64_t fallback = 0) const;
  const std::string& as_string() const { return string_; }  // empty unless a string
  const std::vector<JsonValue>& items() const { return items_; }  // empty unless an array
  // Object member `key`, or a null value.
  const JsonValue& operator[](std::string_view key) const;
  bool has(std::string_view key) const;
  const std::vector<std::pair<std::string, JsonValue>>& members() const { return members_; }

 private:
  friend class JsonParser;
  Type type_ = Type::kNull;
  bool bool_ = false;
  double number_ = 0;
  std::string string_;
  std::vector<JsonValue> items_;
  std::vector<std::pair<std::string, JsonValue>> members_;  // in document order
};

// Parses one JSON document (RFC 8259; nesting up to 64 levels). Failure:
// InvalidArgument naming the byte offset and what was expected.
Result<JsonValue> parse_json(std::string_view text);

}  // namespace vblk
