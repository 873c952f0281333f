#pragma once
// ImageStack: one image opened for serving, the way every front end serves
// it (vblkfs, the NBD plugin): Driver(FaultDevice(ImageDevice)). The
// FaultDevice starts with the rules saved beside the image (IMAGE.faults,
// see inject/rules_file.h); each loaded rule is logged at warn ("injecting
// ... into IMAGE (from FILE)"). The image stays locked (io/file.h) from open
// until close: a second server of the same image fails at open with Busy
// naming the holder. The control plane reaches the stack through admin():
// the FaultDevice's admin interface under a GuardedAdmin
// (driver/guarded_admin.h), which keeps its changes coherent with the
// driver.
// Thread safety: the Driver is fully concurrent; open and close are called
// once each, with no request in flight.

#include <memory>
#include <string>

#include "driver/guarded_admin.h"
#include "vblk/admin_interface.h"
#include "vblk/driver.h"
#include "vblk/fault_device.h"
#include "vblk/image_store.h"
#include "vblk/status.h"

namespace vblk::inject {

class ImageStack {
 public:
  // Opens `image` (a real path: its rules file is named after it). Errors
  // name the image or the rules file and the cause; a rules file that does
  // not parse fails the open ("fix or remove the file").
  static Result<std::unique_ptr<ImageStack>> open(const std::string& image, const OpenOptions& open_opts,
                                                  const DriverOptions& driver_opts);
  ~ImageStack();
  ImageStack(const ImageStack&) = delete;
  ImageStack& operator=(const ImageStack&) = delete;

  Driver& driver() { return *driver_; }
  AdminInterface& admin() { return *admin_; }
  ImageStore& store() { return *store_; }
  const std::string& image() const { return image_; }
  const std::string& rules_file() const { return rules_file_; }
  bool read_only() const { return read_only_; }

  // Writes the fault rules file (flaky counts used so far); nothing on a
  // read-only image.
  Status save_rules();
  // Everything acknowledged becomes durable, the rules are saved, the
  // session's summary is logged and the image closed (a checkpoint), which
  // releases its lock. An image powered off by `vblk-inject powercut`
  // keeps what was flushed before the cut: not an error. Returns the first
  // failure; the image is closed either way. Called once; the destructor
  // calls it if nobody did. `log_summary` false: a mount that never became
  // usable, whose one line is its error, logs no summary.
  Status close(bool log_summary = true);

 private:
  ImageStack() = default;

  std::string image_;
  std::string rules_file_;
  bool read_only_ = false;
  bool closed_ = false;
  ImageStore* store_ = nullptr;   // owned by the device below the driver
  FaultDevice* faults_ = nullptr; // owned by the driver
  std::unique_ptr<Driver> driver_;
  std::unique_ptr<GuardedAdmin> admin_;  // over driver_ and faults_
};

// What a serving session did, in one line for the log at close.
std::string session_summary(const std::string& image, const DriverStats& s);

}  // namespace vblk::inject
