#include "cli/help_format.h"

#include <memory>
#include <sstream>

namespace vblk::cli {
namespace {

// The left column's width (CLI11's default), where descriptions start.
constexpr size_t kColumn = 30;

// "  NAME          description", the description wrapped; a name too long
// for the column gets a line of its own.
std::string two_columns(const std::string& name, const std::string& desc) {
  std::string out = "  " + name;
  if (desc.empty()) return out + "\n";
  if (out.size() + 1 > kColumn) {
    out += "\n" + std::string(kColumn, ' ');
  } else {
    out.append(kColumn - out.size(), ' ');
  }
  return out + wrap_text(desc, kHelpWidth, kColumn, kColumn) + "\n";
}

class HelpFormatter : public CLI::Formatter {
 public:
  std::string make_option(const CLI::Option* opt, bool is_positional) const override {
    return two_columns(make_option_name(opt, is_positional) + make_option_opts(opt), make_option_desc(opt));
  }
  std::string make_subcommand(const CLI::App* sub) const override {
    std::string name = sub->get_display_name(true);
    return two_columns(name, sub->get_description());
  }
  std::string make_description(const CLI::App* app) const override {
    const std::string desc = app->get_description();
    return desc.empty() ? std::string() : wrap_text(desc, kHelpWidth, 0, 0) + "\n";
  }
  std::string make_footer(const CLI::App* app) const override {
    const std::string footer = app->get_footer();
    return footer.empty() ? std::string() : wrap_text(footer, kHelpWidth, 0, 0) + "\n";
  }
  std::string make_usage(const CLI::App* app, std::string name) const override {
    std::string usage = CLI::Formatter::make_usage(app, name);
    const CLI::App* parent = app->get_parent();
    if (parent == nullptr) return usage;
    // "Usage: PROG SUB" becomes "Usage: PROG POSITIONALS SUB".
    std::string before;
    for (const CLI::Option* opt : parent->get_options([](const CLI::Option* o) { return o->get_positional(); }))
      before += " " + opt->get_name();
    const std::string head = "Usage: " + parent->get_name();
    if (before.empty() || usage.rfind(head, 0) != 0) return usage;
    return head + before + usage.substr(head.size());
  }
};

}  // namespace

std::string wrap_text(const std::string& text, size_t width, size_t first_column, size_t indent) {
  std::string out;
  std::istringstream lines(text);
  std::string line;
  size_t column = first_column;
  bool first_line = true;
  while (std::getline(lines, line)) {
    if (!first_line) {
      out += "\n" + std::string(indent, ' ');
      column = indent;
    }
    first_line = false;
    std::istringstream words(line);
    std::string word;
    bool line_start = true;
    while (words >> word) {
      if (!line_start && column + 1 + word.size() > width) {
        out += "\n" + std::string(indent, ' ');
        column = indent;
        line_start = true;
      }
      if (!line_start) {
        out += ' ';
        ++column;
      }
      out += word;
      column += word.size();
      line_start = false;
    }
  }
  return out;
}

void use_help_format(CLI::App& app) {
  app.formatter(std::make_shared<HelpFormatter>());
  for (CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) use_help_format(*sub);
}

}  // namespace vblk::cli
