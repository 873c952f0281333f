#!/usr/bin/env python3
"""The member-set mount test's data: writing a mixed workload, building a
tree, and reading a disk back block by block.

  write-raw DISK EXPECT MIB    MIB of writes at scattered offsets into DISK
                               (a vblkfs disk file), half compressible text,
                               half random, 4 KiB to 1 MiB each; the same
                               bytes into EXPECT (a sparse file of the same
                               size), whose sha256 the disk must match
  make-tree DIR MIB            files of MIB in all under DIR, mixed the same way
  compare DISK EXPECT          reads DISK with O_DIRECT 1 MiB at a time, every
                               request that fails again 4 KiB at a time; every
                               block that reads must equal EXPECT's, the ones
                               that fail must fail with EIO; prints
                               "good N eio N wrong N"
Deterministic: a fixed seed, so that a failure can be replayed.
"""
import errno
import mmap
import os
import random
import sys

BLOCK = 4096
rng = random.Random(20261207)
WORDS = [b"segment", b"member", b"parity", b"stripe", b"rebuild", b"box", b"group", b"chunk", b"vblk", b"\n"]


# Text zstd shrinks: 64 KiB pieces of words, each used at a random rotation.
TEXT = [b" ".join(rng.choice(WORDS) for _ in range(16384))[:65536] for _ in range(16)]


def payload(n):
    """n bytes: 64 KiB pieces, half of them random, half text."""
    out = bytearray()
    while len(out) < n:
        piece = min(65536, n - len(out))
        if rng.random() < 0.5:
            out += rng.randbytes(piece)
        else:
            t = rng.choice(TEXT)
            r = rng.randrange(65536)
            out += (t[r:] + t[:r])[:piece]
    return bytes(out)


def write_raw(disk, expect, mib):
    size = os.path.getsize(disk)
    with open(expect, "wb") as f:
        f.truncate(size)
    total = mib << 20
    done = 0
    fd = os.open(disk, os.O_WRONLY)
    ed = os.open(expect, os.O_WRONLY)
    try:
        while done < total:
            n = min(rng.choice([BLOCK, 16 * BLOCK, 64 * BLOCK, 256 * BLOCK]), total - done)
            off = rng.randrange(0, (size - n) // BLOCK + 1) * BLOCK
            data = payload(n)
            os.pwrite(fd, data, off)
            os.pwrite(ed, data, off)
            done += n
        os.fsync(fd)
    finally:
        os.close(fd)
        os.close(ed)


def make_tree(top, mib):
    total = mib << 20
    done = 0
    i = 0
    while done < total:
        n = min(rng.choice([BLOCK, 3 * BLOCK, 40 * BLOCK, 256 * BLOCK, 1024 * BLOCK]), total - done)
        d = os.path.join(top, f"d{i % 7}", f"e{i % 3}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"f{i:05d}"), "wb") as f:
            f.write(payload(n)[: n - rng.randrange(0, 100)])
        done += n
        i += 1


def compare(disk, expect):
    size = os.path.getsize(expect)
    fd = os.open(disk, os.O_RDONLY | os.O_DIRECT)
    buf = mmap.mmap(-1, 1 << 20)
    counts = {"good": 0, "eio": 0, "wrong": 0}
    first_wrong = None
    with open(expect, "rb") as ef:
        for off in range(0, size, 1 << 20):
            n = min(1 << 20, size - off)
            want = ef.read(n)
            try:
                got = os.preadv(fd, [memoryview(buf)[:n]], off)
                blocks = [(off + b, buf[b:b + BLOCK]) for b in range(0, got, BLOCK)]
            except OSError as e:
                if e.errno != errno.EIO:
                    raise
                blocks = []
                for b in range(0, n, BLOCK):
                    try:
                        os.preadv(fd, [memoryview(buf)[:BLOCK]], off + b)
                        blocks.append((off + b, buf[:BLOCK]))
                    except OSError as e2:
                        if e2.errno != errno.EIO:
                            raise
                        counts["eio"] += 1
            for at, data in blocks:
                if data == want[at - off:at - off + BLOCK]:
                    counts["good"] += 1
                else:
                    counts["wrong"] += 1
                    first_wrong = first_wrong if first_wrong is not None else at
    os.close(fd)
    print(f"good {counts['good']} eio {counts['eio']} wrong {counts['wrong']}")
    if first_wrong is not None:
        print(f"first wrong block at byte {first_wrong}", file=sys.stderr)


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "write-raw":
        write_raw(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif cmd == "make-tree":
        make_tree(sys.argv[2], int(sys.argv[3]))
    elif cmd == "compare":
        compare(sys.argv[2], sys.argv[3])
    else:
        sys.exit(f"member_workload.py: unknown command {cmd}")
