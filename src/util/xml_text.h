#pragma once
// Text for XML documents (the SVG pictures the tools write).
// Thread safety: pure.

#include <string>
#include <string_view>

namespace vblk {

// `s` safe as XML 1.0 character data or a quoted attribute value: & < > " '
// as entities, control characters other than tab and newline (which XML
// 1.0 does not allow) as '?'.
std::string xml_escape(std::string_view s);

}  // namespace vblk
