#include "util/json.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace vblk {
namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 if invalid.
size_t utf8_len(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  size_t n;
  uint32_t cp;
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  // Reject overlong forms, surrogates and values past U+10FFFF.
  if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    return 0;
  }
  return n;
}

}  // namespace

std::string json_quote(std::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n = utf8_len(s, i);
    if (n == 0) {
      out += "\\ufffd";
      ++i;
      continue;
    }
    if (n > 1) {
      out.append(s.substr(i, n));
      i += n;
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7F) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
  return out + "\"";
}

void JsonWriter::before_value() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!first_.empty()) {
    if (!first_.back()) out_ += ',';
    first_.back() = false;
    out_ += '\n';
    out_.append(2 * first_.size(), ' ');
  }
}

void JsonWriter::open(char c) {
  before_value();
  out_ += c;
  first_.push_back(true);
}

void JsonWriter::close(char c) {
  bool empty = first_.empty() || first_.back();
  if (!first_.empty()) first_.pop_back();
  if (!empty) {
    out_ += '\n';
    out_.append(2 * first_.size(), ' ');
  }
  out_ += c;
}

JsonWriter& JsonWriter::begin_object() {
  open('{');
  return *this;
}
JsonWriter& JsonWriter::end_object() {
  close('}');
  return *this;
}
JsonWriter& JsonWriter::begin_array() {
  open('[');
  return *this;
}
JsonWriter& JsonWriter::end_array() {
  close(']');
  return *this;
}

JsonWriter& JsonWriter::key(std::string_view k) {
  before_value();
  out_ += json_quote(k);
  out_ += ": ";
  after_key_ = true;
  return *this;
}

JsonWriter& JsonWriter::raw(std::string_view token) {
  before_value();
  out_ += token;
  return *this;
}

JsonWriter& JsonWriter::value(std::string_view s) { return raw(json_quote(s)); }
JsonWriter& JsonWriter::value(bool b) { return raw(b ? "true" : "false"); }

JsonWriter& JsonWriter::value(double d) {
  if (!std::isfinite(d)) return raw("null");
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", d);
  return raw(buf);
}

// ---- reading ---------------------------------------------------------------

JsonWriter& JsonWriter::value(const JsonValue& v) {
  switch (v.type()) {
    case JsonValue::Type::kNull: return null();
    case JsonValue::Type::kBool: return value(v.as_bool());
    case JsonValue::Type::kNumber: {
      const double d = v.as_double();
      // Integers print as integers, not in %g's exponent form.
      if (d == std::floor(d) && std::fabs(d) < 9007199254740992.0) {
        return raw(std::to_string(static_cast<int64_t>(d)));
      }
      return value(d);
    }
    case JsonValue::Type::kString: return value(v.as_string());
    case JsonValue::Type::kArray:
      begin_array();
      for (const JsonValue& item : v.items()) value(item);
      return end_array();
    case JsonValue::Type::kObject:
      begin_object();
      for (const auto& [k, m] : v.members()) key(k).value(m);
      return end_object();
  }
  return null();
}

uint64_t JsonValue::as_u64(uint64_t fallback) const {
  if (type_ != Type::kNumber || !(number_ >= 0) || number_ >= 18446744073709551616.0) return fallback;
  return static_cast<uint64_t>(number_);
}

const JsonValue& JsonValue::operator[](std::string_view key) const {
  static const JsonValue kNull;
  for (const auto& [k, v] : members_) {
    if (k == key) return v;
  }
  return kNull;
}

bool JsonValue::has(std::string_view key) const {
  for (const auto& m : members_) {
    if (m.first == key) return true;
  }
  return false;
}

class JsonParser {
 public:
  explicit JsonParser(std::string_view text) : s_(text) {}

  Result<JsonValue> parse() {
    JsonValue v;
    VBLK_RETURN_IF_ERROR(value(v, 0));
    skip_ws();
    if (pos_ != s_.size()) return error("end of document");
    return v;
  }

 private:
  static constexpr int kMaxDepth = 64;

  Status error(std::string_view expected) const {
    return Status::invalid_argument("JSON: expected " + std::string(expected) + " at byte " + std::to_string(pos_));
  }
  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  bool eat(char c) {
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  Status value(JsonValue& v, int depth) {
    if (depth > kMaxDepth) return error("less nesting");
    skip_ws();
    if (pos_ >= s_.size()) return error("a value");
    const char c = s_[pos_];
    if (c == '{') {
      ++pos_;
      v.type_ = JsonValue::Type::kObject;
      if (eat('}')) return Status::ok();
      do {
        skip_ws();
        std::string key;
        VBLK_RETURN_IF_ERROR(string(key));
        if (!eat(':')) return error("':'");
        JsonValue member;
        VBLK_RETURN_IF_ERROR(value(member, depth + 1));
        v.members_.emplace_back(std::move(key), std::move(member));
      } while (eat(','));
      if (!eat('}')) return error("',' or '}'");
      return Status::ok();
    }
    if (c == '[') {
      ++pos_;
      v.type_ = JsonValue::Type::kArray;
      if (eat(']')) return Status::ok();
      do {
        JsonValue item;
        VBLK_RETURN_IF_ERROR(value(item, depth + 1));
        v.items_.push_back(std::move(item));
      } while (eat(','));
      if (!eat(']')) return error("',' or ']'");
      return Status::ok();
    }
    if (c == '"') {
      v.type_ = JsonValue::Type::kString;
      return string(v.string_);
    }
    if (literal("true")) {
      v.type_ = JsonValue::Type::kBool;
      v.bool_ = true;
      return Status::ok();
    }
    if (literal("false")) {
      v.type_ = JsonValue::Type::kBool;
      return Status::ok();
    }
    if (literal("null")) return Status::ok();
    return number(v);
  }

  Status number(JsonValue& v) {
    const size_t start = pos_;
    auto digits = [&] {
      const size_t from = pos_;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
      return pos_ > from;
    };
    if (pos_ < s_.size() && s_[pos_] == '-') ++pos_;
    if (!digits()) return error("a value");
    if (pos_ < s_.size() && s_[pos_] == '.') {
      ++pos_;
      if (!digits()) return error("digits after '.'");
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      if (!digits()) return error("an exponent");
    }
    v.type_ = JsonValue::Type::kNumber;
    v.number_ = std::strtod(std::string(s_.substr(start, pos_ - start)).c_str(), nullptr);
    return Status::ok();
  }

  static void put_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  bool hex4(uint32_t& out) {
    if (pos_ + 4 > s_.size()) return false;
    out = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = s_[pos_++];
      out <<= 4;
      if (c >= '0' && c <= '9') {
        out |= static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        out |= static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        out |= static_cast<uint32_t>(c - 'A' + 10);
      } else {
        return false;
      }
    }
    return true;
  }

  Status string(std::string& out) {
    if (pos_ >= s_.size() || s_[pos_] != '"') return error("a string");
    ++pos_;
    while (pos_ < s_.size()) {
      const char c = s_[pos_++];
      if (c == '"') return Status::ok();
      if (static_cast<unsigned char>(c) < 0x20) return error("no control character in a string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= s_.size()) break;
      switch (s_[pos_++]) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          uint32_t cp = 0;
          if (!hex4(cp)) return error("four hex digits after \\u");
          if (cp >= 0xD800 && cp <= 0xDBFF && s_.substr(pos_, 2) == "\\u") {
            pos_ += 2;
            uint32_t low = 0;
            if (!hex4(low) || low < 0xDC00 || low > 0xDFFF) return error("a low surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          } else if (cp >= 0xD800 && cp <= 0xDFFF) {
            cp = 0xFFFD;
          }
          put_utf8(out, cp);
          break;
        }
        default: return error("a valid escape");
      }
    }
    return error("the closing '\"'");
  }

  std::string_view s_;
  size_t pos_ = 0;
};

Result<JsonValue> parse_json(std::string_view text) { return JsonParser(text).parse(); }

}  // namespace vblk
