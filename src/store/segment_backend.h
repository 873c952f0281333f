#pragma once
// SegmentBackend: where an image's bytes live. Everything the store keeps
// goes through this one interface:
//
//   the header area  [0, data_start): the superblock and the two checkpoint
//                    slots; small, rewritten in place;
//   segments         numbered from 0, segment_size bytes each: the log.
//                    The open segment (the log head) is appended to front to
//                    back; once the head moves on it is sealed and only read,
//                    until the store releases it (its data is needed by no
//                    checkpoint any more) and may open it again, from byte 0.
//
// Addresses. Index entries and checkpoint metadata name records by their
// address in one byte space: data_start + segment * segment_size + pos (on
// a single-file image, the file offset). A backend maps that to its own
// storage: the file backend (file_backend.h) one to one; an object store
// one object per segment; a set of member files a stripe per segment.
//
// Writes in place inside a segment are limited to overwrite() (cutting the
// log after a power cut or a failed sync, and fault injection) and
// discard() (the bytes of an append that failed).
//
// Thread safety: reads may run concurrently with each other and with one
// writer; the store serializes appends, overwrites, discards and releases
// (under its mutex, or, for release, on segments no one else may touch).
//
// src/store/README.md describes the seam and what a new backend implements.

#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "format/format.h"
#include "vblk/status.h"

namespace vblk::store {

// How much storage an image takes.
struct BackendSpace {
  uint64_t allocated_bytes = 0;  // what the host has allocated for it
  uint64_t apparent_bytes = 0;   // the size it shows (a file's size)
};

class SegmentBackend {
 public:
  SegmentBackend() = default;
  SegmentBackend(const SegmentBackend&) = delete;
  SegmentBackend& operator=(const SegmentBackend&) = delete;
  virtual ~SegmentBackend() = default;

  // What the image is called in messages (its path).
  virtual const std::string& name() const = 0;

  // ---- the header area ----
  // Reads up to out.size() bytes at offset (< data_start); fewer only
  // where nothing was ever written.
  virtual Result<size_t> read_header(uint64_t offset, std::span<uint8_t> out) = 0;
  virtual Status write_header(uint64_t offset, std::span<const uint8_t> data) = 0;
  // The superblock has been read (or written): its geometry applies to
  // every segment call from now on.
  virtual void set_geometry(const format::Superblock& sb) = 0;

  // ---- segments ----
  // Reads into the parts, back to back, from byte pos of segment seg; fewer
  // bytes only past what the segment holds (never into the next one).
  virtual Result<size_t> read(uint64_t seg, uint32_t pos, std::span<const std::span<uint8_t>> parts) = 0;
  // Appends the parts at byte pos of the open segment seg: where the last
  // append to it ended, or 0 when the store opens it.
  virtual Status append(uint64_t seg, uint32_t pos, std::span<const std::span<const uint8_t>> parts) = 0;
  // The log head moved on from seg: no more appends to it.
  virtual void seal(uint64_t seg) = 0;
  // Writes data over bytes of seg already written.
  virtual Status overwrite(uint64_t seg, uint32_t pos, std::span<const uint8_t> data) = 0;
  // [pos, pos + length) of seg holds nothing any more; reads there return
  // zeros (the bytes of an append that failed part way).
  virtual Status discard(uint64_t seg, uint32_t pos, uint32_t length) = 0;
  // No checkpoint needs seg's data: its storage may go. It reads as zeros
  // until the store opens it again.
  virtual Status release(uint64_t seg) = 0;

  // Every write so far is durable when this returns ok.
  virtual Status sync() = 0;
  // An address past every byte stored (for a file, its size): where a
  // scan of the segments ends, and a bound on what a damaged checkpoint
  // may name.
  virtual Result<uint64_t> end_of_data() = 0;
  virtual Result<BackendSpace> space() = 0;

  // ---- healing ----
  // Whether bytes read back are the record they should be (its checksums).
  using RecordCheck = std::function<bool(std::span<const uint8_t>)>;
  // The out.size() bytes at byte pos of seg, a record, failed `check` as
  // read. A backend that keeps redundancy rebuilds them from it, puts the
  // copy that passes `check` into out and repairs its storage; one that
  // keeps none (a single file) has nothing to offer: Corruption, out left
  // as it was. Never fills out with bytes that failed `check`.
  virtual Status heal(uint64_t seg, uint32_t pos, std::span<uint8_t> out, const RecordCheck& check) {
    (void)seg, (void)pos, (void)out, (void)check;
    return Status::corruption(name() + ": no redundancy to rebuild a damaged record from");
  }
};

}  // namespace vblk::store
