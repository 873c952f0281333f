#include "format/member_set.h"

#include <xxhash.h>

#include <algorithm>
#include <cstring>

namespace vblk::format {

const char* to_string(MemberState s) {
  switch (s) {
    case MemberState::kOk: return "ok";
    case MemberState::kFailed: return "failed";
    case MemberState::kStale: return "stale";
    case MemberState::kRebuilding: return "rebuilding";
    case MemberState::kReplaced: return "replaced";
  }
  return "unknown";
}

namespace {

uint64_t table_hash(std::span<const uint8_t> bytes) {
  XXH3_state_t* st = XXH3_createState();
  XXH3_64bits_reset(st);
  XXH3_64bits_update(st, bytes.data(), 120);
  XXH3_64bits_update(st, bytes.data() + kMemberTableHeadSize, bytes.size() - kMemberTableHeadSize);
  const uint64_t h = XXH3_64bits_digest(st);
  XXH3_freeState(st);
  return h;
}

}  // namespace

Result<std::vector<uint8_t>> encode_member_table(const MemberTable& t) {
  if (t.members.empty() || t.members.size() > kMaxTableMembers)
    return Status::invalid_argument("member table: " + std::to_string(t.members.size()) + " members (1.." +
                                    std::to_string(kMaxTableMembers) + ")");
  std::vector<uint8_t> out(kMemberTableHeadSize + t.members.size() * kMemberEntrySize);
  uint8_t* p = out.data();
  put_u64(p, kMemberTableMagic);
  put_u32(p + 8, kMemberSetVersion);
  put_u32(p + 12, static_cast<uint32_t>(t.members.size()));
  put_u64(p + 16, t.generation);
  std::memcpy(p + 24, t.image_uuid.data(), 16);
  put_u32(p + 40, t.chunk_size);
  put_u32(p + 44, kMemberEntrySize);
  std::memcpy(p + 48, t.layout.data(), kLayoutBytes);
  for (size_t i = 0; i < t.members.size(); ++i) {
    const MemberEntry& m = t.members[i];
    if (m.name.empty() || m.name.size() > kMaxMemberNameBytes || m.name.find('\0') != std::string::npos)
      return Status::invalid_argument("member " + std::to_string(i) + ": file name \"" + m.name + "\" is empty or " +
                                      "longer than " + std::to_string(kMaxMemberNameBytes) + " bytes");
    uint8_t* e = p + kMemberTableHeadSize + i * kMemberEntrySize;
    std::memcpy(e, m.uuid.data(), 16);
    e[16] = m.role;
    e[17] = static_cast<uint8_t>(m.state);
    put_u32(e + 20, m.box);
    put_u32(e + 24, static_cast<uint32_t>(m.name.size()));
    put_u32(e + 28, m.stands_for);
    put_u64(e + 32, m.errors);
    put_u64(e + 40, m.rebuilt_rows);
    std::memcpy(e + kMemberNameOffset, m.name.data(), m.name.size());
  }
  put_u64(p + 120, table_hash(out));
  return out;
}

Result<MemberTable> decode_member_table(std::span<const uint8_t> in) {
  if (in.size() < kMemberTableHeadSize) return Status::corruption("member table: short");
  const uint8_t* p = in.data();
  if (get_u64(p) != kMemberTableMagic) return Status::corruption("member table: bad magic");
  if (get_u32(p + 8) != kMemberSetVersion)
    return Status::not_supported("member table: version " + std::to_string(get_u32(p + 8)));
  const uint32_t n = get_u32(p + 12);
  if (n == 0 || n > kMaxTableMembers) return Status::corruption("member table: " + std::to_string(n) + " members");
  if (get_u32(p + 44) != kMemberEntrySize) return Status::corruption("member table: bad entry size");
  const size_t len = kMemberTableHeadSize + size_t{n} * kMemberEntrySize;
  if (in.size() < len) return Status::corruption("member table: short");
  if (get_u64(p + 120) != table_hash(in.first(len))) return Status::corruption("member table: checksum mismatch");
  MemberTable t;
  t.generation = get_u64(p + 16);
  std::memcpy(t.image_uuid.data(), p + 24, 16);
  t.chunk_size = get_u32(p + 40);
  std::memcpy(t.layout.data(), p + 48, kLayoutBytes);
  for (uint32_t i = 0; i < n; ++i) {
    const uint8_t* e = p + kMemberTableHeadSize + size_t{i} * kMemberEntrySize;
    MemberEntry m;
    std::memcpy(m.uuid.data(), e, 16);
    m.role = e[16];
    if (e[17] > static_cast<uint8_t>(MemberState::kReplaced))
      return Status::corruption("member table: member " + std::to_string(i) + " has state " + std::to_string(e[17]));
    m.state = static_cast<MemberState>(e[17]);
    m.box = get_u32(e + 20);
    const uint32_t name_len = get_u32(e + 24);
    if (name_len == 0 || name_len > kMaxMemberNameBytes)
      return Status::corruption("member table: member " + std::to_string(i) + " has a name of " +
                                std::to_string(name_len) + " bytes");
    m.stands_for = get_u32(e + 28);
    if (m.stands_for != kNoMember && m.stands_for >= n)
      return Status::corruption("member table: member " + std::to_string(i) + " stands for member " +
                                std::to_string(m.stands_for) + " of " + std::to_string(n));
    m.errors = get_u64(e + 32);
    m.rebuilt_rows = get_u64(e + 40);
    m.name.assign(reinterpret_cast<const char*>(e + kMemberNameOffset), name_len);
    t.members.push_back(std::move(m));
  }
  return t;
}

Result<TableInForce> pick_member_table(std::span<const uint8_t> copy0, std::span<const uint8_t> copy1) {
  auto a = decode_member_table(copy0);
  auto b = decode_member_table(copy1);
  if (a && (!b || a->generation >= b->generation)) return TableInForce{std::move(*a), 0};
  if (b) return TableInForce{std::move(*b), 1};
  return Status::corruption("no valid member table (copy 0: " + a.status().message() +
                            "; copy 1: " + b.status().message() + ")");
}

void encode_member_header(const MemberHeader& h, std::span<uint8_t, 64> out) {
  std::fill(out.begin(), out.end(), 0);
  uint8_t* p = out.data();
  put_u64(p, kMemberHeaderMagic);
  put_u32(p + 8, kMemberSetVersion);
  put_u32(p + 12, h.index);
  std::memcpy(p + 16, h.image_uuid.data(), 16);
  std::memcpy(p + 32, h.member_uuid.data(), 16);
  p[48] = h.role;
  put_u32(p + 52, h.chunk_size);
  put_u64(p + 56, hash64(p, 56));
}

Result<MemberHeader> decode_member_header(std::span<const uint8_t> in) {
  if (in.size() < 64) return Status::corruption("no member header (file too short)");
  const uint8_t* p = in.data();
  if (get_u64(p) != kMemberHeaderMagic) return Status::corruption("no member header (bad magic)");
  if (get_u64(p + 56) != hash64(p, 56)) return Status::corruption("member header checksum mismatch");
  if (get_u32(p + 8) != kMemberSetVersion)
    return Status::not_supported("member header version " + std::to_string(get_u32(p + 8)));
  MemberHeader h;
  h.index = get_u32(p + 12);
  std::memcpy(h.image_uuid.data(), p + 16, 16);
  std::memcpy(h.member_uuid.data(), p + 32, 16);
  h.role = p[48];
  h.chunk_size = get_u32(p + 52);
  return h;
}

void encode_tail_slot(const TailSlot& t, std::span<uint8_t, 64> out) {
  std::fill(out.begin(), out.end(), 0);
  uint8_t* p = out.data();
  put_u64(p, kTailSlotMagic);
  put_u64(p + 8, t.seq);
  put_u64(p + 16, t.segment);
  put_u32(p + 24, t.row);
  put_u32(p + 28, t.fill);
  put_u64(p + 32, t.parity_hash);
  put_u64(p + 56, hash64(p, 56));
}

Result<TailSlot> decode_tail_slot(std::span<const uint8_t> in) {
  if (in.size() < 64) return Status::corruption("tail slot: short");
  const uint8_t* p = in.data();
  if (get_u64(p) != kTailSlotMagic) return Status::corruption("tail slot: bad magic");
  if (get_u64(p + 56) != hash64(p, 56)) return Status::corruption("tail slot: checksum mismatch");
  TailSlot t;
  t.seq = get_u64(p + 8);
  t.segment = get_u64(p + 16);
  t.row = get_u32(p + 24);
  t.fill = get_u32(p + 28);
  t.parity_hash = get_u64(p + 32);
  return t;
}

}  // namespace vblk::format
