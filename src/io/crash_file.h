#pragma once
// Power-cut simulation for the host file, after leveldb's
// db/fault_injection_test.cc and the ALICE / CrashMonkey studies.
//
// A CrashRecorder keeps the file's durable contents at the start and a log
// of every write_at, punch_hole and sync made through the Files it opens.
// Reads see every write so far, as the host's page cache does. A
// CrashReplayer then builds the contents a disk could hold after the power
// failed at any point of the log:
//
//   * everything before the last completed sync is there;
//   * each write or punch since then reached the disk or not, per Unsynced;
//   * the last operation, if a write, may be torn at any byte.
//
// The recorder also injects host errors (EIO, ENOSPC) into chosen calls.
// A failed write leaves a prefix of its bytes behind, as a short write
// does. A failed sync is logged as such: as with Linux after a writeback
// error, the writes it should have made durable are lost from the disk
// (the replayer drops them) although reads still see them, and a later
// sync does not bring them back.
// Thread safety: every method may be called from many threads.

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "io/file.h"
#include "util/mutex.h"

namespace vblk::io {

// What became of the writes not yet synced when the power failed.
enum class Unsynced : uint8_t {
  kDropAll,     // none reached the disk
  kKeepAll,     // all of them did
  kDropRandom,  // each did or did not, independently (a reordering cache)
};
const char* to_string(Unsynced u);

struct CutPoint {
  uint64_t ops = 0;  // the first `ops` logged operations had been issued
  Unsynced unsynced = Unsynced::kDropAll;
  uint64_t seed = 0;  // the choices of kDropRandom
  // When the last issued operation is a write: only its first torn_bytes
  // bytes reached the disk (it is applied whatever `unsynced` says).
  std::optional<uint64_t> torn_bytes;
};

enum class FaultHook : uint8_t { kRead, kWrite, kSync, kPunch };
const char* to_string(FaultHook h);

class CrashRecorder {
 public:
  enum class OpKind : uint8_t { kWrite, kPunch, kSync, kFailedSync };
  struct Op {
    OpKind kind = OpKind::kSync;
    uint64_t offset = 0;
    uint64_t length = 0;        // bytes written or punched
    std::vector<uint8_t> data;  // kWrite only
  };

  // `base`: the file's durable contents before the first logged operation.
  explicit CrashRecorder(std::vector<uint8_t> base);

  // A File whose operations go to this recorder. The recorder must outlive it.
  std::unique_ptr<File> open(std::string name);

  uint64_t op_count() const EXCLUDES(mu_);
  // REQUIRES: i < op_count(). A copy.
  Op op(uint64_t i) const EXCLUDES(mu_);
  // Indices of the sync operations (kSync and kFailedSync), ascending.
  std::vector<uint64_t> sync_indices() const EXCLUDES(mu_);
  const std::vector<uint8_t>& base() const { return base_; }
  // What reads see now: every logged write applied.
  std::vector<uint8_t> current() const EXCLUDES(mu_);

  // The next `times` calls through `hook` (times < 0: every call until
  // clear_faults) fail with errno `err`.
  void inject(FaultHook hook, int err, int times) EXCLUDES(mu_);
  void clear_faults() EXCLUDES(mu_);
  uint64_t faults_fired() const EXCLUDES(mu_);

 private:
  friend class RecordedFile;
  struct Fault {
    int err = 0;
    int times = 0;  // < 0: unlimited
  };
  // Returns the errno to fail this call with, or 0.
  int take_fault(FaultHook hook) REQUIRES(mu_);

  Result<size_t> read_at(uint64_t offset, std::span<uint8_t> out) EXCLUDES(mu_);
  Status write_at(const std::string& name, uint64_t offset, std::span<const uint8_t> data) EXCLUDES(mu_);
  Status sync(const std::string& name) EXCLUDES(mu_);
  Status punch_hole(const std::string& name, uint64_t offset, uint64_t length) EXCLUDES(mu_);
  uint64_t size() const EXCLUDES(mu_);

  const std::vector<uint8_t> base_;
  mutable Mutex mu_;
  std::vector<uint8_t> current_ GUARDED_BY(mu_);
  std::vector<Op> ops_ GUARDED_BY(mu_);
  Fault faults_[4] GUARDED_BY(mu_);  // by FaultHook
  uint64_t fired_ GUARDED_BY(mu_) = 0;
  std::mt19937_64 rng_ GUARDED_BY(mu_){20260601};  // where failed writes stop
};

// Builds the disk contents at increasing cut points of one recording
// without replaying it from the start each time.
class CrashReplayer {
 public:
  // The recorder must outlive the replayer and log nothing more meanwhile.
  explicit CrashReplayer(const CrashRecorder& rec);
  // The disk after a power cut at `cut`. REQUIRES: cut.ops <= op_count().
  // Cheapest when cut points come in ascending order.
  std::vector<uint8_t> materialize(const CutPoint& cut);
  // Index of the last sync (completed or failed) among the first `ops`
  // operations, or nullopt.
  std::optional<uint64_t> last_sync_before(uint64_t ops) const;

 private:
  const CrashRecorder& rec_;
  std::vector<uint64_t> syncs_;
  std::vector<uint8_t> durable_;  // the disk right after op settled_-1
  uint64_t settled_ = 0;          // ops [0, settled_) are settled in durable_
};

}  // namespace vblk::io
