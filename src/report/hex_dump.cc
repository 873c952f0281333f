#include "report/hex_dump.h"

#include <cinttypes>
#include <cstdio>
#include <cstring>

namespace vblk::report {
namespace {

constexpr size_t kLine = 16;

std::string offset_text(uint64_t offset) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%08" PRIx64, offset);
  return buf;
}

std::string dump_line(std::span<const uint8_t> line, uint64_t offset) {
  std::string text = offset_text(offset) + ": ";
  for (size_t i = 0; i < kLine; ++i) {
    text += i < line.size() ? hex_string(line.subspan(i, 1)) : "  ";
    if (i % 2 == 1) text += ' ';
  }
  text += ' ';
  for (uint8_t c : line) text += (c >= 0x20 && c < 0x7F) ? static_cast<char>(c) : '.';
  return text + "\n";
}

}  // namespace

std::string hex_dump(std::span<const uint8_t> bytes, uint64_t offset, const HexDumpOptions& options) {
  std::string out;
  bool starred = false;
  for (size_t at = 0; at < bytes.size(); at += kLine) {
    const std::span<const uint8_t> line = bytes.subspan(at, std::min(kLine, bytes.size() - at));
    if (options.squeeze && at >= kLine && line.size() == kLine &&
        std::memcmp(line.data(), line.data() - kLine, kLine) == 0) {
      if (!starred) out += "*\n";
      starred = true;
      continue;
    }
    starred = false;
    out += dump_line(line, offset + at);
  }
  if (options.end_offset) out += offset_text(offset + bytes.size()) + "\n";
  return out;
}

std::string hex_string(std::span<const uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * bytes.size());
  for (uint8_t b : bytes) {
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

}  // namespace vblk::report
