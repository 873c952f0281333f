#pragma once
// Fault injection on an image that no daemon holds (vblk-inject IMAGE ...):
// opens it for writing (so it fails at once with Busy while vblkfs has it
// mounted), loads its rules file, carries out the command, saves the rules
// and closes the image. See injector.h for where each fault lives.
// Thread safety: one call at a time per image (the image lock enforces it
// across processes).

#include <memory>
#include <string>

#include "inject/command.h"
#include "inject/injector.h"
#include "inject/rules_file.h"
#include "vblk/fault_device.h"
#include "vblk/image_store.h"
#include "vblk/status.h"

namespace vblk::inject {

// An image opened as the daemon would serve it: its store under a
// FaultDevice holding the rules of its rules file.
struct OfflineImage {
  std::unique_ptr<FaultDevice> faults;  // owns the device and the store
  ImageStore* store = nullptr;
  ImageId id;  // the real path (which names the rules file) and the UUID
  struct Rules {
    std::string path;
    LoadedRules loaded;
    Status status;  // not ok when the file cannot be read or parsed
  } rules;
};

// Opens `image` (read-only: a shared lock) and loads its rules file. Fails
// only when the image cannot be opened: a bad rules file is in rules.status.
Result<OfflineImage> open_with_rules(const std::string& image, bool read_only);

// Carries out `cmd` (not kList) on `image`. Returns what was done, its
// message the "injecting X into Y" sentence. Errors name the image and the
// cause; Busy when it is in use.
Result<Outcome> inject_offline(const std::string& image, const Command& cmd);

// The faults in force on `image`: faults_json (inject/injector.h), printed.
// Opens the image read-only.
Result<std::string> faults_json_offline(const std::string& image);

// The block size of `image` (to turn byte offsets into blocks).
Result<uint32_t> image_block_size(const std::string& image);

}  // namespace vblk::inject
