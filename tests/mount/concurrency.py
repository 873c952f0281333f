#!/usr/bin/env python3
"""Concurrent writers and readers on a vblkfs disk file, checked against a model.

  concurrency.py run DISK MODEL     write concurrently, verify, save the model to MODEL
  concurrency.py verify DISK MODEL  compare the whole disk against a saved model

The model is a bytearray the size of the disk. Each write is applied to the
model only by the thread that owns the bytes it touches, so the expected
content is well defined even though the writes race in the daemon:

  phase "chunks":  each writer owns one contiguous quarter of the first half of
                   the disk and writes large unaligned ranges (up to 3 MiB,
                   split by the kernel into several FUSE requests) inside it.
  phase "stripes": the second half is cut into 64 KiB stripes; writer w owns
                   stripes s with s % WRITERS == w (so neighbouring stripes, and
                   the blocks at their edges, belong to different writers) and
                   writes random sizes at unaligned offsets inside its stripes,
                   punches holes in them now and then (fallocate), and reads
                   back what it wrote (read-your-writes under concurrency).
  phase "shared":  ranges of several blocks (byte-disjoint, but sharing blocks)
                   are cut at random unaligned points into byte-disjoint pieces
                   handed to the writers in turn; all writers walk the same
                   ranges in the same order, so they read-modify-write the
                   same 4 KiB blocks at the same time.
                   A lost update shows as stale bytes in a shared block.
                   (The open reply asks the kernel for parallel direct
                   writes, so these synchronous writes reach the daemon at
                   the same time and race in the driver's read-modify-write;
                   parallel_writes.sh checks that they do.)

Readers run throughout: some re-read a frozen region written before the
phases start (must never change), one through O_DIRECT with aligned buffers;
others read random ranges anywhere (only the length is checked).
"""
import ctypes
import ctypes.util
import mmap
import os
import random
import sys
import threading
import time

WRITERS = 4
STRIPE = 64 << 10
BLOCK = 4096
FALLOC_FL_KEEP_SIZE = 1
FALLOC_FL_PUNCH_HOLE = 2

libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong]


def punch(fd, off, length):
    if libc.fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, length) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"fallocate punch [{off}, +{length}): {os.strerror(e)}")


def payload(rng, n):
    """Random bytes, sometimes compressible, sometimes all zero."""
    kind = rng.random()
    if kind < 0.1:
        return bytes(n)
    if kind < 0.4:
        pat = rng.randbytes(rng.randint(1, 64))
        return (pat * (n // len(pat) + 1))[:n]
    return rng.randbytes(n)


def pwrite_all(fd, data, off):
    done = 0
    while done < len(data):
        n = os.pwrite(fd, data[done:], off + done)
        if n <= 0:
            raise OSError(f"pwrite at {off + done} wrote {n}")
        done += n


def pread_all(fd, n, off):
    parts, done = [], 0
    while done < n:
        b = os.pread(fd, n - done, off + done)
        if not b:
            raise OSError(f"pread at {off + done}: unexpected end of file")
        parts.append(b)
        done += len(b)
    return b"".join(parts)


class Failure(Exception):
    pass


def first_diff(a, b):
    for i in range(len(a)):
        if a[i] != b[i]:
            return i
    return -1


class Run:
    def __init__(self, disk, seed):
        self.disk = disk
        self.size = os.stat(disk).st_size
        self.model = bytearray(self.size)
        self.seed = seed
        self.errors = []
        self.stop_readers = threading.Event()
        self.counts = {}
        self.lock = threading.Lock()
        # Layout: [0, frozen) written once before the phases; then chunks;
        # then stripes; the shared ranges reuse the chunk area.
        self.frozen = 8 << 20
        self.chunk_area = (self.frozen, self.size // 2)
        self.stripe_area = (self.size // 2, self.size)

    def count(self, what, n=1):
        with self.lock:
            self.counts[what] = self.counts.get(what, 0) + n

    def guard(self, fn, *args):
        try:
            fn(*args)
        except BaseException as e:  # noqa: B902 - report everything
            self.errors.append(f"{fn.__name__}{args[:1]}: {type(e).__name__}: {e}")
            self.stop_readers.set()

    def write(self, fd, off, data):
        pwrite_all(fd, data, off)
        self.model[off:off + len(data)] = data
        self.count("writes")
        self.count("bytes written", len(data))

    # --- phases -------------------------------------------------------------
    def chunks_writer(self, w, ops):
        rng = random.Random(self.seed * 100 + w)
        lo, hi = self.chunk_area
        part = (hi - lo) // WRITERS
        start, end = lo + w * part, lo + (w + 1) * part
        fd = os.open(self.disk, os.O_RDWR)
        try:
            for _ in range(ops):
                n = rng.randint(1, 3 << 20)
                off = rng.randint(start, end - n)
                self.write(fd, off, payload(rng, n))
        finally:
            os.close(fd)

    def stripes_writer(self, w, ops):
        rng = random.Random(self.seed * 100 + 50 + w)
        lo, hi = self.stripe_area
        mine = [s for s in range((hi - lo) // STRIPE) if s % WRITERS == w]
        fd = os.open(self.disk, os.O_RDWR)
        try:
            for i in range(ops):
                s = lo + rng.choice(mine) * STRIPE
                off = s + rng.randint(0, STRIPE - 1)
                n = rng.randint(1, s + STRIPE - off)
                if rng.random() < 0.08:
                    punch(fd, off, n)
                    self.model[off:off + n] = bytes(n)
                    self.count("punches")
                else:
                    self.write(fd, off, payload(rng, n))
                if rng.random() < 0.3:
                    got = pread_all(fd, n, off)
                    want = bytes(self.model[off:off + n])
                    if got != want:
                        d = first_diff(got, want)
                        raise Failure(f"read-your-writes: byte {off + d} (block {(off + d) // BLOCK}) "
                                      f"reads {got[d]:#x}, expected {want[d]:#x}")
                    self.count("read-your-writes checks")
                if i % 97 == 0:
                    os.fsync(fd)
        finally:
            os.close(fd)

    def shared_writer(self, w, pieces):
        rng = random.Random(self.seed * 100 + 80 + w)
        fd = os.open(self.disk, os.O_RDWR)
        try:
            for off, n in pieces:
                self.write(fd, off, payload(rng, n))
        finally:
            os.close(fd)

    # --- readers --------------------------------------------------------------
    def frozen_reader(self, r, direct):
        rng = random.Random(self.seed * 100 + 90 + r)
        flags = os.O_RDONLY | (os.O_DIRECT if direct else 0)
        fd = os.open(self.disk, flags)
        buf = mmap.mmap(-1, 1 << 20)  # page aligned, for O_DIRECT
        try:
            while not self.stop_readers.is_set():
                if direct:
                    n = rng.randint(1, 256) * BLOCK
                    off = rng.randrange(0, self.frozen - n + 1, BLOCK)
                    got = os.preadv(fd, [memoryview(buf)[:n]], off)
                    if got != n:
                        raise Failure(f"O_DIRECT read at {off} returned {got} of {n}")
                    data = buf[:n]
                else:
                    n = rng.randint(1, 1 << 20)
                    off = rng.randint(0, self.frozen - n)
                    data = pread_all(fd, n, off)
                want = bytes(self.model[off:off + n])
                if data != want:
                    d = first_diff(data, want)
                    raise Failure(f"frozen region changed: byte {off + d} (block {(off + d) // BLOCK})")
                self.count("frozen reads")
        finally:
            buf.close()
            os.close(fd)

    def random_reader(self, r):
        rng = random.Random(self.seed * 100 + 95 + r)
        fd = os.open(self.disk, os.O_RDONLY)
        try:
            while not self.stop_readers.is_set():
                n = rng.randint(1, 2 << 20)
                off = rng.randint(0, self.size - n)
                if len(pread_all(fd, n, off)) != n:
                    raise Failure("short read")
                self.count("racing reads")
        finally:
            os.close(fd)

    # --- driver ---------------------------------------------------------------
    def phase(self, name, targets):
        t0 = time.monotonic()
        threads = [threading.Thread(target=self.guard, args=(fn, *args)) for fn, args in targets]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print(f"phase {name}: {time.monotonic() - t0:.1f} s", flush=True)
        if self.errors:
            raise Failure("; ".join(self.errors))

    def run(self):
        rng = random.Random(self.seed)
        fd = os.open(self.disk, os.O_RDWR)
        self.write(fd, 0, payload(rng, self.frozen))
        os.fsync(fd)
        os.close(fd)

        readers = [threading.Thread(target=self.guard, args=(self.frozen_reader, 0, False)),
                   threading.Thread(target=self.guard, args=(self.frozen_reader, 1, True)),
                   threading.Thread(target=self.guard, args=(self.random_reader, 0))]
        for t in readers:
            t.start()
        try:
            self.phase("chunks", [(self.chunks_writer, (w, 40)) for w in range(WRITERS)])
            self.phase("stripes", [(self.stripes_writer, (w, 1500)) for w in range(WRITERS)])
            # Shared: 1500 ranges of 1..6 blocks over the chunk area, each cut
            # into WRITERS..3*WRITERS byte-disjoint pieces dealt round-robin.
            # The ranges are byte-disjoint too (they may share blocks): the
            # writers are not in step, so two ranges overlapping in bytes
            # could be written at once by different writers, and the model
            # would not know which write the disk holds.
            lo, hi = self.chunk_area
            per_writer = [[] for _ in range(WRITERS)]
            taken = []  # (start, end) of the ranges chosen so far
            while len(taken) < 1500:
                length = rng.randint(1, 6) * BLOCK
                start = rng.randrange(lo, hi - length, BLOCK) + rng.randint(0, BLOCK - 1)
                if any(start < end and begin < start + length for begin, end in taken):
                    continue
                taken.append((start, start + length))
                k = rng.randint(WRITERS, 3 * WRITERS)
                cuts = sorted(rng.sample(range(1, length), k - 1))
                bounds = [0] + cuts + [length]
                for i in range(k):
                    per_writer[i % WRITERS].append((start + bounds[i], bounds[i + 1] - bounds[i]))
            self.phase("shared", [(self.shared_writer, (w, per_writer[w])) for w in range(WRITERS)])
        finally:
            self.stop_readers.set()
            for t in readers:
                t.join()
        if self.errors:
            raise Failure("; ".join(self.errors))
        fd = os.open(self.disk, os.O_RDWR)
        os.fsync(fd)
        os.close(fd)
        print(", ".join(f"{k}: {v}" for k, v in sorted(self.counts.items())), flush=True)


def verify(disk, model_path):
    size = os.stat(disk).st_size
    if os.stat(model_path).st_size != size:
        raise Failure(f"model is {os.stat(model_path).st_size} bytes, disk {size}")
    step = 4 << 20
    bad = []
    with open(disk, "rb", buffering=0) as d, open(model_path, "rb") as m:
        for off in range(0, size, step):
            got = pread_all(d.fileno(), min(step, size - off), off)
            want = m.read(step)
            if got != want:
                for b in range(0, len(got), BLOCK):
                    if got[b:b + BLOCK] != want[b:b + BLOCK]:
                        i = first_diff(got[b:b + BLOCK], want[b:b + BLOCK])
                        bad.append(f"block {(off + b) // BLOCK} (first wrong byte {off + b + i})")
                        if len(bad) >= 10:
                            break
            if len(bad) >= 10:
                break
    if bad:
        raise Failure("disk differs from the model: " + ", ".join(bad))
    print(f"whole disk ({size} bytes) matches the model", flush=True)


def main():
    mode, disk, model_path = sys.argv[1:4]
    try:
        if mode == "run":
            seed = int(os.environ.get("SEED", "") or random.randrange(1 << 30))
            print(f"seed {seed} (rerun with SEED={seed})", flush=True)
            r = Run(disk, seed)
            r.run()
            with open(model_path, "wb") as f:
                f.write(r.model)
            verify(disk, model_path)
        else:
            verify(disk, model_path)
    except Failure as e:
        print(f"FAIL: {e}", file=sys.stderr, flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
