#pragma once
// The JSON documents the tools print with --json. Each is one object whose
// first key is "schema": "vblk-COMMAND/N" (vblkfs: "vblkfs-umount/N"), the
// command and the version of its document's layout. Within a version keys
// are only added; renaming or removing one bumps N. Every document is
// described in its command's man page, section JSON OUTPUT.
// Thread safety: writes to stdout; call from one thread.

#include <string_view>

#include "util/json.h"

namespace vblk::cli {

inline constexpr std::string_view kFormatSchema = "vblk-format/1";
inline constexpr std::string_view kInspectSchema = "vblk-inspect/1";
inline constexpr std::string_view kInjectSchema = "vblk-inject/1";
inline constexpr std::string_view kExportSchema = "vblk-export/1";
inline constexpr std::string_view kRebuildSchema = "vblk-rebuild/1";
inline constexpr std::string_view kUmountSchema = "vblkfs-umount/1";

// An object holding only "schema": the start of every document.
Json json_document(std::string_view schema);

// json_document(schema) followed by the members of `body` (an object from
// elsewhere, such as a daemon's statistics) in their order; a "schema"
// member of `body` is left out, so the tool's stays first.
Json json_document(std::string_view schema, const Json& body);

// Appends the members of the object `from` to `to`, in their order; a
// member "schema" is left out. A key `to` has already keeps its place and
// takes the new value.
void json_append(Json& to, const Json& from);

// Prints `j` indented, and a newline, on standard output.
void print_json(const Json& j);

}  // namespace vblk::cli
