// StoreImpl::check(): every index page and every record a USED block
// points at, and the checkpoint metadata the next open loads, read again
// and verified while the store stays in use.
#include "store/store_impl.h"

namespace vblk::store {

using format::IndexEntry;
using format::RecordHeader;
using format::RecordType;

// One check() in progress: its report, progress and the caller's callbacks.
struct StoreImpl::CheckRun {
  const CheckOptions& opts;
  CheckReport report;
  CheckProgress progress;

  // Reports progress; false when the caller asks to stop.
  bool report_progress() {
    if (!opts.progress) return true;
    progress.records_checked = report.records_checked;
    progress.blocks_checked = report.blocks_checked;
    progress.problems = report.problems.size();
    return opts.progress(progress);
  }
  bool keep_going() {
    report.stopped = !report_progress();
    return !report.stopped;
  }
  void add_problem(CheckProblem p) {
    if (opts.on_problem) opts.on_problem(p);
    report.problems.push_back(std::move(p));
  }
};

namespace {

// The DATA record read holds `block` where the entry says it does.
Status record_holds_block(const RecordHeader& h, size_t raw_size, uint32_t block_size, const IndexEntry& e,
                          uint64_t block) {
  if (h.type != RecordType::kData || raw_size != size_t{h.count} * block_size)
    return Status::corruption("record does not hold whole blocks");
  if (e.index_in_record >= h.count || h.first + e.index_in_record != block)
    return Status::corruption("record does not hold this block");
  return Status::ok();
}

}  // namespace

std::optional<CheckProblem> StoreImpl::verify_meta_chain() {
  // Read without mu_, as the next open would: a checkpoint taken meanwhile
  // may replace the chain and the cleaner reclaim it, so a failure counts
  // only when the chain is still the one in force.
  Status failed;
  format::MetaLocation at;
  uint64_t generation = 0;
  for (int attempt = 0; attempt < 3; ++attempt) {
    uint64_t segment_count = 0;
    {
      MutexLock lock(mu_);
      if (!chain_.present()) return std::nullopt;
      at = chain_.last;
      generation = generation_;
      segment_count = segments_.size();
    }
    auto file_size = backend_->end_of_data();
    if (!file_size) {
      failed = file_size.status();
      break;
    }
    const format::MetaBounds bounds = meta_bounds(*file_size, segment_count);
    auto links = read_meta_chain(at, generation, bounds);
    failed = links ? fold_meta_chain(*links, bounds).status() : links.status();
    if (failed) return std::nullopt;
    MutexLock lock(mu_);
    if (chain_.last == at && generation_ == generation) break;
  }
  return CheckProblem{false, 0, at.last_chunk,
                      "checkpoint metadata of generation " + std::to_string(generation) +
                          " (what the next open loads): " + failed.message()};
}

Result<CheckReport> StoreImpl::check(const CheckOptions& opts) {
  // Superblock, slot and metadata were verified by open; the metadata's
  // records are read again (a delta chain's stay needed for many
  // checkpoints). Then every index page and every record a USED block
  // points at.
  CheckRun run{opts, {}, {}};
  std::vector<uint64_t> page_nos;
  std::vector<CheckProblem> replay_problems;
  {
    MutexLock lock(mu_);
    replay_problems = replay_problems_;
    page_nos = index_.present(0, ~0ull);
  }
  for (CheckProblem& p : replay_problems) run.add_problem(std::move(p));
  if (std::optional<CheckProblem> p = verify_meta_chain()) run.add_problem(std::move(*p));
  run.progress.index_pages_total = page_nos.size();
  for (uint64_t page_no : page_nos) {
    if (!run.keep_going()) return std::move(run.report);
    run.progress.index_pages_checked++;
    std::vector<IndexEntry> entries;
    {
      MutexLock lock(mu_);
      auto page = get_page(page_no, false);
      if (!page) {
        run.add_problem(
            {false, 0, index_.stored_at(page_no).value_or(PageLocation{}).offset, page.status().message()});
        continue;
      }
      if (*page) entries = (*page)->entries;
      evict_pages();
    }
    auto stopped = check_page_blocks(page_no, entries, run);
    if (!stopped) return stopped.status();
    if (*stopped) return std::move(run.report);
  }
  run.report_progress();  // the final counts; every page was checked
  return std::move(run.report);
}

Result<bool> StoreImpl::check_page_blocks(uint64_t page_no, const std::vector<IndexEntry>& entries, CheckRun& run) {
  uint64_t last_offset = 0;
  Status last_status;
  RecordHeader h;
  RawBuffer raw;
  for (uint32_t i = 0; i < entries.size(); ++i) {
    const IndexEntry& e = entries[i];
    if (e.record_offset == 0) continue;
    const uint64_t block = page_no * sb_.entries_per_page + i;
    run.report.blocks_checked++;
    if (e.record_offset != last_offset) {
      last_offset = e.record_offset;
      last_status = reader_.read_record(e.record_offset, e.record_length, &h, &raw);
      run.report.records_checked++;
      run.progress.bytes_read += e.record_length;
      if (!run.keep_going()) return true;
    }
    // Every block of a record is checked against it, not only the first
    // one met.
    Status s = last_status ? record_holds_block(h, raw.size(), sb_.block_size, e, block) : last_status;
    IndexEntry now = e;
    if (!s) {
      auto rechecked = recheck_moved_block(block, &now);
      if (!rechecked) return rechecked.status();
      if (rechecked->has_value()) s = **rechecked;
    }
    if (!s)
      run.add_problem({true, block, now.record_offset,
                       "block " + std::to_string(block) + ": record at image offset " +
                           std::to_string(now.record_offset) + ": " + s.message()});
  }
  return false;
}

Result<std::optional<Status>> StoreImpl::recheck_moved_block(uint64_t block, IndexEntry* now) {
  // The cleaner (maintenance thread) may have moved the block and freed the
  // record since the page was copied: the block is judged by where it lives
  // now, as a read would.
  std::optional<Status> verdict;
  for (int attempt = 0; attempt < 3; ++attempt) {
    {
      MutexLock lock(mu_);
      auto fresh = get_entry(block);
      if (!fresh) return fresh.status();
      if (*fresh == *now) break;
      *now = *fresh;
    }
    if (now->record_offset == 0) return std::optional<Status>(Status::ok());
    RecordHeader h;
    RawBuffer raw;
    Status s = reader_.read_record(now->record_offset, now->record_length, &h, &raw);
    verdict = s ? record_holds_block(h, raw.size(), sb_.block_size, *now, block) : s;
    if (*verdict) break;
  }
  return verdict;
}

}  // namespace vblk::store
