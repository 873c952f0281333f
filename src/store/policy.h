#pragma once
// The store's policy: when it reclaims space, how much it keeps for reuse,
// and when it recompresses. bench/README.md ("Figures behind design
// choices") has the measurements behind the values.

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace vblk::store {

// Reclaim keeps live data at or above kCleanLiveFraction of the segments in
// use, so the file stays within about 1/kCleanLiveFraction of the live bytes.
// The maintenance thread does it; a writer helps inline only when live data
// has fallen below kUrgentLiveFraction (the thread is not keeping up).
inline constexpr double kCleanLiveFraction = 0.75;
inline constexpr double kUrgentLiveFraction = 0.6;
// Segments emptied before a checkpoint releases them: at least kCleanBatch;
// up to as many as checkpoint_log_bytes holds as the image grows
// (clean_batch()), so that reclaim makes no more checkpoints than writing
// the log itself does.
inline constexpr size_t kCleanBatch = 4;
// Below this many used segments the cleaner does not bother.
inline constexpr uint64_t kCleanMinSegments = 4;
// Released segments kept unpunched for the head to take again (the reuse
// pool): at most kReusePoolBytes and 1/kReusePoolLiveDivisor of the live
// data. Rewriting pages the host already caches and has blocks for costs
// about half as much as filling a punched hole (1 MiB incompressible
// overwrites through vblkfs, 1 GiB live: 300-320 MiB/s punching all,
// 410-440 with 64 MiB kept, 560-620 with 256 MiB). The segments in the
// release pipeline (two checkpoints' worth of log) must fit for it to pay.
// The pool is punched once the store has had no write or trim for
// kReusePoolIdle, and at close.
inline constexpr uint64_t kReusePoolBytes = 256ull << 20;
inline constexpr uint64_t kReusePoolLiveDivisor = 4;
inline constexpr std::chrono::milliseconds kReusePoolIdle{1000};


// Deferred compression (images with kFeatureDeferredCompression, whose
// level is above kDeferredWriteLevel): writes compress at
// kDeferredWriteLevel, and a payload for which that level was the best of
// the fast ones (so a higher level would likely store it smaller) is
// marked provisional. Once no request has come for kRecompressIdle, the
// maintenance thread recompresses provisional records at the image's level,
// a segment at a time, and stops at the next request. A burst of writes
// (an ext4 sync of a 1 GiB copy) is thus compressed at about the speed of
// storing it raw, and the image ends up as small as the image's level makes
// it once the disk rests (bench/run: ext4 copy of /usr).
inline constexpr int kDeferredWriteLevel = 1;
inline constexpr std::chrono::milliseconds kRecompressIdle{1000};
// Segments the pass recompresses at once (a thread each): the disk is idle,
// so its cores are the pass's. The ext4 copy of bench/run on 2 cores: 1.1 GB
// recompressed in about 10 s on one thread.
inline constexpr size_t kRecompressThreads = 2;

}  // namespace vblk::store
