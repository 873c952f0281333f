#pragma once
// The parts of every tool's main() that are the same: parsing with CLI11
// into one-line errors, and turning an escaped exception into an exit code.
#include <CLI/CLI.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vblk::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;

// Parses argv. Returns nullopt to carry on, or the exit code to return now:
// 0 after --help / --version, kExitUsage after a one-line error on stderr.
// subcommand_noun names app's subcommands in errors ("action" for
// vblk-inject's). CLI11's errors are put in words for people: "--level:
// 'abc' is not a number" instead of "Could not convert: --level = abc".
std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv, std::string_view prog,
                                      std::string_view subcommand_noun = "command");

// Call from `catch (...)` in main(): reports the exception in one line
// ("out of memory" for std::bad_alloc) and returns kExitError.
int report_current_exception(std::string_view prog);

// A whole number from lo to hi. Unlike CLI11's Range and NonNegativeNumber
// it adds nothing to the option's metavar in --help ("N", not
// "UINT:INT in [1 - 256]"), and "-1" is refused, not wrapped around.
CLI::Validator whole_number_in(uint64_t lo, uint64_t hi);

// One of `choices`; likewise leaves the metavar alone (CLI::IsMember makes
// it "TEXT:{fail,remap}"): give the option a type_name such as "fail|remap".
CLI::Validator one_of(std::vector<std::string> choices);

}  // namespace vblk::cli
