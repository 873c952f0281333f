// The export engine (transfer/export.h).
//
// The disk is walked a window of block states at a time (state_runs), so
// that a large, mostly empty disk costs little: FREE and TRIMMED runs are
// holes, BAD runs zeros, USED runs are read in chunks of 1 MiB and every
// block of a chunk that reads as zeros is a hole too. Big reads keep a
// salvage of a mostly sound image fast; only a read that fails is done
// again block by block. When a window's states cannot be read (a damaged
// index page), salvage asks for them block by block as well.
#include "transfer/export.h"

#include <algorithm>
#include <span>

#include "util/block_text.h"
#include "util/bytes.h"
#include "util/error_text.h"

namespace vblk::transfer {
namespace {

constexpr size_t kChunkBytes = 1u << 20;        // one read_blocks call; a multiple of every block size
constexpr uint64_t kWindowBytes = 64ull << 20;  // block states are enumerated this much at a time
constexpr size_t kListedBadRanges = 8;          // BAD ranges named in the refusal

// Read failures salvage turns into zeros: the image's data is damaged or
// BAD (EIO). Anything else (the host, a cancel) still fails the export.
bool unreadable_error(const Status& s) {
  return s.code() == Status::Code::kCorruption || s.code() == Status::Code::kBadBlock ||
         s.code() == Status::Code::kIoError;
}

// The cause without the "block N: record at image offset X: " context, so
// that neighbouring blocks with the same damage share one run.
std::string short_cause(const Status& s) {
  const std::string& m = s.message();
  const size_t colon = m.rfind(": ");
  return colon == std::string::npos ? m : m.substr(colon + 2);
}

// Salvage: blocks written as zeros because they could not be read. A run
// of blocks with the same cause goes to ExportOptions::unreadable as soon
// as it ends (or the export does, however it ends).
class UnreadableRuns {
 public:
  explicit UnreadableRuns(const ExportOptions& o) : o_(o) {}
  UnreadableRuns(const UnreadableRuns&) = delete;
  UnreadableRuns& operator=(const UnreadableRuns&) = delete;
  ~UnreadableRuns() { end_run(); }

  void add(uint64_t first, uint64_t count, const std::string& cause) {
    blocks_ += count;
    if (count_ && first == first_ + count_ && cause == cause_) {
      count_ += count;
      return;
    }
    end_run();
    first_ = first, count_ = count, cause_ = cause;
  }
  void end_run() {
    if (!count_) return;
    if (o_.unreadable) o_.unreadable(first_, count_, cause_);
    count_ = 0;
  }
  uint64_t blocks() const { return blocks_; }

 private:
  const ExportOptions& o_;
  uint64_t first_ = 0, count_ = 0;
  std::string cause_;
  uint64_t blocks_ = 0;
};

// The disk's bytes into a RawOutput: data at its offset, zeros as holes
// on a sparse output; on a stream every byte in order, zeros included.
class Sink {
 public:
  explicit Sink(RawOutput& out) : out_(out), zeros_(kChunkBytes, 0) {}

  // Bytes [off, off+n) of the disk.
  Status data(uint64_t off, const uint8_t* p, size_t n) {
    if (!out_.sparse()) VBLK_RETURN_IF_ERROR(gap_to(off));
    return put(off, p, n);
  }
  // Bytes [off, off+n) read as zeros: a hole, or written zeros on a stream
  // (or when `write` asks for them).
  Status zeros(uint64_t off, uint64_t n, bool write) {
    if (!out_.sparse()) return gap_to(off + n);
    for (; write && n > 0;) {
      const size_t k = static_cast<size_t>(std::min<uint64_t>(n, zeros_.size()));
      VBLK_RETURN_IF_ERROR(put(off, zeros_.data(), k));
      off += k, n -= k;
    }
    return Status::ok();
  }
  // Completes a disk of `capacity` bytes: the trailing hole, or zeros.
  Status finish(uint64_t capacity) {
    if (!out_.sparse()) VBLK_RETURN_IF_ERROR(gap_to(capacity));
    return out_.finish(capacity);
  }
  uint64_t bytes_written() const { return written_; }

 private:
  // Stream only: writes zeros up to `off`.
  Status gap_to(uint64_t off) {
    while (pos_ < off) {
      const size_t k = static_cast<size_t>(std::min<uint64_t>(off - pos_, zeros_.size()));
      VBLK_RETURN_IF_ERROR(put(pos_, zeros_.data(), k));
    }
    return Status::ok();
  }
  Status put(uint64_t off, const uint8_t* p, size_t n) {
    VBLK_RETURN_IF_ERROR(out_.write(off, std::span<const uint8_t>(p, n)));
    written_ += n;
    if (!out_.sparse()) pos_ = off + n;
    return Status::ok();
  }

  RawOutput& out_;
  uint64_t pos_ = 0;  // stream: disk bytes written so far
  uint64_t written_ = 0;
  std::vector<uint8_t> zeros_;
};

struct Run {
  uint64_t first, count;
  BlockState state;
  std::string unreadable;  // salvage: why the blocks' state could not be read ("" if it could)
};

class Exporter {
 public:
  Exporter(ImageStore& store, RawOutput& out, const ExportOptions& o, ExportCounts& c)
      : store_(store), out_(out), o_(o), c_(c), sink_(out), salvaged_(o), bs_(store.block_size()), buf_(kChunkBytes) {}

  std::optional<Failure> run();

 private:
  bool cancelled() const { return o_.cancel && o_.cancel(); }
  Failure interrupted() const { return {out_.name(), "interrupted", Failure::Why::kInterrupted}; }
  Failure image_failure(const Status& s) const { return {o_.image_name, error_cause(s, o_.image_name)}; }
  // A failed write is an interruption when the caller asked to stop.
  std::optional<Failure> output_failure(const Status& s) const {
    if (s) return std::nullopt;
    if (cancelled()) return interrupted();
    return Failure{out_.name(), error_cause(s, out_.name())};
  }
  std::optional<Failure> window(uint64_t first, uint64_t n);
  std::optional<Failure> states_one_by_one(uint64_t first, uint64_t n);
  std::optional<Failure> run_of(const Run& r);
  std::optional<Failure> used_run(const Run& r);
  std::optional<Failure> reread_one_by_one(uint64_t first, uint64_t k, std::span<uint8_t> out);
  std::optional<Failure> write_chunk(uint64_t first, uint64_t k);

  ImageStore& store_;
  RawOutput& out_;
  const ExportOptions& o_;
  ExportCounts& c_;
  Sink sink_;
  UnreadableRuns salvaged_;
  const uint64_t bs_;
  std::vector<uint8_t> buf_;
  std::vector<Run> runs_;
  std::vector<bool> unreadable_;  // of the chunk in buf_
};

std::optional<Failure> Exporter::run() {
  const uint64_t blocks = store_.block_count();
  const uint64_t capacity = bs_ * blocks;
  const uint64_t window_blocks = std::max<uint64_t>(1, kWindowBytes / bs_);
  for (uint64_t w = 0; w < blocks; w += window_blocks) {
    if (cancelled()) return interrupted();
    const uint64_t n = std::min(window_blocks, blocks - w);
    if (auto f = window(w, n)) return f;
    if (o_.progress) o_.progress((w + n) * bs_);
  }
  if (auto f = output_failure(sink_.finish(capacity))) return f;
  salvaged_.end_run();
  c_.unreadable = salvaged_.blocks();
  c_.bytes_written = sink_.bytes_written();
  c_.holes_bytes = out_.sparse() ? capacity - sink_.bytes_written() : 0;
  return std::nullopt;
}

// Blocks [first, first+n): their states, then each run of them.
std::optional<Failure> Exporter::window(uint64_t first, uint64_t n) {
  runs_.clear();
  Status s = store_.state_runs(first, n, [&](uint64_t f, uint64_t count, BlockState st) {
    runs_.push_back({f, count, st, {}});
  });
  if (!s) {
    if (!o_.salvage || !unreadable_error(s)) return image_failure(s);
    if (auto f = states_one_by_one(first, n)) return f;
  }
  for (const Run& r : runs_) {
    if (auto f = run_of(r)) return f;
  }
  return std::nullopt;
}

// Salvage, after the states of blocks [first, first+n) could not be read:
// asks for them one block at a time; a block whose state cannot be read
// either becomes an unreadable run.
std::optional<Failure> Exporter::states_one_by_one(uint64_t first, uint64_t n) {
  runs_.clear();
  for (uint64_t b = first; b < first + n; ++b) {
    auto st = store_.state(b);
    if (!st && !unreadable_error(st.status())) return image_failure(st.status());
    Run one{b, 1, st ? *st : BlockState::kBad, st ? std::string() : short_cause(st.status())};
    Run* last = runs_.empty() ? nullptr : &runs_.back();
    if (last && last->first + last->count == b && last->state == one.state && last->unreadable == one.unreadable) {
      last->count++;
    } else {
      runs_.push_back(std::move(one));
    }
  }
  return std::nullopt;
}

std::optional<Failure> Exporter::run_of(const Run& r) {
  if (!r.unreadable.empty()) {
    salvaged_.add(r.first, r.count, r.unreadable);
    return output_failure(sink_.zeros(r.first * bs_, r.count * bs_, true));
  }
  switch (r.state) {
    case BlockState::kFree:
    case BlockState::kTrimmed:
      (r.state == BlockState::kFree ? c_.free : c_.trimmed) += r.count;
      return output_failure(sink_.zeros(r.first * bs_, r.count * bs_, false));
    case BlockState::kBad:
      // refuse_bad_blocks ran first; the shared lock keeps it so.
      if (!o_.bad_zero && !o_.salvage) return Failure{o_.image_name, "block " + std::to_string(r.first) + " is BAD"};
      c_.bad += r.count;
      if (o_.salvage) salvaged_.add(r.first, r.count, "BAD block");
      return output_failure(sink_.zeros(r.first * bs_, r.count * bs_, true));
    case BlockState::kUsed:
      c_.used += r.count;
      return used_run(r);
  }
  return std::nullopt;
}

std::optional<Failure> Exporter::used_run(const Run& r) {
  const uint64_t chunk_blocks = kChunkBytes / bs_;
  for (uint64_t b = r.first; b < r.first + r.count;) {
    if (cancelled()) return interrupted();
    const uint64_t k = std::min<uint64_t>(chunk_blocks, r.first + r.count - b);
    std::span<uint8_t> out(buf_.data(), k * bs_);
    unreadable_.assign(k, false);
    Status rs = store_.read_blocks(b, k, out);
    if (!rs) {
      if (!o_.salvage || !unreadable_error(rs)) return image_failure(rs);
      if (auto f = reread_one_by_one(b, k, out)) return f;
    }
    if (auto f = write_chunk(b, k)) return f;
    b += k;
    if (o_.progress) o_.progress(b * bs_);
  }
  return std::nullopt;
}

// Salvage, after a read of blocks [first, first+k) failed: reads them again
// one at a time into `out`; those that still fail become zeros.
std::optional<Failure> Exporter::reread_one_by_one(uint64_t first, uint64_t k, std::span<uint8_t> out) {
  for (uint64_t i = 0; i < k; ++i) {
    std::span<uint8_t> one = out.subspan(i * bs_, bs_);
    Status s = store_.read_blocks(first + i, 1, one);
    if (s) continue;
    if (!unreadable_error(s)) return image_failure(s);
    std::fill(one.begin(), one.end(), uint8_t{0});
    unreadable_[i] = true;
    salvaged_.add(first + i, 1, short_cause(s));
  }
  return std::nullopt;
}

// Writes blocks [first, first+k) read into buf_: maximal runs of non-zero
// blocks as data, zero blocks as holes, unreadable ones as written zeros.
std::optional<Failure> Exporter::write_chunk(uint64_t first, uint64_t k) {
  const uint8_t* buf = buf_.data();
  for (uint64_t i = 0; i < k;) {
    const uint8_t* p = buf + i * bs_;
    if (unreadable_[i] || all_zero(p, bs_)) {
      if (!unreadable_[i]) ++c_.zero_blocks;
      if (auto f = output_failure(sink_.zeros((first + i) * bs_, bs_, unreadable_[i]))) return f;
      ++i;
      continue;
    }
    uint64_t j = i + 1;
    while (j < k && !unreadable_[j] && !all_zero(buf + j * bs_, bs_)) ++j;
    if (auto f = output_failure(sink_.data((first + i) * bs_, p, (j - i) * bs_))) return f;
    i = j;
  }
  return std::nullopt;
}

}  // namespace

std::string bad_blocks_text(const std::vector<std::pair<uint64_t, uint64_t>>& ranges) {
  uint64_t total = 0;
  for (const auto& r : ranges) total += r.second;
  std::string s = std::to_string(total) + (total == 1 ? " BAD block (" : " BAD blocks (");
  for (size_t i = 0; i < ranges.size() && i < kListedBadRanges; ++i) {
    if (i) s += ", ";
    s += block_range_text(ranges[i].first, ranges[i].second);
  }
  if (ranges.size() > kListedBadRanges)
    s += ", and " + std::to_string(ranges.size() - kListedBadRanges) + " more ranges";
  return s + ")";
}

std::optional<Failure> refuse_bad_blocks(ImageStore& store, const ExportOptions& o) {
  if (o.bad_zero || o.salvage) return std::nullopt;
  const auto bad = store.bad_ranges();
  if (bad.empty()) return std::nullopt;
  return Failure{o.image_name, "has " + bad_blocks_text(bad) + "; nothing was exported", Failure::Why::kBadBlocks};
}

std::optional<Failure> export_image(ImageStore& store, RawOutput& out, const ExportOptions& o, ExportCounts& counts) {
  if (auto f = refuse_bad_blocks(store, o)) return f;
  counts = {};
  Exporter e(store, out, o, counts);
  return e.run();
}

}  // namespace vblk::transfer
