#pragma once
// --help text for people: wrapped at 80 columns, and a subcommand's usage
// line names the positionals its parent takes before it
// ("Usage: vblk-inject TARGET bad [OPTIONS]", not "vblk-inject bad").
#include <CLI/CLI.hpp>

#include <string>

namespace vblk::cli {

inline constexpr size_t kHelpWidth = 80;

// Gives app and every subcommand it has so far the vblk help formatter.
void use_help_format(CLI::App& app);

// text wrapped at `width` columns, each line after the first indented by
// `indent` spaces; the text's own line breaks are kept.
std::string wrap_text(const std::string& text, size_t width, size_t first_column, size_t indent);

}  // namespace vblk::cli
