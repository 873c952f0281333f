#pragma once
// The group-commit queue's entry (group_commit.cc): concurrent
// write_blocks() calls queue up and the front one appends for all.

#include <condition_variable>
#include <cstdint>
#include <vector>

#include "store/log_writer.h"
#include "vblk/status.h"

namespace vblk::store {

// A write_blocks() call waiting in the group-commit queue (group_commit.cc).
struct WriteWaiter {
  uint64_t first = 0, count = 0;
  std::vector<PendingRecord>* records = nullptr;
  Status status;
  bool done = false;
  std::condition_variable_any cv;  // waits on StoreImpl::queue_mu_
};

}  // namespace vblk::store
