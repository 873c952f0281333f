#pragma once
// Text for XML documents: the SVG pictures the tools write.
// Thread safety: pure.

#include <string>
#include <string_view>

namespace vblk {

// `s` safe as XML 1.0 character data or a quoted attribute value: & < > " '
// as entities, control characters other than tab and newline (which XML
// 1.0 does not allow) as '?'.
std::string xml_escape(std::string_view s);

// The start of a standalone SVG picture, as the tools draw them: the XML
// declaration, the <svg> element (width x height px, sans-serif 12), a
// <title> `tooltip`, a white background and `heading` in bold at the top
// left, `margin` px in. The caller closes it with "</svg>\n".
std::string svg_begin(int width, int height, std::string_view tooltip, std::string_view heading, int margin);

}  // namespace vblk
