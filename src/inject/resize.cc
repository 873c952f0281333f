#include "inject/resize.h"

#include <spdlog/fmt/fmt.h>

#include <nlohmann/json.hpp>

#include "inject/offline.h"
#include "inject/rules_file.h"
#include "vblk/size_parse.h"

namespace vblk::inject {

Result<uint64_t> blocks_for_size(uint64_t bytes, uint32_t block_size) {
  if (bytes == 0) return Status::invalid_argument("size must not be 0");
  if (bytes % block_size != 0) {
    const uint64_t below = bytes / block_size * block_size;
    return Status::invalid_argument(fmt::format("size {} is not a whole number of {}-byte blocks (try {}{})", bytes,
                                                block_size, below ? std::to_string(below) + " or " : "",
                                                below + block_size));
  }
  return bytes / block_size;
}

Result<Resized> resize_image(ImageStore& store, AdminInterface& stack, uint64_t new_blocks, bool discard,
                             const std::string& discard_hint) {
  Resized r;
  r.block_size = store.block_size();
  const uint64_t old_blocks = store.block_count();
  auto done = store.resize(new_blocks, discard);
  if (!done) {
    // The one refusal of a valid smaller capacity: USED blocks past it.
    const bool used_beyond = done.status().code() == Status::Code::kInvalidArgument && new_blocks < old_blocks &&
                             new_blocks > 0;
    if (used_beyond && !discard_hint.empty())
      return Status::invalid_argument(done.status().message() + "; " + discard_hint);
    return done.status();
  }
  r.store = *done;
  if (r.store.new_block_count < r.store.old_block_count)
    r.rules_cut =
        stack.cut_fault_rules(r.store.new_block_count, r.store.old_block_count - r.store.new_block_count, std::nullopt);
  return r;
}

std::string describe(const Resized& r) {
  auto size = [&](uint64_t blocks) {
    const uint64_t bytes = blocks * r.block_size;
    return fmt::format("{} ({} bytes)", format_size(bytes), bytes);
  };
  const ResizeReport& s = r.store;
  if (s.new_block_count == s.old_block_count) return "already " + size(s.new_block_count) + ": nothing to do";
  std::string out = "resized from " + size(s.old_block_count) + " to " + size(s.new_block_count);
  if (s.discarded_used)
    out += fmt::format("; {} USED block{} from block {} on discarded", s.discarded_used,
                       s.discarded_used == 1 ? "" : "s", s.first_discarded);
  if (s.discarded_bad)
    out += fmt::format("; {} BAD block{} past the end dropped", s.discarded_bad, s.discarded_bad == 1 ? "" : "s");
  if (r.rules_cut)
    out += fmt::format("; {} fault rule{} cut at the new end", r.rules_cut, r.rules_cut == 1 ? "" : "s");
  return out;
}

Json resized_json(const Resized& r) {
  const ResizeReport& s = r.store;
  Json j;
  j["block_size"] = r.block_size;
  j["old_capacity_bytes"] = s.old_block_count * r.block_size;
  j["capacity_bytes"] = s.new_block_count * r.block_size;
  j["old_block_count"] = s.old_block_count;
  j["block_count"] = s.new_block_count;
  j["discarded_used_blocks"] = s.discarded_used;
  j["first_discarded_block"] = s.discarded_used ? Json(s.first_discarded) : Json(nullptr);
  j["dropped_bad_blocks"] = s.discarded_bad;
  j["fault_rules_cut"] = r.rules_cut;
  return j;
}

Result<Resized> resize_offline(const std::string& image, uint64_t new_bytes, bool discard,
                               const std::string& discard_hint) {
  auto o = open_with_rules(image, false);
  if (!o) return o.status();
  // A rules file that cannot be loaded would be saved over with only the
  // rules that survive the cut.
  if (!o->rules.status) {
    (void)o->store->close();
    return o->rules.status;
  }
  auto blocks = blocks_for_size(new_bytes, o->store->block_size());
  Result<Resized> r = blocks ? resize_image(*o->store, *o->faults, *blocks, discard, discard_hint)
                             : Result<Resized>(blocks.status().with_prefix(image));
  Status st = r.is_ok() ? Status::ok() : r.status();
  if (st && r->rules_cut) st = save_rules(o->rules.path, o->id, o->faults->list());
  Status closed = o->store->close();
  if (!st) return st;
  if (!closed) return closed;
  return r;
}

}  // namespace vblk::inject
