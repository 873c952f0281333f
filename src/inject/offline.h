#pragma once
// Fault injection on an image that no daemon holds (vblk-inject IMAGE ...):
// opens it for writing (so it fails at once with Busy while vblkfs has it
// mounted), loads its rules file, carries out the command, saves the rules
// and closes the image. See injector.h for where each fault lives.
// Thread safety: one call at a time per image (the image lock enforces it
// across processes).

#include <string>

#include "inject/command.h"
#include "vblk/status.h"

namespace vblk::inject {

// Carries out `cmd` (not kList) on `image`. Returns the "injecting X into Y"
// sentence. Errors name the image and the cause; Busy when it is in use.
Result<std::string> inject_offline(const std::string& image, const Command& cmd);

// The faults in force on `image`, as write_faults_json writes them.
// Opens the image read-only.
Result<std::string> faults_json_offline(const std::string& image);

// The block size of `image` (to turn byte offsets into blocks).
Result<uint32_t> image_block_size(const std::string& image);

}  // namespace vblk::inject
