// vblk-inspect --members (the member table and the verdict, as text, JSON
// or --svg) and --member N --offset X (a hex dump of a member file), on a
// member-set image (vblk(5), MEMBER SETS).
#include <cstdio>

#include <nlohmann/json.hpp>

#include "cli/json_output.h"
#include "cli/live.h"
#include "cli/report.h"
#include "inspect/inspect.h"
#include "report/hex_dump.h"
#include "report/member_report.h"
#include "report/member_svg.h"
#include "store/member_set_open.h"

namespace vblk::cli::inspect {
namespace {

Result<std::unique_ptr<store::MemberBackend>> open_members(const Args& a) {
  return store::open_member_set_path(a.image, /*read_only=*/true);
}

int open_failed(const Status& s, const Args& a) {
  return fail(a.image, busy_cause(s, a.image, "inspect the mountpoint"));
}

// The SVG to a.svg, or stdout for "-".
int write_members_svg(const report::MemberReport& r, const std::string& title, const Args& a) {
  report::MemberSvgOptions so;
  so.title = title;
  const std::string svg = report::render_members_svg(r, so);
  if (a.svg == "-") {
    std::fwrite(svg.data(), 1, svg.size(), stdout);
    return 0;
  }
  if (int rc = write_svg_file(a.svg, svg)) return rc;
  if (a.json) {
    Json j = json_document(kInspectSchema);
    j["svg"] = a.svg;
    j["members"] = r.members.size();
    print_json(j);
  } else {
    std::printf("wrote %s: %zu members\n", a.svg.c_str(), r.members.size());
  }
  return 0;
}

// "deadbeef" back to bytes; false for anything else or another length.
bool from_hex(const std::string& hex, std::span<uint8_t> out) {
  if (hex.size() != out.size() * 2) return false;
  for (size_t i = 0; i < out.size(); ++i) {
    unsigned v = 0;
    if (std::sscanf(hex.c_str() + 2 * i, "%2x", &v) != 1) return false;
    out[i] = static_cast<uint8_t>(v);
  }
  return true;
}

// The daemon's user.vblk.members (live/control.h) as the report's statuses.
Result<std::pair<ec::Layout, std::vector<report::MemberStatus>>> parse_live_members(const std::string& text) {
  const Status bad = Status::corruption("unreadable user.vblk.members");
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j["layout"].is_string() || !j["members"].is_array()) return bad;
  std::array<uint8_t, format::kLayoutBytes> record{};
  if (!from_hex(j["layout"].get<std::string>(), record)) return bad;
  auto layout = ec::decode_layout(record);
  if (!layout) return layout.status().with_prefix("user.vblk.members");
  std::vector<report::MemberStatus> statuses = report::layout_members(*layout);
  if (j["members"].size() != statuses.size()) return bad;
  for (size_t m = 0; m < statuses.size(); ++m) {
    const Json& e = j["members"][m];
    if (!e["state_code"].is_number_unsigned() || !e["bytes"].is_number_unsigned() ||
        !e["errors"].is_number_unsigned() || !e["first_bytes"].is_string() ||
        !from_hex(e["first_bytes"].get<std::string>(), statuses[m].first_bytes))
      return bad;
    // stands_for: absent from a daemon that predates it.
    const uint32_t stands_for =
        e["stands_for"].is_number_unsigned() ? e["stands_for"].get<uint32_t>() : format::kNoMember;
    report::set_table_state(statuses[m], static_cast<format::MemberState>(e["state_code"].get<uint8_t>()),
                            stands_for);
    statuses[m].bytes = e["bytes"].get<uint64_t>();
    statuses[m].errors = e["errors"].get<uint64_t>();
  }
  return std::make_pair(std::move(*layout), std::move(statuses));
}

}  // namespace

int show_live_members(const Args& a) {
  auto text = read_xattr(a.image, "user.vblk.members");
  if (!text) {
    // A live target without the attribute (is_live_target said it is one).
    if (text.status().message().find("(no user.vblk.members)") != std::string::npos)
      return fail(a.image, "not a member set (it has no member files), or a daemon too old to report its members");
    return fail(a.image, error_cause(text.status(), a.image));
  }
  auto parsed = parse_live_members(*text);
  if (!parsed) return fail(a.image, error_cause(parsed.status(), a.image));
  return print_members(parsed->first, parsed->second, a.image, a);
}

std::vector<report::MemberStatus> member_statuses(const ec::Layout& layout,
                                                  const std::vector<store::MemberBackend::MemberInfo>& info) {
  std::vector<report::MemberStatus> out = report::layout_members(layout);
  for (size_t m = 0; m < out.size() && m < info.size(); ++m) {
    report::set_table_state(out[m], info[m].entry.state, info[m].entry.stands_for);
    out[m].bytes = info[m].bytes;
    out[m].errors = info[m].entry.errors;
    out[m].first_bytes = info[m].first_bytes;
  }
  return out;
}

int print_members(const ec::Layout& layout, std::span<const report::MemberStatus> statuses, const std::string& title,
                  const Args& a) {
  auto r = report::build_member_report(layout, statuses);
  if (!r) return fail(a.image, error_cause(r.status(), a.image));
  if (!a.svg.empty()) return write_members_svg(*r, title, a);
  if (a.json) {
    Json j = json_document(kInspectSchema, report::members_json(*r));
    j["image"] = title;
    print_json(j);
  } else {
    std::fputs(report::members_text(*r).c_str(), stdout);
  }
  return 0;
}

int show_members(const Args& a) {
  auto backend = open_members(a);
  if (!backend) return open_failed(backend.status(), a);
  const auto statuses = member_statuses((*backend)->layout(), (*backend)->member_info());
  return print_members((*backend)->layout(), statuses, a.image, a);
}

int show_member_bytes(const Args& a) {
  auto backend = open_members(a);
  if (!backend) return open_failed(backend.status(), a);
  std::vector<uint8_t> bytes(a.length);
  auto n = (*backend)->read_member_file(a.member, a.offset, bytes);
  if (!n) return fail(a.image, error_cause(n.status(), a.image));
  bytes.resize(*n);
  const std::string file = (*backend)->member_info()[a.member].entry.name;
  if (a.json) {
    Json j = json_document(kInspectSchema);
    j["member"] = a.member;
    j["file"] = file;
    j["offset"] = a.offset;
    j["length"] = bytes.size();
    j["hex"] = report::hex_string(bytes);
    print_json(j);
    return 0;
  }
  std::printf("member %u (%s), offset %llu, %zu bytes%s\n", a.member, file.c_str(),
              static_cast<unsigned long long>(a.offset), bytes.size(),
              bytes.size() < a.length ? " (the file ends there)" : "");
  report::HexDumpOptions ho;
  ho.squeeze = true;
  std::fputs(report::hex_dump(bytes, a.offset, ho).c_str(), stdout);
  return 0;
}

}  // namespace vblk::cli::inspect
