#include "io/crash_file.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "io/mem_file.h"

namespace vblk::io {

const char* to_string(Unsynced u) {
  switch (u) {
    case Unsynced::kDropAll: return "drop-all";
    case Unsynced::kKeepAll: return "keep-all";
    case Unsynced::kDropRandom: return "drop-random";
  }
  return "?";
}

const char* to_string(FaultHook h) {
  switch (h) {
    case FaultHook::kRead: return "read";
    case FaultHook::kWrite: return "write";
    case FaultHook::kSync: return "sync";
    case FaultHook::kPunch: return "punch";
  }
  return "?";
}

// The File handed to the code under test: forwards to the recorder.
class RecordedFile final : public File {
 public:
  RecordedFile(CrashRecorder& rec, std::string name) : rec_(rec), name_(std::move(name)) {}
  Result<size_t> read_at(uint64_t offset, std::span<uint8_t> out) override {
    auto n = rec_.read_at(offset, out);
    if (!n) return n.status().with_prefix(name_ + ": read at offset " + std::to_string(offset));
    return n;
  }
  Status write_at(uint64_t offset, std::span<const uint8_t> data) override {
    return rec_.write_at(name_, offset, data);
  }
  Status sync() override { return rec_.sync(name_); }
  Status punch_hole(uint64_t offset, uint64_t length) override { return rec_.punch_hole(name_, offset, length); }
  Result<uint64_t> size() override { return rec_.size(); }
  Result<uint64_t> allocated_bytes() override { return rec_.size(); }
  const std::string& name() const override { return name_; }

 private:
  CrashRecorder& rec_;
  const std::string name_;
};

CrashRecorder::CrashRecorder(std::vector<uint8_t> base) : base_(std::move(base)), current_(base_) {}

std::unique_ptr<File> CrashRecorder::open(std::string name) {
  return std::make_unique<RecordedFile>(*this, std::move(name));
}

uint64_t CrashRecorder::op_count() const {
  MutexLock lock(mu_);
  return ops_.size();
}

CrashRecorder::Op CrashRecorder::op(uint64_t i) const {
  MutexLock lock(mu_);
  return ops_.at(i);
}

std::vector<uint64_t> CrashRecorder::sync_indices() const {
  MutexLock lock(mu_);
  std::vector<uint64_t> out;
  for (uint64_t i = 0; i < ops_.size(); ++i)
    if (ops_[i].kind == OpKind::kSync || ops_[i].kind == OpKind::kFailedSync) out.push_back(i);
  return out;
}

std::vector<uint8_t> CrashRecorder::current() const {
  MutexLock lock(mu_);
  return current_;
}

void CrashRecorder::inject(FaultHook hook, int err, int times) {
  MutexLock lock(mu_);
  faults_[static_cast<int>(hook)] = {err, times};
}

void CrashRecorder::clear_faults() {
  MutexLock lock(mu_);
  for (Fault& f : faults_) f = {};
}

uint64_t CrashRecorder::faults_fired() const {
  MutexLock lock(mu_);
  return fired_;
}

int CrashRecorder::take_fault(FaultHook hook) {
  Fault& f = faults_[static_cast<int>(hook)];
  if (f.err == 0 || f.times == 0) return 0;
  if (f.times > 0) --f.times;
  ++fired_;
  return f.err;
}

Result<size_t> CrashRecorder::read_at(uint64_t offset, std::span<uint8_t> out) {
  MutexLock lock(mu_);
  if (int err = take_fault(FaultHook::kRead)) return Status::from_errno(err, "injected fault");
  if (offset >= current_.size()) return size_t{0};
  size_t n = static_cast<size_t>(std::min<uint64_t>(out.size(), current_.size() - offset));
  std::memcpy(out.data(), current_.data() + offset, n);
  return n;
}

Status CrashRecorder::write_at(const std::string& name, uint64_t offset, std::span<const uint8_t> data) {
  MutexLock lock(mu_);
  const int err = take_fault(FaultHook::kWrite);
  // A failed write may still have stored a prefix of its bytes.
  const size_t n = err == 0 ? data.size() : static_cast<size_t>(rng_() % (data.size() + 1));
  if (n > 0) {
    apply_write(current_, offset, data.first(n));
    ops_.push_back({OpKind::kWrite, offset, n, {data.begin(), data.begin() + static_cast<ptrdiff_t>(n)}});
  }
  if (err) return Status::from_errno(err, name + ": write at offset " + std::to_string(offset) + " (injected fault)");
  return Status::ok();
}

Status CrashRecorder::sync(const std::string& name) {
  MutexLock lock(mu_);
  if (int err = take_fault(FaultHook::kSync)) {
    ops_.push_back({OpKind::kFailedSync, 0, 0, {}});
    return Status::from_errno(err, name + ": fdatasync (injected fault)");
  }
  ops_.push_back({OpKind::kSync, 0, 0, {}});
  return Status::ok();
}

Status CrashRecorder::punch_hole(const std::string& name, uint64_t offset, uint64_t length) {
  MutexLock lock(mu_);
  if (int err = take_fault(FaultHook::kPunch))
    return Status::from_errno(err, name + ": punch hole at offset " + std::to_string(offset) + " (injected fault)");
  apply_punch(current_, offset, length);
  ops_.push_back({OpKind::kPunch, offset, length, {}});
  return Status::ok();
}

uint64_t CrashRecorder::size() const {
  MutexLock lock(mu_);
  return current_.size();
}

// ---- replay -------------------------------------------------------------------

CrashReplayer::CrashReplayer(const CrashRecorder& rec)
    : rec_(rec), syncs_(rec.sync_indices()), durable_(rec.base()) {}

std::optional<uint64_t> CrashReplayer::last_sync_before(uint64_t ops) const {
  auto it = std::lower_bound(syncs_.begin(), syncs_.end(), ops);
  if (it == syncs_.begin()) return std::nullopt;
  return *std::prev(it);
}

namespace {
void apply_op(std::vector<uint8_t>& image, const CrashRecorder::Op& op) {
  if (op.kind == CrashRecorder::OpKind::kWrite) apply_write(image, op.offset, op.data);
  if (op.kind == CrashRecorder::OpKind::kPunch) apply_punch(image, op.offset, op.length);
}
}  // namespace

std::vector<uint8_t> CrashReplayer::materialize(const CutPoint& cut) {
  if (cut.ops < settled_) {  // an earlier cut than the last one: start over
    durable_ = rec_.base();
    settled_ = 0;
  }
  // Settle everything up to and including the last sync before the cut: a
  // completed sync makes the writes before it durable, a failed one loses them.
  if (auto last = last_sync_before(cut.ops); last && *last >= settled_) {
    std::vector<CrashRecorder::Op> pending;
    for (uint64_t i = settled_; i <= *last; ++i) {
      CrashRecorder::Op op = rec_.op(i);
      if (op.kind == CrashRecorder::OpKind::kSync) {
        for (auto& p : pending) apply_op(durable_, p);
        pending.clear();
      } else if (op.kind == CrashRecorder::OpKind::kFailedSync) {
        pending.clear();
      } else {
        pending.push_back(std::move(op));
      }
    }
    settled_ = *last + 1;
  }
  std::vector<uint8_t> image = durable_;
  std::mt19937_64 rng(cut.seed);
  for (uint64_t i = settled_; i < cut.ops; ++i) {
    CrashRecorder::Op op = rec_.op(i);
    const bool last = i + 1 == cut.ops;
    if (last && cut.torn_bytes && op.kind == CrashRecorder::OpKind::kWrite) {
      op.data.resize(std::min<uint64_t>(*cut.torn_bytes, op.data.size()));
      apply_op(image, op);
      continue;
    }
    bool keep = cut.unsynced == Unsynced::kKeepAll || (cut.unsynced == Unsynced::kDropRandom && (rng() & 1));
    if (keep) apply_op(image, op);
  }
  return image;
}

}  // namespace vblk::io
