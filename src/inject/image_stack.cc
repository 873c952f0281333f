// The device stack every front end serves an image through. See image_stack.h.
#include "inject/image_stack.h"

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include "inject/command.h"
#include "inject/rules_file.h"
#include "vblk/image_device.h"

namespace vblk::inject {

Result<std::unique_ptr<ImageStack>> ImageStack::open(const std::string& image, const OpenOptions& open_opts,
                                                     const DriverOptions& driver_opts) {
  auto device = ImageDevice::open(image, open_opts);
  if (!device) return device.status();
  std::unique_ptr<ImageStack> stack(new ImageStack());
  stack->image_ = image;
  stack->rules_file_ = rules_path(image);
  stack->read_only_ = open_opts.read_only;
  stack->store_ = &(*device)->store();
  auto fault_device = std::make_unique<FaultDevice>(std::move(*device));
  stack->faults_ = fault_device.get();
  auto loaded = load_rules(stack->rules_file_, {image, stack->store_->info().uuid}, *fault_device);
  if (!loaded) {
    stack->closed_ = true;  // the device closes the image as it goes out of scope
    return Status::invalid_argument(loaded.status().message() + " (fix or remove the file)");
  }
  if (!loaded->ignored.empty()) spdlog::warn("{}", loaded->ignored);
  for (const FaultRule& r : fault_device->list())
    spdlog::warn("injecting '{}' into {} (from {})", rule_command(r), image, stack->rules_file_);
  stack->driver_ = std::make_unique<Driver>(std::move(fault_device), driver_opts);
  stack->admin_ = std::make_unique<GuardedAdmin>(*stack->driver_, *stack->faults_);
  return stack;
}

ImageStack::~ImageStack() {
  if (!closed_) (void)close();
}

Status ImageStack::save_rules() {
  if (read_only_) return Status::ok();
  return inject::save_rules(rules_file_, {image_, store_->info().uuid}, faults_->list());
}

Status ImageStack::close(bool log_summary) {
  closed_ = true;
  Status first = Status::ok();
  Status s = driver_->flush();
  if (s.is_powered_off()) {
    spdlog::warn("{} was powered off by a power cut: it keeps what was flushed before the cut", image_);
  } else if (!s) {
    spdlog::error("final flush of {} failed: {}", image_, s.to_string());
    first = s;
  }
  if (Status r = save_rules(); !r) spdlog::error("saving the fault rules: {}", r.to_string());
  if (log_summary) spdlog::info("{}", session_summary(image_, driver_->stats()));
  if (Status c = store_->close(); !c) {
    spdlog::error("closing {} failed: {}", image_, c.to_string());
    if (first) first = c;
  }
  return first;
}

std::string session_summary(const std::string& image, const DriverStats& s) {
  std::string ratio = s.compression_ratio > 0 ? fmt::format("{:.2f}", s.compression_ratio) : "n/a";
  return fmt::format(
      "{}: served {} reads ({} bytes), {} writes ({} bytes), {} trims ({} bytes), {} flushes; {} failures, {} retries; "
      "compression ratio {}",
      image, s.reads, s.bytes_read, s.writes, s.bytes_written, s.trims, s.bytes_trimmed, s.flushes, s.failures,
      s.retries, ratio);
}

}  // namespace vblk::inject
