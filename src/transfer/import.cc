// The import engine (transfer/import.h).
#include "transfer/import.h"

#include <algorithm>
#include <span>
#include <vector>

#include "util/bytes.h"
#include "util/error_text.h"

namespace vblk::transfer {
namespace {

constexpr size_t kChunkBytes = 4u << 20;  // read size; a multiple of every block size
constexpr size_t kRunBytes = 256u << 10;  // largest single write_blocks call

uint64_t round_up(uint64_t v, uint64_t to) { return (v + to - 1) / to * to; }

class Importer {
 public:
  Importer(ImageStore& store, RawInput& in, const ImportOptions& o, ImportCounts& c)
      : store_(store), in_(in), o_(o), c_(c), bs_(store.block_size()), buf_(kChunkBytes) {}

  std::optional<Failure> run();

 private:
  bool cancelled() const { return o_.cancel && o_.cancel(); }
  Failure interrupted() const { return {o_.image_name, "interrupted", Failure::Why::kInterrupted}; }
  Failure input_failure(const Status& s) const { return {in_.name(), error_cause(s, in_.name())}; }
  // "standard input ended" / "ended", "standard input holds" / "holds".
  std::string stream_says(const char* verb) const {
    return std::string(in_.name() == kStdio ? "standard input " : "") + verb;
  }
  std::optional<Failure> read_chunk(uint64_t pos, size_t want);
  std::optional<Failure> store_chunk(uint64_t pos, size_t bytes);
  std::optional<Failure> check_stream_end();

  ImageStore& store_;
  RawInput& in_;
  const ImportOptions& o_;
  ImportCounts& c_;
  const uint64_t bs_;
  std::vector<uint8_t> buf_;
};

std::optional<Failure> Importer::run() {
  const uint64_t size = in_.size();
  uint64_t pos = 0;  // Invariant: a multiple of bs_.
  while (pos < size) {
    if (cancelled()) return interrupted();
    const std::optional<uint64_t> data = in_.next_data(pos);
    if (!data) break;  // only a hole remains
    if (*data > pos) {
      pos = *data / bs_ * bs_;
      if (pos >= size) break;
    }
    const size_t want = static_cast<size_t>(std::min<uint64_t>(kChunkBytes, size - pos));
    if (auto f = read_chunk(pos, want)) return f;
    const size_t bytes = static_cast<size_t>(round_up(want, bs_));
    std::fill(buf_.begin() + static_cast<std::ptrdiff_t>(want), buf_.begin() + static_cast<std::ptrdiff_t>(bytes), 0);
    if (auto f = store_chunk(pos, bytes)) return f;
    pos += bytes;
    if (o_.progress) o_.progress(std::min(pos, size));
  }
  if (in_.stream()) {
    if (auto f = check_stream_end()) return f;
  }
  c_.zero_blocks = round_up(size, bs_) / bs_ - c_.stored_blocks;  // includes skipped holes
  return std::nullopt;
}

// Reads `want` bytes at `pos` into buf_: all of them, or a failure.
std::optional<Failure> Importer::read_chunk(uint64_t pos, size_t want) {
  auto got = in_.read(pos, std::span<uint8_t>(buf_.data(), want));
  if (!got) return input_failure(got.status());
  if (cancelled()) return interrupted();
  if (*got < want && in_.stream()) {
    return Failure{in_.name(), stream_says("ended") + " after " + std::to_string(pos + *got) + " bytes; --size is " +
                                   std::to_string(in_.size())};
  }
  if (*got < want)
    return Failure{in_.name(), "file shrank while being read (now " + std::to_string(pos + *got) + " bytes)"};
  return std::nullopt;
}

// Writes the blocks of buf_[0, bytes), at disk offset `pos`: maximal runs
// of non-zero blocks, split at kRunBytes; zero blocks stay FREE.
std::optional<Failure> Importer::store_chunk(uint64_t pos, size_t bytes) {
  size_t off = 0;
  while (off < bytes) {
    if (all_zero(buf_.data() + off, bs_)) {
      off += bs_;
      continue;
    }
    size_t end = off + bs_;
    while (end < bytes && end - off < kRunBytes && !all_zero(buf_.data() + end, bs_)) end += bs_;
    Status s = store_.write_blocks((pos + off) / bs_, std::span<const uint8_t>(buf_.data() + off, end - off));
    if (!s) return Failure{o_.image_name, error_cause(s, o_.image_name)};
    c_.stored_blocks += (end - off) / bs_;
    off = end;
  }
  return std::nullopt;
}

// A stream must end where its size does: more bytes mean the size is wrong.
std::optional<Failure> Importer::check_stream_end() {
  uint8_t extra = 0;
  auto more = in_.read(in_.size(), std::span<uint8_t>(&extra, 1));
  if (!more) return input_failure(more.status());
  if (cancelled()) return interrupted();
  if (*more > 0) {
    return Failure{in_.name(),
                   stream_says("holds") + " more than the " + std::to_string(in_.size()) + " bytes of --size"};
  }
  return std::nullopt;
}

}  // namespace

std::optional<Failure> import_raw(ImageStore& store, RawInput& in, const ImportOptions& o, ImportCounts& counts) {
  counts = {};
  Importer im(store, in, o, counts);
  return im.run();
}

}  // namespace vblk::transfer
