// Group commit: write_blocks() calls that find another one appending queue
// up behind it; the call at the front of the queue (the leader) appends the
// records of every queued call, back to back, in one host write per
// segment they fill, and applies them; the others only wait to be told how
// their write went. With many writers of several records each (1 MiB
// writes at a queue depth of 16) this turns one pwritev and one hand-over
// of mu_ per write into one per batch. A write of one record does not
// queue (write_blocks says why).
//
// A failed host write of several records may have landed in part. Those
// bytes must not survive: the head stays where it was, the next records
// are written there again, and a leftover record of the failed batch that
// happened to line up behind them (same length, next seq) would be
// replayed. So the range is punched before anything else is written, and
// if even that fails the store refuses writes until it is opened again.
#include <spdlog/spdlog.h>

#include "store/store_impl.h"

namespace vblk::store {

void StoreImpl::commit_writes_locked(const std::vector<WriteWaiter*>& batch) {
  struct Item {
    WriteWaiter* waiter;
    PendingRecord* rec;
  };
  std::vector<Item> items;
  for (WriteWaiter* w : batch) {
    w->status = check_writable();
    // Checked again: a resize may have moved the end since write_blocks() did.
    if (w->status) w->status = check_range(w->first, w->count);
    if (w->status) {
      if (auto bad = bad_.first_in(w->first, w->count))
        w->status = Status::bad_block("block " + std::to_string(*bad) + " is BAD");
    }
    if (!w->status) continue;
    for (PendingRecord& rec : *w->records) items.push_back({w, &rec});
  }
  auto fail_from = [&](size_t i, const Status& s) {
    for (; i < items.size(); ++i)
      if (items[i].waiter->status) items[i].waiter->status = s;
  };
  if (Status s = items.empty() ? Status::ok() : start_generation_locked(); !s) {
    fail_from(0, s);
    return;
  }
  std::vector<PlacedRecord> placed;
  std::vector<std::span<const uint8_t>> parts;
  for (size_t i = 0; i < items.size();) {
    // One group: the records that lie back to back from the head on; only
    // the first may open a segment.
    placed.clear();
    parts.clear();
    HeadPosition at = log_.head();
    for (size_t j = i; j < items.size(); ++j) {
      auto p = log_.place(*items[j].rec, at, generation_, segments_.next_to_open());
      if (!p || (j > i && p->new_segment)) {
        if (j == i) {
          // Cannot be placed at all (larger than a segment): fails alone.
          fail_from(i, p.status());
          return;
        }
        break;
      }
      placed.push_back(*p);
      at = {p->seg, p->end_fill, at.seq + 1};
    }
    for (size_t k = 0; k < placed.size(); ++k) LogWriter::append_parts(*items[i + k].rec, placed[k], &parts);
    if (Status s = log_.write(placed.front(), parts); !s) {
      if (placed.size() > 1) {
        if (Status p = log_.discard(placed.front(), placed.back()); !p) {
          broken_ = true;
          spdlog::error("{}: could not discard a failed write of {} records at offset {}: {}; refusing writes "
                        "until the image is opened again",
                        backend_->name(), placed.size(), placed.front().write_at, p.to_string());
        }
      }
      fail_from(i, s);
      return;
    }
    for (size_t k = 0; k < placed.size(); ++k, ++i) {
      log_.commit(*items[i].rec, placed[k], segments_);
      // The record is in the log now; a failure to apply it (an index page
      // that cannot be read) fails its write, as append_and_apply does.
      if (Status a = apply_record(items[i].rec->header, placed[k].offset); !a && items[i].waiter->status)
        items[i].waiter->status = a;
    }
  }
}

}  // namespace vblk::store
