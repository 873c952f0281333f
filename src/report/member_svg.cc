#include "report/member_svg.h"

#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <utility>

#include "util/xml_text.h"

namespace vblk::report {
namespace {

using State = MemberStatus::State;

constexpr int kButtonW = 112;  // a member, px
constexpr int kButtonH = 16;
constexpr int kRowGap = 2;
constexpr int kColumnGap = 10;
constexpr int kMargin = 16;
constexpr int kHeader = 84;     // title, layout, two verdict lines
constexpr int kBoxHeading = 20;
constexpr int kLegend = 64;

constexpr const char* kGreen = "#43a047";
constexpr const char* kPurple = "#8e44ad";
constexpr const char* kBlue = "#1f6fc5";
constexpr const char* kYellow = "#f4d03f";
constexpr const char* kRed = "#d7191c";
constexpr const char* kOrange = "#f28e2b";
constexpr const char* kOrangeTrack = "#fbe3c2";

char role_letter(ec::Role role) {
  switch (role) {
    case ec::Role::kData:
      return 'D';
    case ec::Role::kLocalParity:
      return 'L';
    case ec::Role::kGlobalParity:
      return 'G';
    case ec::Role::kSpare:
      break;
  }
  return 'S';
}

// Dark text on the light fills, white on the dark ones.
const char* text_fill(const char* fill) {
  return fill == kYellow || fill == kOrangeTrack ? "#000000" : "#ffffff";
}

std::string tooltip(const MemberStatus& m, uint32_t word) {
  std::string t = fmt::format("member {} (box {}, word {}): {}", m.index, m.box, word, ec::to_string(m.role));
  if (m.group != ec::kNoGroup) t += fmt::format(", group {}", m.group);
  return t + fmt::format(", {}; {} bytes, {} errors; first bytes {}", state_text(m), m.bytes, m.errors,
                         first_bytes_text(m));
}

// serves: the role whose colour an online member takes (a spare standing
// for a member takes that member's).
std::string member_svg(const MemberStatus& m, ec::Role serves, uint32_t word, int x, int y) {
  const double fraction = std::clamp(m.rebuild_fraction, 0.0, 1.0);
  const bool rebuilding = m.state == State::kRebuilding;
  const char* fill = member_fill(serves, m.state);
  std::string out = fmt::format(
      "<g class=\"member\" data-index=\"{}\" data-box=\"{}\" data-word=\"{}\" data-role=\"{}\" data-group=\"{}\" "
      "data-state=\"{}\" data-bytes=\"{}\" data-errors=\"{}\" data-first-bytes=\"{}\" data-rebuild=\"{}\">"
      "<title>{}</title>",
      m.index, m.box, word, ec::to_string(m.role), m.group == ec::kNoGroup ? "" : std::to_string(m.group),
      to_string(m.state), m.bytes, m.errors, first_bytes_text(m), rebuilding ? fmt::format("{:.3f}", fraction) : "",
      xml_escape(tooltip(m, word)));
  out += fmt::format("<rect class=\"button\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"2\" fill=\"{}\"/>", x, y,
                     kButtonW, kButtonH, fill);
  std::string label = fmt::format("{} {} {}", m.index, role_letter(m.role), first_bytes_text(m));
  if (rebuilding) {
    out += fmt::format("<rect class=\"progress\" x=\"{}\" y=\"{}\" width=\"{:.1f}\" height=\"{}\" rx=\"2\" fill=\"{}\"/>",
                       x, y, kButtonW * fraction, kButtonH, kOrange);
    label = fmt::format("{} {} {:.0f}%", m.index, role_letter(m.role), fraction * 100);
  }
  out += fmt::format("<text x=\"{}\" y=\"{}\" fill=\"{}\">{}</text></g>\n", x + 4, y + kButtonH - 4, text_fill(fill),
                     xml_escape(label));
  return out;
}

std::string legend_svg(int y) {
  const std::pair<const char*, const char*> keys[] = {
      {kGreen, "data"}, {kPurple, "local parity"}, {kBlue, "global parity"}, {kYellow, "spare"},
      {kRed, "failed"}, {kOrange, "rebuilding (bar: done)"}};
  std::string out = "<g id=\"legend\">\n";
  int x = kMargin;
  for (const auto& [fill, name] : keys) {
    out += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"{}\" stroke=\"#888888\"/>", x, y - 10,
                       fill);
    out += fmt::format("<text x=\"{}\" y=\"{}\">{}</text>\n", x + 16, y, name);
    x += name[0] == 'r' ? 180 : 110;
  }
  out += fmt::format(
      "<text x=\"{}\" y=\"{}\">each member: index, role (D data, L local parity, G global parity, S spare), "
      "first 4 bytes in hex</text>\n",
      kMargin, y + 22);
  return out + "</g>\n";
}

}  // namespace

const char* member_fill(ec::Role role, State state) {
  switch (state) {
    case State::kFailed:
      return kRed;
    case State::kRebuilding:
      return kOrangeTrack;
    case State::kSpare:
      return kYellow;
    case State::kOnline:
      break;
  }
  switch (role) {
    case ec::Role::kData:
      return kGreen;
    case ec::Role::kLocalParity:
      return kPurple;
    case ec::Role::kGlobalParity:
      return kBlue;
    case ec::Role::kSpare:
      break;
  }
  return kYellow;
}

std::string render_members_svg(const MemberReport& r, const MemberSvgOptions& opt) {
  const ec::Layout& l = r.layout;
  size_t rows = 0;
  for (uint32_t b = 0; b < l.boxes(); ++b) rows = std::max(rows, l.box_members(b).size());
  const int columns_w = static_cast<int>(l.boxes()) * (kButtonW + kColumnGap) - kColumnGap;
  const int width = std::max(columns_w, 760) + 2 * kMargin;
  const int top = kMargin + kHeader;
  const int height = top + kBoxHeading + static_cast<int>(rows) * (kButtonH + kRowGap) + kLegend + kMargin;
  const char* verdict_fill = r.verdict.recoverable ? "#1b7a2e" : kRed;

  std::string out = svg_begin(width, height, "vblk members: " + opt.title, opt.title, kMargin);
  out += fmt::format("<text x=\"{}\" y=\"{}\">{}</text>\n", kMargin, kMargin + 32, xml_escape(l.describe()));
  out += fmt::format("<text id=\"verdict\" x=\"{}\" y=\"{}\" fill=\"{}\" font-weight=\"bold\" data-recoverable=\"{}\">{}</text>\n",
                     kMargin, kMargin + 52, verdict_fill, r.verdict.recoverable, xml_escape(verdict_headline(r.verdict)));
  out += fmt::format("<text x=\"{}\" y=\"{}\">{}</text>\n", kMargin, kMargin + 70,
                     xml_escape(tolerance_line(r.verdict)));

  out += "<g id=\"boxes\" font-family=\"monospace\" font-size=\"10\">\n";
  for (uint32_t b = 0; b < l.boxes(); ++b) {
    const int x = kMargin + static_cast<int>(b) * (kButtonW + kColumnGap);
    const bool down = std::binary_search(r.verdict.boxes_down.begin(), r.verdict.boxes_down.end(), b);
    out += fmt::format(
        "<g class=\"box\" data-box=\"{}\" data-down=\"{}\"><text x=\"{}\" y=\"{}\" font-family=\"sans-serif\" "
        "font-size=\"12\" font-weight=\"bold\" fill=\"{}\">box {}{}</text>\n",
        b, down, x, top + 12, down ? kRed : "#000000", b, down ? " down" : "");
    int y = top + kBoxHeading;
    for (uint32_t m : l.box_members(b)) {
      const MemberStatus& s = r.members[m];
      out += member_svg(s, s.stands_for ? l.member(*s.stands_for).role : s.role, l.member(m).word, x, y);
      y += kButtonH + kRowGap;
    }
    out += "</g>\n";
  }
  out += "</g>\n";
  out += legend_svg(top + kBoxHeading + static_cast<int>(rows) * (kButtonH + kRowGap) + 24);
  return out + "</svg>\n";
}

}  // namespace vblk::report
