// vblk-inspect IMAGE --block N: one block's state, the record that stores
// it and a hex dump of its data, as text or --json.
#include <cstdio>
#include <cstring>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/json_output.h"
#include "cli/report.h"
#include "inspect/inspect.h"
#include "report/hex_dump.h"

namespace vblk::cli::inspect {
namespace {

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
  j["data_hex"] = data.empty() ? Json(nullptr) : Json(report::hex_string(data));
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
    std::printf("data:\n%s", report::hex_dump(data, 0, {.squeeze = true, .end_offset = true}).c_str());
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
