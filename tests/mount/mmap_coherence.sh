# The disk file can be mapped with mmap(2) MAP_SHARED (the kernel offers
# FUSE_DIRECT_IO_ALLOW_MMAP from Linux 6.6; vblkfs sets it, see
# src/fuse/protocol_hooks.h), and the mapping stays coherent with O_DIRECT
# and plain reads and writes of the same file: a store through the mapping
# is seen at once by an O_DIRECT read, an O_DIRECT write at once through the
# mapping. A random mix of the three kinds of access agrees with a model
# byte for byte, msync'ed stores survive an unmount and remount, and I/O
# through a loop device with --direct-io=on still reaches the daemon every
# time (no page cache in front of it), even while a mapping is held.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require cmp

IMG=$WORK/img
MNT=$WORK/m
vformat "$IMG" --size 256M
vmount "$IMG" "$MNT"
DISK=$MNT/disk

run 300 python3 - "$DISK" "$WORK/model" <<'EOF_PY' || fail "mmap coherence"
import mmap, os, random, sys
disk, model_path = sys.argv[1:3]
MiB, PAGE = 1 << 20, 4096
SPAN = 16 * MiB
failures = []

def check(what, cond):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        failures.append(what)

def aligned(n):  # an O_DIRECT buffer
    buf = mmap.mmap(-1, max(n, PAGE))
    return buf

def direct_pread(fd, n, off):
    buf = aligned(n)
    got = os.preadv(fd, [memoryview(buf)[:n]], off)
    assert got == n, got
    return bytes(buf[:n])

def direct_pwrite(fd, data, off):
    buf = aligned(len(data))
    buf[:len(data)] = data
    assert os.pwritev(fd, [memoryview(buf)[:len(data)]], off) == len(data)

rng = random.Random(7)
direct = os.open(disk, os.O_RDWR | os.O_DIRECT)
plain = os.open(disk, os.O_RDWR)
m = mmap.mmap(plain, SPAN, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
print("mmap(MAP_SHARED, PROT_READ|PROT_WRITE) of the disk file: ok")

# A store through the mapping, no msync: an O_DIRECT read sees it.
a = rng.randbytes(64 * 1024)
m[1 * MiB:1 * MiB + len(a)] = a
check("mmap store, then O_DIRECT read sees it", direct_pread(direct, len(a), 1 * MiB) == a)
# An O_DIRECT write over pages the mapping has already read: the mapping
# sees the new bytes, not its stale copy.
before = bytes(m[2 * MiB:2 * MiB + 3 * PAGE])
b = rng.randbytes(3 * PAGE)
direct_pwrite(direct, b, 2 * MiB)
check("O_DIRECT write, then mmap read sees it", bytes(m[2 * MiB:2 * MiB + 3 * PAGE]) == b and before != b)
# Plain (non-O_DIRECT) reads and writes agree with the mapping both ways.
c = rng.randbytes(5000)
m[3 * MiB + 100:3 * MiB + 100 + len(c)] = c
check("mmap store, then pread sees it", os.pread(plain, len(c), 3 * MiB + 100) == c)
m[4 * MiB:4 * MiB + PAGE]  # fault the page in
d = rng.randbytes(777)
os.pwrite(plain, d, 4 * MiB + 5)
check("pwrite, then mmap read sees it", bytes(m[4 * MiB + 5:4 * MiB + 5 + len(d)]) == d)

# A random mix, fsx-like, against a model of the first SPAN bytes.
model = bytearray(os.pread(plain, SPAN, 0))
check("model starts equal to the mapping", bytes(m[:SPAN]) == bytes(model))
ops = {}
for i in range(3000):
    kind = rng.choice(["map_w", "map_r", "dio_w", "dio_r", "buf_w", "buf_r"])
    ops[kind] = ops.get(kind, 0) + 1
    if kind.startswith("dio"):
        off, n = rng.randrange(SPAN // PAGE) * PAGE, rng.randint(1, 32) * PAGE
    else:
        off, n = rng.randrange(SPAN), rng.randint(1, 40000)
    n = min(n, SPAN - off)
    if kind.endswith("_w"):
        data = rng.randbytes(n)
        model[off:off + n] = data
        if kind == "map_w":
            m[off:off + n] = data
        elif kind == "dio_w":
            direct_pwrite(direct, data, off)
        else:
            os.pwrite(plain, data, off)
    else:
        got = bytes(m[off:off + n]) if kind == "map_r" else (
            direct_pread(direct, n, off) if kind == "dio_r" else os.pread(plain, n, off))
        if got != model[off:off + n]:
            check(f"op {i}: {kind} of {n} bytes at {off} agrees with the model", False)
            break
else:
    print(f"ok: 3000 random operations agree with the model ({ops})")
check("after the mix, an O_DIRECT read of the span equals the model", direct_pread(direct, SPAN, 0) == bytes(model))

# msync'ed stores are durable: the model is compared after a remount.
e = rng.randbytes(2 * MiB)
m[8 * MiB:10 * MiB] = e
model[8 * MiB:10 * MiB] = e
m.flush()
m.close()
os.close(plain)
os.close(direct)
open(model_path, "wb").write(model)
sys.exit(1 if failures else 0)
EOF_PY

vumount "$MNT"
vmount "$IMG" "$MNT"
cmp <(run 60 dd if="$DISK" bs=1M count=16 iflag=direct status=none) "$WORK/model" ||
  fail "after a remount the first 16 MiB differ from what was written through the mapping and the file"
echo "ok: after unmount and remount the disk holds every msync'ed store"

# No page cache in front of a --direct-io=on loop device: reading the same
# 4 MiB twice through it reaches the daemon twice, also while another
# process holds a shared mapping of the file.
reads() { python3 -c 'import json, os, sys; print(json.loads(os.getxattr(sys.argv[1], "user.vblk.stats"))["bytes"]["read"])' "$DISK"; }
LOOP=$(loop_attach "$DISK" --direct-io=on)
python3 -c '
import mmap, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
m = mmap.mmap(fd, 1 << 20, mmap.MAP_SHARED)
m[0:4] = b"held"
print("mapped", flush=True)
time.sleep(600)
' "$DISK" >"$WORK/holder.out" &
BG_PIDS+=($!)
wait_until 10 grep -q mapped "$WORK/holder.out" || fail "the process holding a mapping did not start"
for pass in 1 2; do
  r0=$(reads)
  run 30 dd if="$LOOP" of=/dev/null bs=1M skip=32 count=4 iflag=direct status=none || fail "read through $LOOP"
  r1=$(reads)
  echo "pass $pass through $LOOP: the daemon served $((r1 - r0)) bytes"
  ((r1 - r0 >= 4 << 20)) || fail "pass $pass: only $((r1 - r0)) bytes of a 4 MiB read reached the daemon (cached)"
done
kill "${BG_PIDS[-1]}"
wait "${BG_PIDS[-1]}" 2>/dev/null || true
loop_detach "$LOOP"
vumount "$MNT"
check_clean "$IMG" >/dev/null
echo "PASS"
