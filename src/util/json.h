#pragma once
// JSON for the tools' --json output and the daemon's live control
// interface, on nlohmann::ordered_json: members keep the order they were
// set in, which is the order users see. This header only declares; the
// .cc files that build or read documents include <nlohmann/json.hpp>.
//
// Writing: build a Json and print dump_json(j); set doubles through
// json_number so they print as vblk has always printed them.
// Reading a document from outside the process (an extended attribute, a
// control socket reply): parse_json, then the json_* readers. None of
// them throws: nlohmann's own accessors throw on a missing key or a value
// of another type, and its const operator[] asserts.
// Thread safety: none beyond that of the Json values themselves.
//
// Example:
//   Json j;
//   j["path"] = path;
//   j["ratio"] = json_number(ratio);
//   std::cout << dump_json(j) << '\n';

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>
#include <string_view>

#include "vblk/status.h"

namespace vblk {

using Json = nlohmann::ordered_json;

// `j` indented two spaces per level; bytes that are not valid UTF-8 (the
// label of a damaged image can hold anything) become U+FFFD, so the output
// always parses.
std::string dump_json(const Json& j);
// The same on one line: for documents that must fit one extended attribute.
std::string dump_json_compact(const Json& j);

// `d` as vblk prints a double: rounded to six significant digits (printf's
// %.6g), an integer when that has no fraction or exponent ("2", "0.25",
// 1234567 as 1234570.0); null when not finite.
Json json_number(double d);

// Parses one JSON document (RFC 8259, nesting up to 64 levels). Failure:
// InvalidArgument "JSON: " and nlohmann's description of the first error.
Result<Json> parse_json(std::string_view text);

// Member `path` of `j`, keys separated by '/' ("ops/reads"), or null when
// a key is missing or a value on the way is not an object.
const Json& json_at(const Json& j, std::string_view path);
// The number rounded toward zero; `fallback` for anything that is not a
// number in [0, 2^64).
uint64_t json_u64(const Json& j, uint64_t fallback = 0);
double json_double(const Json& j, double fallback = 0);
bool json_bool(const Json& j, bool fallback = false);
// Empty unless a string.
const std::string& json_string(const Json& j);
// `j` if it is an array, else an empty one (nlohmann iterates over a
// scalar as over an array holding it).
const Json& json_items(const Json& j);

}  // namespace vblk
