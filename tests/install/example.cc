// Opens a vblk image and prints block 0's state and first bytes, reading
// through the driver (the byte-level API vblkfs uses).
//   c++ -std=c++20 example.cc $(pkg-config --cflags --libs vblk) -o example
#include <vblk/driver.h>
#include <vblk/image_device.h>

#include <cstdio>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s IMAGE\n", argv[0]);
    return 2;
  }
  vblk::OpenOptions opts;
  opts.read_only = true;
  auto device = vblk::ImageDevice::open(argv[1], opts);
  if (!device) {
    std::fprintf(stderr, "%s\n", device.status().to_string().c_str());
    return 1;
  }
  vblk::Driver driver(std::move(*device), vblk::DriverOptions{});
  std::vector<uint8_t> block(driver.block_size());
  auto n = driver.read(0, block);
  if (!n) {
    std::fprintf(stderr, "%s\n", n.status().to_string().c_str());
    return 1;
  }
  auto state = driver.device().state(0);
  std::printf("%s: %llu bytes, block 0 is %s, starts with:", argv[1],
              static_cast<unsigned long long>(driver.size_bytes()),
              state ? std::string(vblk::to_string(*state)).c_str() : "?");
  for (int i = 0; i < 8; ++i) std::printf(" %02x", block[i]);
  std::printf("\n");
  return 0;
}
