#include "inject/offline.h"

#include <nlohmann/json.hpp>

#include "inject/injector.h"
#include "inject/rules_file.h"
#include "util/json.h"
#include "vblk/fault_device.h"
#include "vblk/image_device.h"

namespace vblk::inject {
namespace {

// A rules file that cannot be loaded stops a change: it would be saved
// over with only the change.
Result<OfflineImage> open_image(const std::string& image, bool read_only) {
  auto o = open_with_rules(image, read_only);
  if (o && !o->rules.status) return o->rules.status;
  return o;
}

}  // namespace

Result<OfflineImage> open_with_rules(const std::string& image, bool read_only) {
  OpenOptions oo;
  oo.read_only = read_only;
  auto dev = ImageDevice::open(image, oo);
  if (!dev) return dev.status();
  OfflineImage o;
  o.store = &(*dev)->store();
  o.faults = std::make_unique<FaultDevice>(std::move(*dev));
  o.id = {real_image_path(image), o.store->info().uuid};
  o.rules.path = rules_path(o.id.path);
  auto loaded = load_rules(o.rules.path, o.id, *o.faults);
  if (loaded) {
    o.rules.loaded = *loaded;
  } else {
    o.rules.status = loaded.status();
  }
  return o;
}

Result<Outcome> inject_offline(const std::string& image, const Command& cmd) {
  if (cmd.action == Action::kPowercut)
    return Status::invalid_argument(
        "powercut acts on a running device: give the mountpoint of a vblkfs mount (an image at rest has no "
        "unflushed writes to lose)");
  auto o = open_image(image, false);
  if (!o) return o.status();
  // Offline nothing sits above the FaultDevice, so its own admin interface
  // needs no guard.
  auto outcome = execute(*o->faults, image, cmd);
  Status st = outcome.is_ok() ? Status::ok() : outcome.status();
  if (st.is_ok() && outcome->rules_changed) st = save_rules(o->rules.path, o->id, o->faults->list());
  if (st.is_ok()) st = o->faults->flush();
  Status closed = o->store->close();
  if (!st.is_ok()) return st;
  if (!closed.is_ok()) return closed;
  return outcome;
}

Result<std::string> faults_json_offline(const std::string& image) {
  auto o = open_image(image, true);
  if (!o) return o.status();
  const Json j = faults_json(*o->faults);
  Status closed = o->store->close();
  if (!closed.is_ok()) return closed;
  return dump_json(j);
}

Result<uint32_t> image_block_size(const std::string& image) {
  OpenOptions oo;
  oo.read_only = true;
  auto store = ImageStore::open(image, oo);
  if (!store) return store.status();
  const uint32_t bs = (*store)->block_size();
  VBLK_RETURN_IF_ERROR((*store)->close());
  return bs;
}

}  // namespace vblk::inject
