// FLUSH record payload: see flush_record.h and vblk(5).
#include "format/flush_record.h"

namespace vblk::format {

bool covers_blocks(RecordType type) {
  switch (type) {
    case RecordType::kData:
    case RecordType::kZero:
    case RecordType::kTrim:
    case RecordType::kBadSet:
    case RecordType::kBadClear:
      return true;
    default:
      return false;
  }
}

std::vector<uint8_t> encode_flush_payload(const FlushPayload& p) {
  std::vector<uint8_t> out(kFlushHeadSize + size_t{kFlushDescriptorSize} * p.descriptors.size());
  put_u64(out.data(), p.from_seq);
  put_u64(out.data() + 8, p.to_seq);
  uint8_t* d = out.data() + kFlushHeadSize;
  for (const FlushDescriptor& e : p.descriptors) {
    put_u64(d, e.seq);
    put_u64(d + 8, e.first);
    put_u32(d + 16, e.count);
    d[20] = static_cast<uint8_t>(e.type);
    d += kFlushDescriptorSize;
  }
  return out;
}

Result<FlushPayload> decode_flush_payload(std::span<const uint8_t> in, uint64_t claim, uint32_t count) {
  if (count > kMaxFlushDescriptors) return Status::corruption("FLUSH record has too many descriptors");
  if (in.size() != kFlushHeadSize + size_t{kFlushDescriptorSize} * count)
    return Status::corruption("FLUSH record payload length does not match its descriptor count");
  FlushPayload p;
  p.from_seq = get_u64(in.data());
  p.to_seq = get_u64(in.data() + 8);
  if (p.to_seq > claim || p.to_seq == ~0ull || p.from_seq > p.to_seq + 1)
    return Status::corruption("FLUSH record range invalid");
  p.descriptors.reserve(count);
  uint64_t last_seq = 0;
  for (uint32_t i = 0; i < count; ++i) {
    const uint8_t* d = in.data() + kFlushHeadSize + size_t{i} * kFlushDescriptorSize;
    FlushDescriptor e;
    e.seq = get_u64(d);
    e.first = get_u64(d + 8);
    e.count = get_u32(d + 16);
    e.type = static_cast<RecordType>(d[20]);
    if (d[21] || d[22] || d[23]) return Status::corruption("FLUSH descriptor reserved bytes are not zero");
    if (!covers_blocks(e.type)) return Status::corruption("FLUSH descriptor has a type that covers no blocks");
    if (e.seq < p.from_seq || e.seq > p.to_seq || (i && e.seq <= last_seq))
      return Status::corruption("FLUSH descriptor sequence numbers out of order or range");
    last_seq = e.seq;
    p.descriptors.push_back(e);
  }
  return p;
}

}  // namespace vblk::format
