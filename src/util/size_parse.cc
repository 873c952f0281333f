#include "vblk/size_parse.h"

#include <array>
#include <cstdio>

namespace vblk {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

Status bad(std::string_view text, std::string_view why) {
  return Status::invalid_argument("invalid size '" + std::string(text) + "': " + std::string(why));
}

// Shift (power of two) for a unit letter, or -1.
int unit_shift(char c) {
  switch (lower(c)) {
    case 'k': return 10;
    case 'm': return 20;
    case 'g': return 30;
    case 't': return 40;
    case 'p': return 50;
    case 'e': return 60;
    default: return -1;
  }
}

}  // namespace

Result<uint64_t> parse_size(std::string_view text) {
  std::string_view s = text;
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  if (s.empty()) return bad(text, "empty");
  if (s.front() == '-') return bad(text, "negative");
  if (s.front() == '+') s.remove_prefix(1);

  // Integer part.
  size_t i = 0;
  unsigned __int128 whole = 0;
  bool too_big = false;
  while (i < s.size() && is_digit(s[i])) {
    if (!too_big) {
      whole = whole * 10 + static_cast<unsigned>(s[i] - '0');
      too_big = whole > UINT64_MAX;
    }
    ++i;
  }
  size_t int_digits = i;

  // Fraction part, kept as digits; trailing zeros do not count.
  std::string frac;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && is_digit(s[i])) frac.push_back(s[i++]);
  }
  if (int_digits == 0 && frac.empty()) return bad(text, "not a number");
  while (!frac.empty() && frac.back() == '0') frac.pop_back();

  // Suffix: [KMGTPE] then optional "B" or "iB"; or just "B".
  std::string_view suffix = s.substr(i);
  int shift = 0;
  if (!suffix.empty()) {
    int u = unit_shift(suffix.front());
    if (u >= 0) {
      shift = u;
      suffix.remove_prefix(1);
      if (suffix.size() == 2 && lower(suffix[0]) == 'i' && lower(suffix[1]) == 'b') suffix = {};
    }
    if (suffix.size() == 1 && lower(suffix[0]) == 'b') suffix = {};
    if (!suffix.empty()) {
      return bad(text, "unknown suffix '" + std::string(suffix) + "' (use K, M, G, T, P or E)");
    }
  }

  if (too_big) return bad(text, "too large");
  unsigned __int128 total = whole << shift;
  if (total > UINT64_MAX) return bad(text, "too large");

  if (!frac.empty()) {
    // frac * 2^shift must be divisible by 10^digits. 2^shift has no factor
    // of 5, so more than 19 significant fraction digits can never be exact
    // (and would overflow the arithmetic below).
    if (frac.size() > 19) return bad(text, "not a whole number of bytes");
    unsigned __int128 f = 0, scale = 1;
    for (char c : frac) {
      f = f * 10 + static_cast<unsigned>(c - '0');
      scale *= 10;
    }
    unsigned __int128 scaled = f << shift;  // < 10^19 * 2^60 < 2^124
    if (scaled % scale != 0) return bad(text, "not a whole number of bytes");
    total += scaled / scale;
    if (total > UINT64_MAX) return bad(text, "too large");
  }
  return static_cast<uint64_t>(total);
}

std::string format_size(uint64_t bytes) {
  static constexpr std::array<const char*, 7> kUnits = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) return std::to_string(bytes) + " B";
  size_t unit = 0;
  double v = static_cast<double>(bytes);
  while (v >= 1024.0 && unit + 1 < kUnits.size()) {
    v /= 1024.0;
    ++unit;
  }
  // 1023.96 KiB would print as "1024.0 KiB": move to the next unit instead.
  if (v >= 1023.95 && unit + 1 < kUnits.size()) {
    v /= 1024.0;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", v, kUnits[unit]);
  return buf;
}

}  // namespace vblk
