#pragma once
// JsonWriter: a small streaming writer for the tools' --json output.
//
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
#include <string>
#include <string_view>
#include <vector>

namespace vblk::cli {

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

}  // namespace vblk::cli
