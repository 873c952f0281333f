#include "cli/command_line.h"

#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <algorithm>
#include <exception>
#include <new>
#include <regex>
#include <string>
#include <vector>

#include "cli/help_format.h"
#include "cli/report.h"

namespace vblk::cli {
namespace {

// The names of app's subcommands, as "a, b or c".
std::string subcommand_list(CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) names.push_back(sub->get_name());
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) out += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
  return out;
}

// The innermost (sub)command that was parsed: where a missing subcommand
// or a stray word belongs.
CLI::App& innermost(CLI::App& app) {
  for (CLI::App* sub : app.get_subcommands()) return innermost(*sub);
  return app;
}

bool is_number(const std::string& s) {
  if (s.empty()) return false;
  char* end = nullptr;
  std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size();
}

// A bound CLI11 prints as a double: whole numbers without ".000000".
std::string bound(const std::string& s) {
  const double v = std::strtod(s.c_str(), nullptr);
  if (v == static_cast<double>(static_cast<long long>(v))) return std::to_string(static_cast<long long>(v));
  return s;
}

// For an unknown short option -x whose other case -X exists: the hint
// "did you mean -X (--long)?". Short options mean one thing in every vblk
// tool (-F is --force as in mkfs, -f --foreground as in FUSE daemons, -B
// --block, -b --block-size), so a user coming from another tool may reach
// for the wrong case.
std::string other_case_hint(CLI::App& app, const std::string& word) {
  if (word.size() != 2 || word[0] != '-' || !std::isalpha(static_cast<unsigned char>(word[1]))) return "";
  const char c = word[1];
  const std::string other = std::string("-") + static_cast<char>(std::islower(c) ? std::toupper(c) : std::tolower(c));
  for (CLI::App* at = &innermost(app); at != nullptr; at = at->get_parent()) {
    const CLI::Option* opt = at->get_option_no_throw(other);
    if (opt == nullptr) continue;
    const std::vector<std::string>& longs = opt->get_lnames();
    return " (did you mean " + other + (longs.empty() ? "" : ", --" + longs.front()) + "?)";
  }
  return "";
}

// CLI11's error in words for people.
std::string explain_parse_error(CLI::App& app, const CLI::ParseError& e, std::string_view subcommand_noun) {
  const std::string what = e.what();
  std::smatch m;
  if (what == "A subcommand is required") {
    CLI::App& at = innermost(app);
    const std::vector<std::string> rest = at.remaining();
    for (const std::string& word : rest)
      if (!word.empty() && word[0] != '-')
        return "unknown " + std::string(subcommand_noun) + " '" + word + "' (" + subcommand_list(at) + ")";
    return "no " + std::string(subcommand_noun) + " given: " + subcommand_list(at);
  }
  if (std::regex_match(what, m, std::regex("Could not convert: (\\S+) = (.*)")))
    return m[1].str() + ": '" + m[2].str() + "' is not a number";
  if (std::regex_match(what, m, std::regex("The following arguments? (?:was|were) not expected: (.*)"))) {
    // An unknown option explains the words after it, which were meant as
    // its value: name it first.
    std::vector<std::string> words;
    const std::string list = m[1].str();
    for (size_t at = 0; at < list.size();) {
      const size_t end = std::min(list.find(' ', at), list.size());
      if (end > at) words.push_back(list.substr(at, end - at));
      at = end + 1;
    }
    for (const std::string& word : words)
      if (word.size() > 1 && word[0] == '-' && !is_number(word)) return "unknown option " + word + other_case_hint(app, word);
    return "unexpected argument '" + (words.empty() ? list : words.front()) + "'";
  }
  if (std::regex_match(what, m, std::regex("(\\S+): At Most \\d+ required but received \\d+")))
    return m[1].str() + ": given more than once";
  if (std::regex_match(what, m, std::regex("(\\S+): \\d+ required (\\S+) missing")))
    return m[1].str() + " needs a value (" + m[2].str() + ")";
  if (std::regex_match(what, m, std::regex("(\\S+): Value (.*) not in range (\\S+) to (\\S+)"))) {
    const std::string value = m[2].str();
    if (!is_number(value)) return m[1].str() + ": '" + value + "' is not a number";
    if (std::strtod(m[4].str().c_str(), nullptr) > 1e15) return m[1].str() + ": " + value + " is below " + bound(m[3].str());
    return m[1].str() + ": " + value + " is outside " + bound(m[3].str()) + ".." + bound(m[4].str());
  }
  if (std::regex_match(what, m, std::regex("(\\S+): (.*) not in \\{(.*)\\}"))) {
    std::string choices = m[3].str();
    for (size_t at = 0; (at = choices.find(',', at)) != std::string::npos; at += 2) choices.replace(at, 1, ", ");
    return m[1].str() + ": '" + m[2].str() + "' is not one of " + choices;
  }
  return what;  // the rest reads well as it is ("IMAGE is required", "--check excludes --block", ...)
}

}  // namespace

std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv, std::string_view prog,
                                      std::string_view subcommand_noun) {
  use_help_format(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help, --version
  } catch (const CLI::ParseError& e) {
    report_error(prog, "", explain_parse_error(app, e, subcommand_noun) + " (see --help)");
    return kExitUsage;
  }
  return std::nullopt;
}

CLI::Validator whole_number_in(uint64_t lo, uint64_t hi) {
  return CLI::Validator(
      [lo, hi](std::string& text) -> std::string {
        if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos)
          return "'" + text + "' is not a whole number";
        errno = 0;
        const unsigned long long v = std::strtoull(text.c_str(), nullptr, 10);
        if (errno == ERANGE || v < lo || v > hi)
          return text + " is outside " + std::to_string(lo) + ".." + std::to_string(hi);
        return "";
      },
      "", "");
}

CLI::Validator one_of(std::vector<std::string> choices) {
  return CLI::Validator(
      [choices](std::string& text) -> std::string {
        std::string list;
        for (const std::string& c : choices) {
          if (text == c) return "";
          list += (list.empty() ? "" : ", ") + c;
        }
        return "'" + text + "' is not one of " + list;
      },
      "", "");
}

int report_current_exception(std::string_view prog) {
  try {
    throw;
  } catch (const std::bad_alloc&) {
    report_error(prog, "", "out of memory");
  } catch (const std::exception& e) {
    report_error(prog, "", e.what());
  } catch (...) {
    report_error(prog, "", "unknown error");
  }
  return kExitError;
}

}  // namespace vblk::cli
