// LD_PRELOAD test aid: stat(2) of a path ending in $VBLK_FAIL_STAT fails
// with EIO; every other call goes to the C library. Makes vblkfs's check
// that the disk file answers through the new mount fail on demand.
#include <dlfcn.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

extern "C" int stat(const char* path, struct stat* st) {
  using StatFn = int (*)(const char*, struct stat*);
  static const auto real = reinterpret_cast<StatFn>(::dlsym(RTLD_NEXT, "stat"));
  const char* suffix = std::getenv("VBLK_FAIL_STAT");
  const size_t n = suffix ? std::strlen(suffix) : 0, len = std::strlen(path);
  if (n > 0 && len >= n && std::strcmp(path + len - n, suffix) == 0) {
    errno = EIO;
    return -1;
  }
  return real(path, st);
}
