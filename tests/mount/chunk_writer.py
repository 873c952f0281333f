#!/usr/bin/env python3
"""Numbered-chunk writer for the lifecycle test.

  chunk_writer.py write DISK ACK   write chunk 0, 1, 2, ... (64 KiB each, at
                                   k * 64 KiB) until an error or the end of the
                                   disk; fsync after every 16th chunk.
  chunk_writer.py verify DISK ACK  check the chunks that ACK says were
                                   acknowledged.

ACK holds two numbers, rewritten after every step: the last chunk covered by
a completed fsync, and the last chunk whose write() returned. Each is
recorded only after the call returned, so it never claims too much.
Chunk contents are deterministic and mostly incompressible: every 4 KiB
sector starts with its chunk and sector number.
"""
import os
import random
import sys

CHUNK = 64 << 10
SECTOR = 4096
FSYNC_EVERY = 16
_POOL = random.Random(20240).randbytes(1 << 20)


def chunk(k):
    parts = []
    for s in range(CHUNK // SECTOR):
        head = f"chunk {k:08d} sector {s:02d}\n".encode()
        start = ((k * 16 + s) * 4093) % (len(_POOL) - SECTOR)
        parts.append(head + _POOL[start:start + SECTOR - len(head)])
    return b"".join(parts)


def write(disk, ack):
    fd = os.open(disk, os.O_WRONLY)
    afd = os.open(ack, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    synced = written = -1

    def record():
        os.pwrite(afd, f"{synced:10d} {written:10d}\n".encode(), 0)

    record()
    n = os.fstat(fd).st_size // CHUNK
    try:
        for k in range(n):
            data = chunk(k)
            if os.pwrite(fd, data, k * CHUNK) != CHUNK:
                raise OSError(f"short write of chunk {k}")
            written = k
            record()
            if k % FSYNC_EVERY == FSYNC_EVERY - 1:
                os.fsync(fd)
                synced = k
                record()
        print(f"writer: reached the end of the disk ({n} chunks)", flush=True)
    except OSError as e:
        print(f"writer: stopped after chunk {written} (fsync'ed up to {synced}): {e}", flush=True)


def verify(disk, ack):
    synced, written = (int(x) for x in open(ack).read().split())
    fd = os.open(disk, os.O_RDONLY)
    bad = []
    for k in range(written + 1):
        if os.pread(fd, CHUNK, k * CHUNK) != chunk(k):
            bad.append(k)
    nxt = os.pread(fd, CHUNK, (written + 1) * CHUNK)
    state = "whole" if nxt == chunk(written + 1) else "absent" if nxt == bytes(CHUNK) else "partial"
    print(f"verify: acknowledged writes: chunks 0..{written}, fsync'ed: 0..{synced}; "
          f"the next chunk (in flight) is {state}", flush=True)
    lost_synced = [k for k in bad if k <= synced]
    lost_acked = [k for k in bad if k > synced]
    if lost_synced:
        print(f"FAIL: {len(lost_synced)} fsync'ed chunks wrong after remount, first {lost_synced[:10]}", file=sys.stderr)
    if lost_acked:
        print(f"FAIL: {len(lost_acked)} acknowledged (not yet fsync'ed) chunks wrong after a clean shutdown, "
              f"first {lost_acked[:10]}", file=sys.stderr)
    if written < 0:
        print("FAIL: the writer never completed a write", file=sys.stderr)
    sys.exit(1 if bad or written < 0 else 0)


if __name__ == "__main__":
    {"write": write, "verify": verify}[sys.argv[1]](sys.argv[2], sys.argv[3])
