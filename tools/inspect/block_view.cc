// vblk-inspect IMAGE --block N: one block's state, the record that stores
// it and a hex dump of its data, as text or --json.
#include <cstdio>
#include <cstring>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/json_output.h"
#include "cli/report.h"
#include "inspect/inspect.h"

namespace vblk::cli::inspect {
namespace {

std::string hex(const uint8_t* p, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (size_t i = 0; i < n; ++i) {
    out += kDigits[p[i] >> 4];
    out += kDigits[p[i] & 15];
  }
  return out;
}

// xxd-style dump, 16 bytes a line; a run of lines equal to the one before
// is shown as a single '*' (as hexdump does), and the end offset closes it.
std::string hex_dump(const std::vector<uint8_t>& data) {
  std::string out;
  char line[96];
  bool starred = false;
  for (size_t off = 0; off < data.size(); off += 16) {
    size_t n = std::min<size_t>(16, data.size() - off);
    if (off >= 16 && n == 16 && std::memcmp(&data[off], &data[off - 16], 16) == 0) {
      if (!starred) out += "*\n";
      starred = true;
      continue;
    }
    starred = false;
    int len = std::snprintf(line, sizeof line, "%08zx: ", off);
    std::string text(line, static_cast<size_t>(len));
    for (size_t i = 0; i < 16; ++i) {
      if (i < n) {
        std::snprintf(line, sizeof line, "%02x", data[off + i]);
        text += line;
      } else {
        text += "  ";
      }
      if (i % 2 == 1) text += ' ';
    }
    text += ' ';
    for (size_t i = 0; i < n; ++i) {
      uint8_t c = data[off + i];
      text += (c >= 0x20 && c < 0x7F) ? static_cast<char>(c) : '.';
    }
    out += text + "\n";
  }
  std::snprintf(line, sizeof line, "%08zx\n", data.size());
  return out + line;
}

void print_block_json(uint64_t n, const BlockLocation& l, const std::vector<uint8_t>& data,
                      const std::string& data_error) {
  Json j = json_document(kInspectSchema);
  j["block"] = n;
  j["state"] = std::string(to_string(l.state));
  j["zero"] = l.zero;
  j["record_offset"] = l.record_offset != 0 ? Json(l.record_offset) : Json(nullptr);
  j["record_length"] = l.record_length;
  j["record_first_block"] = l.record_first_block;
  j["record_blocks"] = l.record_blocks;
  j["index_in_record"] = l.index_in_record;
  j["compressed"] = l.compressed;
  j["provisional"] = l.provisional;
  j["units"] = !l.unit_table ? Json(nullptr) : Json(l.independent_units ? "independent" : "chained");
  j["stored_payload"] = l.stored_payload;
  j["data_hex"] = data.empty() ? Json(nullptr) : Json(hex(data.data(), data.size()));
  if (!data_error.empty()) j["data_error"] = data_error;
  print_json(j);
}

void print_block_text(uint64_t n, uint64_t block_count, const BlockLocation& l, const std::vector<uint8_t>& data,
                      const std::string& data_error) {
  std::printf("block:        %llu of %llu\n", static_cast<unsigned long long>(n),
              static_cast<unsigned long long>(block_count));
  std::printf("state:        %s\n", std::string(to_string(l.state)).c_str());
  std::printf("zero:         %s\n", l.zero ? "yes (stored without payload)" : "no");
  if (l.record_offset != 0) {
    std::printf("record:       offset %llu (0x%llx), %u bytes, blocks %llu..%llu, this is #%u\n",
                static_cast<unsigned long long>(l.record_offset), static_cast<unsigned long long>(l.record_offset),
                l.record_length, static_cast<unsigned long long>(l.record_first_block),
                static_cast<unsigned long long>(l.record_first_block + (l.record_blocks ? l.record_blocks - 1 : 0)),
                l.index_in_record);
    const char* units = !l.unit_table ? "" : l.independent_units ? ", independent units" : ", chained units";
    std::printf("payload:      %u bytes, %s%s%s\n", l.stored_payload, l.compressed ? "zstd-compressed" : "raw", units,
                l.provisional ? " (provisional: awaits recompression at the image's level)" : "");
  } else {
    std::printf("record:       none\n");
  }
  if (!data_error.empty()) {
    std::printf("data:         unreadable: %s\n", data_error.c_str());
  } else {
    std::printf("data:\n%s", hex_dump(data).c_str());
  }
}

}  // namespace

int show_block(ImageStore& store, const Args& a) {
  const uint64_t n = a.block;
  if (n >= store.block_count()) {
    return fail(a.image, "block " + std::to_string(n) + " is beyond the end of the image (" +
                             std::to_string(store.block_count()) + " blocks)");
  }
  auto loc = store.locate(n);
  if (!loc) return fail(a.image, about_block(n, error_cause(loc.status(), a.image)));
  const BlockLocation& l = loc.value();

  std::vector<uint8_t> data;
  std::string data_error;
  if (l.state == BlockState::kBad) {
    data_error = "block is BAD: reads fail";
  } else {
    data.resize(store.block_size());
    Status s = store.read_blocks(n, 1, data);
    if (!s) {
      data.clear();
      data_error = error_cause(s, a.image);
    }
  }
  if (a.json) {
    print_block_json(n, l, data, data_error);
  } else {
    print_block_text(n, store.block_count(), l, data, data_error);
  }
  if (!data_error.empty() && l.state != BlockState::kBad) return fail(a.image, about_block(n, data_error));
  return 0;
}

}  // namespace vblk::cli::inspect
