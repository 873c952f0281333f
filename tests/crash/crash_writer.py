#!/usr/bin/env python3
"""Writers and checkers for the crash suite.

Raw disk (the file vblkfs exposes):
  crash_writer.py raw-write DISK STATE ROUND
      writes batches of numbered 64 KiB chunks over a 64 MiB region of the
      disk, pass after pass (each round starts elsewhere), fsync after every
      batch; until an error.
  crash_writer.py raw-verify DISK STATE ROUND
      every chunk holds what the last acknowledged batch that wrote it put
      there (or what the previous check found); a chunk of a batch that was
      in flight holds its new or its old contents, whole; never anything
      else. The state found becomes the baseline of the next round.

Files (ext4 on a loop device on the disk):
  crash_writer.py fs-write DIR STATE ROUND
      writes batches of 4 files, fsyncs each and the directory; first
      removes the oldest rounds' files while the filesystem is over half full.
  crash_writer.py fs-verify DIR STATE ROUND
      every file of an acknowledged batch, of every round so far, is there
      with its contents.

Host full (ENOSPC):
  crash_writer.py fill DISK STATE START [COUNT]
      writes incompressible 1 MiB chunks from chunk START on (COUNT of
      them, or until the end of the disk), fsync every 4, until an error;
      prints "ERRNO NAME CHUNK" (NAME none when all were written); records
      acknowledged chunks.
  crash_writer.py fill-verify DISK STATE
      every acknowledged chunk reads back.

STATE is a directory; acknowledgements are recorded there only after the
call that made them durable returned, so they never claim too much.
"""
import errno
import hashlib
import json
import os
import random
import sys

CHUNK = 64 << 10
BATCH = 16              # chunks per batch (1 MiB)
REGION = 1024           # chunks (64 MiB)
HEAD = 64               # bytes of the chunk header


def chunk_bytes(rnd, batch, idx):
    head = f"vblk crash round {rnd:04d} batch {batch:06d} chunk {idx:06d}\n".encode().ljust(HEAD, b".")
    seed = hashlib.sha256(head).digest()
    body = random.Random(seed).randbytes(CHUNK // 2 - HEAD)
    # Half random, half repeated: compresses to about half.
    return head + body + bytes([seed[0]]) * (CHUNK // 2)


def parse_chunk(data):
    """(round, batch, idx) the chunk claims to be, 'zero', or None (garbage)."""
    if data == bytes(len(data)):
        return "zero"
    try:
        words = data[:HEAD].decode().split()
        rnd, batch, idx = int(words[3]), int(words[5]), int(words[7])
    except (UnicodeDecodeError, ValueError, IndexError):
        return None
    return (rnd, batch, idx) if chunk_bytes(rnd, batch, idx) == data else None


def batch_chunks(rnd, batch):
    start = (rnd * 389) % REGION
    return [(start + batch * BATCH + i) % REGION for i in range(BATCH)]


def record(state, name, value):
    tmp = os.path.join(state, name + ".tmp")
    with open(tmp, "w") as f:
        f.write(json.dumps(value))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, os.path.join(state, name))


def load(state, name, default):
    try:
        with open(os.path.join(state, name)) as f:
            return json.load(f)
    except FileNotFoundError:
        return default


def raw_write(disk, state, rnd):
    rnd = int(rnd)
    fd = os.open(disk, os.O_WRONLY)
    acked = started = -1
    batches = 1 << 20  # until the daemon dies: passes over the region overwrite each other
    try:
        for b in range(batches):
            started = b
            record(state, f"raw-{rnd}", {"started": started, "acked": acked})
            for idx in batch_chunks(rnd, b):
                if os.pwrite(fd, chunk_bytes(rnd, b, idx), idx * CHUNK) != CHUNK:
                    raise OSError("short write")
            os.fsync(fd)
            acked = b
            record(state, f"raw-{rnd}", {"started": started, "acked": acked})
        print(f"raw writer round {rnd}: all {batches} batches written", flush=True)
    except OSError as e:
        print(f"raw writer round {rnd}: stopped in batch {started} (acknowledged up to {acked}): {e}", flush=True)


def raw_verify(disk, state, rnd):
    rnd = int(rnd)
    prog = load(state, f"raw-{rnd}", {"started": -1, "acked": -1})
    base = load(state, "raw-baseline", {})  # chunk -> [round, batch] or "zero"
    # What each chunk must hold, and what it may hold instead.
    must, may = {}, {}
    for b in range(prog["started"] + 1):
        for idx in batch_chunks(rnd, b):
            if b <= prog["acked"]:
                must[idx] = (rnd, b, idx)
                may.pop(idx, None)
            else:
                may.setdefault(idx, []).append((rnd, b, idx))
    fd = os.open(disk, os.O_RDONLY)
    bad = []
    new_base = {}
    for idx in range(REGION):
        got = parse_chunk(os.pread(fd, CHUNK, idx * CHUNK))
        old = base.get(str(idx), "zero")
        old = tuple(old) + (idx,) if old != "zero" else "zero"
        want = must.get(idx, old)
        ok = [want] + may.get(idx, [])
        if got not in ok:
            bad.append((idx, got, ok))
        new_base[str(idx)] = list(got[:2]) if isinstance(got, tuple) else "zero"
    os.close(fd)
    print(f"raw verify round {rnd}: {prog['acked'] + 1} batches acknowledged, "
          f"{prog['started'] - prog['acked']} in flight; {REGION - len(bad)}/{REGION} chunks as expected", flush=True)
    for idx, got, ok in bad[:5]:
        print(f"FAIL: chunk {idx} holds {'garbage' if got is None else got}, expected one of {ok}", file=sys.stderr)
    if bad:
        sys.exit(1)
    record(state, "raw-baseline", new_base)


def file_bytes(rnd, batch, i):
    seed = hashlib.sha256(f"file {rnd} {batch} {i}".encode()).digest()
    rng = random.Random(seed)
    n = rng.randrange(16 << 10, 256 << 10)
    return rng.randbytes(n // 2) + bytes(n - n // 2)


def write_all(fd, data):
    """write(2) may write less than asked (a filesystem nearly full)."""
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def describe_difference(got, want):
    """Where a file read back departs from what was written, for the log."""
    at = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
    what = f"{len(got)} bytes read, {len(want)} written, first difference at byte {at}"
    if at < len(got):
        tail = got[at:]
        run = len(tail) - len(tail.lstrip(b"\0"))
        what += f" (4 KiB block {at // 4096}; {run} zero bytes from there)"
    return what


def make_room(d, dfd, state, rnd):
    """Removes the files of the oldest rounds until half the filesystem is
    free, so every round writes (and the removals trim the disk under the
    kill too). A round is forgotten before its files go: a kill halfway
    leaves files nobody checks, never a check of files half gone."""
    for r in range(1, rnd):
        st = os.statvfs(d)
        if st.f_bavail * 2 >= st.f_blocks:
            return
        prog = load(state, f"fs-{r}", {"acked": -1})
        if "removed" in prog:
            continue
        acked = prog["acked"]
        record(state, f"fs-{r}", {"acked": -1, "removed": acked + 1})
        for b in range(acked + 2):  # the batch in flight too, if it left files
            for i in range(4):
                try:
                    os.unlink(os.path.join(d, f"r{r:04d}-b{b:06d}-{i}.dat"))
                except FileNotFoundError:
                    pass
        os.fsync(dfd)
        print(f"fs writer round {rnd}: removed the {acked + 1} batches of round {r} to make room", flush=True)


def fs_write(d, state, rnd):
    rnd = int(rnd)
    acked = -1
    b = 0
    try:
        dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
        make_room(d, dfd, state, rnd)
        while b < 100000:
            for i in range(4):
                path = os.path.join(d, f"r{rnd:04d}-b{b:06d}-{i}.dat")
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                write_all(fd, file_bytes(rnd, b, i))
                os.fsync(fd)
                os.close(fd)
            os.fsync(dfd)
            acked = b
            record(state, f"fs-{rnd}", {"acked": acked})
            b += 1
    except OSError as e:
        print(f"fs writer round {rnd}: stopped in batch {b} (acknowledged up to {acked}): {e}", flush=True)


def fs_verify(d, state, rnd):
    total = 0
    bad = []
    for r in range(1, int(rnd) + 1):
        acked = load(state, f"fs-{r}", {"acked": -1})["acked"]
        for b in range(acked + 1):
            for i in range(4):
                path = os.path.join(d, f"r{r:04d}-b{b:06d}-{i}.dat")
                total += 1
                try:
                    with open(path, "rb") as f:
                        got, want = f.read(), file_bytes(r, b, i)
                        if got != want:
                            bad.append(f"{path}: contents differ: {describe_difference(got, want)}")
                except OSError as e:
                    bad.append(f"{path}: {e}")
    print(f"fs verify after round {rnd}: {total - len(bad)}/{total} acknowledged files intact", flush=True)
    for b in bad[:5]:
        print(f"FAIL: {b}", file=sys.stderr)
    sys.exit(1 if bad else 0)


FILL = 1 << 20


def fill_bytes(k):
    return random.Random(k * 7919).randbytes(FILL)


def fill(disk, state, start, count=None):
    start = int(start)
    fd = os.open(disk, os.O_WRONLY)
    acked = load(state, "fill", {"acked": []})["acked"]
    n = os.fstat(fd).st_size // FILL
    if count is not None:
        n = min(n, start + int(count))
    pending = []
    k = start
    try:
        while k < n:
            if os.pwrite(fd, fill_bytes(k), k * FILL) != FILL:
                raise OSError("short write")
            pending.append(k)
            k += 1
            if len(pending) == 4:
                os.fsync(fd)
                acked += pending
                pending = []
                record(state, "fill", {"acked": acked})
        os.fsync(fd)
        acked += pending
        record(state, "fill", {"acked": acked})
        print(f"fill: wrote chunks {start}..{k - 1}", flush=True)
        print(f"ERRNO none {k}")
    except OSError as e:
        print(f"fill: chunk {k} failed ({len(acked)} chunks acknowledged so far): {e}", flush=True)
        print(f"ERRNO {errno.errorcode.get(e.errno, e.errno)} {k}")


def fill_verify(disk, state):
    acked = load(state, "fill", {"acked": []})["acked"]
    fd = os.open(disk, os.O_RDONLY)
    bad = [k for k in acked if os.pread(fd, FILL, k * FILL) != fill_bytes(k)]
    print(f"fill verify: {len(acked) - len(bad)}/{len(acked)} acknowledged chunks intact", flush=True)
    if bad:
        print(f"FAIL: chunks {bad[:10]} lost", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    cmds = {"raw-write": raw_write, "raw-verify": raw_verify, "fs-write": fs_write, "fs-verify": fs_verify,
            "fill": fill, "fill-verify": fill_verify}
    cmds[sys.argv[1]](*sys.argv[2:])
