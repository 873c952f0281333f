#include "ec/layout.h"

#include <algorithm>
#include <string>

#include "format/format.h"

namespace vblk::ec {

namespace {

std::string num(uint64_t v) { return std::to_string(v); }

Status bad(const char* option, uint32_t value, const std::string& why) {
  return Status::invalid_argument(std::string(option) + " " + num(value) + ": " + why);
}

// Each option on its own, then the counts they make together.
Status check_counts(const LayoutOptions& o) {
  if (o.data_members < 1) return bad("--data-members", o.data_members, "must be at least 1");
  if (o.data_members > kMaxDataMembers)
    return bad("--data-members", o.data_members,
               "at most " + num(kMaxDataMembers) + " (the global parity's GF(2^8) has that many distinct points)");
  if (o.group_size < 1) return bad("--group-size", o.group_size, "must be at least 1");
  if (o.group_size > o.data_members)
    return bad("--group-size", o.group_size, "larger than --data-members " + num(o.data_members));
  if (o.global_parity > kMaxGlobalParity)
    return bad("--global-parity", o.global_parity, "at most " + num(kMaxGlobalParity));
  if (o.boxes < 1) return bad("--boxes", o.boxes, "must be at least 1");
  if (o.spares > kMaxMembers) return bad("--spares", o.spares, "more than " + num(kMaxMembers) + " members");
  if (o.boxes > kMaxMembers) return bad("--boxes", o.boxes, "more than " + num(kMaxMembers) + " members");
  const uint64_t groups = (o.data_members + o.group_size - 1) / o.group_size;
  const uint64_t per_word = o.data_members + groups + o.global_parity + o.spares;
  const uint64_t total = per_word * (o.ha ? 1 : o.boxes);
  if (total > kMaxMembers)
    return Status::invalid_argument("the layout has " + num(total) + " members, more than " + num(kMaxMembers) +
                                    " (one open file each)");
  return Status::ok();
}

// --ha: every box may fail on its own. A box holds at most
// kHaMaxChunksPerBox chunks of the word, and what it holds must be
// rebuildable: a group that loses k > 1 chunks needs k - 1 global parity
// rows beyond the group's own (local) row, and the box's lost global
// parity chunks are not there to give them. For at most 2 lost chunks this
// count is exact with the code's rows (codec.h); codec tests check it.
Status check_ha(const Layout& l) {
  const auto& o = l.options();
  if (o.boxes < 2) return bad("--boxes", o.boxes, "--ha needs at least 2 boxes (a whole box may fail)");
  const uint32_t w = l.stripe_width();
  const uint32_t per_box = (w + o.boxes - 1) / o.boxes;
  if (per_box > kHaMaxChunksPerBox)
    return bad("--boxes", o.boxes,
               "--ha puts at most " + num(kHaMaxChunksPerBox) + " of a stripe's " + num(w) +
                   " chunks in one box, which needs at least " + num((w + 1) / 2) + " boxes");
  for (uint32_t b = 0; b < o.boxes; ++b) {
    std::vector<uint32_t> lost_in_group(l.groups(), 0);
    uint32_t lost_global = 0;
    for (uint32_t c = b; c < w; c += o.boxes) {
      const uint32_t g = l.chunk_group(c);
      if (g == kNoGroup)
        ++lost_global;
      else
        ++lost_in_group[g];
    }
    uint32_t rows_needed = 0, worst = 0;
    for (uint32_t g = 0; g < l.groups(); ++g) {
      rows_needed += lost_in_group[g] > 1 ? lost_in_group[g] - 1 : 0;
      if (lost_in_group[g] > lost_in_group[worst]) worst = g;
    }
    if (rows_needed > 0 && rows_needed + lost_global > o.global_parity)
      return bad("--global-parity", o.global_parity,
                 "--ha: box " + num(b) + " holds " + num(lost_in_group[worst]) + " chunks of group " + num(worst) +
                     ", which a box failure loses together; at least " + num(rows_needed + lost_global) +
                     " global parity needed");
  }
  return Status::ok();
}

std::string group_sizes(const Layout& l) {
  const uint32_t n = l.groups();
  const uint32_t last = l.group_end(n - 1) - l.group_begin(n - 1);
  if (n > 4)
    return num(n) + " groups of " + num(l.group_size()) + (last != l.group_size() ? ", the last of " + num(last) : "");
  std::string s;
  for (uint32_t g = 0; g < n; ++g) s += (g ? "," : "") + num(l.group_end(g) - l.group_begin(g));
  return s;
}

}  // namespace

const char* to_string(Role role) {
  switch (role) {
    case Role::kData:
      return "data";
    case Role::kLocalParity:
      return "local-parity";
    case Role::kGlobalParity:
      return "global-parity";
    case Role::kSpare:
      return "spare";
  }
  return "unknown";
}

Result<Layout> Layout::create(const LayoutOptions& options) {
  VBLK_RETURN_IF_ERROR(check_counts(options));
  Layout l(options);
  if (options.ha) VBLK_RETURN_IF_ERROR(check_ha(l));
  return l;
}

uint32_t Layout::group_end(uint32_t g) const { return std::min(o_.data_members, (g + 1) * o_.group_size); }

Role Layout::chunk_role(uint32_t c) const {
  if (c < o_.data_members) return Role::kData;
  if (c < o_.data_members + groups()) return Role::kLocalParity;
  return Role::kGlobalParity;
}

uint32_t Layout::chunk_group(uint32_t c) const {
  if (c < o_.data_members) return c / o_.group_size;
  if (c < o_.data_members + groups()) return c - o_.data_members;
  return kNoGroup;
}

Member Layout::member(uint32_t index) const {
  Member m;
  m.index = index;
  m.word = index % words();
  m.box = index % o_.boxes;
  const uint32_t slot = index / words();
  if (slot >= stripe_width()) {
    m.role = Role::kSpare;
    m.chunk = slot - stripe_width();
    return m;
  }
  m.role = chunk_role(slot);
  m.chunk = slot;
  m.group = chunk_group(slot);
  return m;
}

std::vector<Member> Layout::members() const {
  std::vector<Member> out;
  out.reserve(member_count());
  for (uint32_t i = 0; i < member_count(); ++i) out.push_back(member(i));
  return out;
}

std::vector<uint32_t> Layout::stripe_members(uint64_t stripe) const {
  const uint32_t w = word_of_stripe(stripe);
  std::vector<uint32_t> out(stripe_width());
  for (uint32_t c = 0; c < out.size(); ++c) out[c] = member_of(w, c);
  return out;
}

ChunkSet Layout::failed_chunks(uint32_t word, std::span<const uint32_t> failed) const {
  ChunkSet set;
  for (uint32_t m : failed) {
    if (m >= member_count() || m % words() != word) continue;
    const uint32_t slot = m / words();
    if (slot < stripe_width()) set.set(slot);
  }
  return set;
}

std::vector<uint32_t> Layout::box_members(uint32_t b) const {
  std::vector<uint32_t> out;
  for (uint32_t m = b; m < member_count(); m += o_.boxes) out.push_back(m);
  return out;
}

Overhead Layout::overhead() const {
  Overhead o;
  o.stripe_data = o_.data_members;
  o.stripe_parity = groups() + o_.global_parity;
  o.members = member_count();
  o.parity_members = words() * o.stripe_parity;
  o.spare_members = words() * o_.spares;
  return o;
}

std::string Layout::describe() const {
  std::string s = num(o_.data_members) + " data (" + group_sizes(*this) + ") + " + num(groups()) + " local + " +
                  num(o_.global_parity) + " global + " + num(o_.spares) + " spares";
  if (o_.boxes == 1) return s;
  if (o_.ha) return s + ", one word over " + num(o_.boxes) + " boxes (--ha)";
  return s + ", a word in each of " + num(o_.boxes) + " boxes";
}

// ---- the layout record -----------------------------------------------------

void encode_layout(const Layout& layout, std::span<uint8_t> out) {
  const LayoutOptions& o = layout.options();
  uint8_t* p = out.data();
  format::put_u32(p, kLayoutMagic);
  format::put_u16(p + 4, kLayoutVersion);
  format::put_u16(p + 6, kLayoutRecordSize);
  format::put_u32(p + 8, o.data_members);
  format::put_u32(p + 12, o.group_size);
  format::put_u32(p + 16, o.global_parity);
  format::put_u32(p + 20, o.spares);
  format::put_u32(p + 24, o.boxes);
  format::put_u32(p + 28, o.ha ? kLayoutFlagHa : 0);
  format::put_u64(p + 32, format::hash64(p, 32));
}

Result<Layout> decode_layout(std::span<const uint8_t> in) {
  const std::string what = "erasure-code layout record: ";
  if (in.size() < kLayoutRecordSize)
    return Status::corruption(what + num(in.size()) + " bytes, " + num(kLayoutRecordSize) + " needed");
  const uint8_t* p = in.data();
  if (format::get_u32(p) != kLayoutMagic) return Status::corruption(what + "bad magic");
  if (format::get_u16(p + 4) != kLayoutVersion)
    return Status::not_supported(what + "version " + num(format::get_u16(p + 4)) + ", this build reads " +
                                 num(kLayoutVersion));
  if (format::get_u16(p + 6) != kLayoutRecordSize)
    return Status::corruption(what + "size " + num(format::get_u16(p + 6)) + ", not " + num(kLayoutRecordSize));
  if (format::get_u64(p + 32) != format::hash64(p, 32)) return Status::corruption(what + "checksum mismatch");
  const uint32_t flags = format::get_u32(p + 28);
  if (flags & ~kLayoutFlagHa) return Status::corruption(what + "unknown flags " + num(flags));
  LayoutOptions o;
  o.data_members = format::get_u32(p + 8);
  o.group_size = format::get_u32(p + 12);
  o.global_parity = format::get_u32(p + 16);
  o.spares = format::get_u32(p + 20);
  o.boxes = format::get_u32(p + 24);
  o.ha = flags & kLayoutFlagHa;
  auto layout = Layout::create(o);
  if (!layout) return Status::corruption(what + layout.status().message());
  return layout;
}

}  // namespace vblk::ec
