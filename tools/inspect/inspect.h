#pragma once
// The parts of vblk-inspect (tools/vblk_inspect.cc), one job a file: the
// image view (image_view.cc), one block (block_view.cc), --check and
// --repair, offline and live (check_report.cc), --svg (svg_view.cc) and
// the live view of a served image (live_view.cc). Each prints its report
// (text or --json) on stdout and returns the exit status; failures print
// one line on stderr: "vblk-inspect: FILE: cause".
// Thread safety: none; the tool's one thread.

#include <cstdint>
#include <span>
#include <vector>
#include <string>

#include "cli/progress.h"
#include "cli/state_map.h"
#include "cli/svg.h"
#include "inject/offline.h"
#include "report/block_map.h"
#include "report/member_status.h"
#include "store/member_backend.h"
#include "util/json.h"
#include "vblk/image_store.h"

namespace vblk::cli::inspect {

inline constexpr const char* kProg = "vblk-inspect";

struct Args {
  std::string image;
  bool json = false;
  bool check = false;
  bool no_map = false;
  bool has_block = false;
  bool repair = false;
  uint64_t block = 0;
  bool watch = false;
  std::string svg;       // write the block map (with --members: the members) as SVG here
  bool members = false;  // --members
  bool has_member = false;
  uint32_t member = 0;   // --member N
  uint64_t offset = 0;   // --offset X
  uint64_t length = 256; // --length L
  OutputOptions output;  // -p, -q: with --check
};

// Prints "vblk-inspect: FILE: cause" and returns 1.
int fail(const std::string& file, const std::string& cause);
// "block N: msg", unless msg already starts by naming block N.
std::string about_block(uint64_t n, const std::string& msg);
// "8.0 GiB, 2097152 blocks of 4096 bytes".
std::string capacity_line(uint64_t block_count, uint64_t block_size);
// The "map" object of the --json views: the text map's grid.
Json map_json(const StateMap& map);
// What frees a live target's image for the options that open it.
std::string release_first(const std::string& target);

// The default view of an image: header, counts, sizes, BAD ranges, fault
// rules and the state map.
int show_image(inject::OfflineImage& image, const Args& a);
// --block N: its state, where it is stored, a hex dump.
int show_block(ImageStore& store, const Args& a);
// --check on an image.
int run_check(ImageStore& store, const Args& a);
// --check's part on a member set: every stripe row's parity against its
// data, a problem in *report for each parity chunk that differs; rewrite
// (--repair): written again from the data instead, each said in *rewritten.
Status check_member_parity(const std::string& image, bool rewrite, CheckReport* report,
                           std::vector<std::string>* rewritten);
// --check --repair: opens the image itself, exclusively.
int run_repair(const Args& a);
// --check on a live target: a scrub by the server.
int run_live_check(const Args& a);
// --svg on an image.
int write_image_svg(ImageStore& store, const Args& a);
// Writes `map` as SVG to a.svg and says so.
int write_svg(const report::BlockMap& map, const SvgOptions& so, const Args& a);
// svg written to `path`, which stays locked while it is written (an image
// in use is never overwritten): 0, or fail()'s exit code naming the file.
int write_svg_file(const std::string& path, const std::string& svg);
// --members on an image: the member table and the verdict (text, --json,
// --svg).
int show_members(const Args& a);
// --members on a live target: the daemon's view (user.vblk.members), so
// the states are those it uses now.
int show_live_members(const Args& a);
// --member N --offset X [--length L]: a hex dump of member N's file.
int show_member_bytes(const Args& a);
// The report of `layout`'s members from the backend's (or daemon's) view.
std::vector<report::MemberStatus> member_statuses(const ec::Layout& layout,
                                                  const std::vector<store::MemberBackend::MemberInfo>& info);
// Prints the report of these statuses as --members asks; title names the
// image or mountpoint.
int print_members(const ec::Layout& layout, std::span<const report::MemberStatus> statuses, const std::string& title,
                  const Args& a);
// A live target: the server's statistics, faults and map (and --svg).
int run_live(const Args& a);

}  // namespace vblk::cli::inspect
