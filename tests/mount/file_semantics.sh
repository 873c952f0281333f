# The disk file behaves like a disk: fixed size (truncate fails with EPERM),
# fallocate punch-hole / zero-range read back zeros quickly, SEEK_DATA /
# SEEK_HOLE follow written and unwritten blocks, statfs answers, O_DIRECT and
# losetup --direct-io=on work, and a write at the end gives EFBIG.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require fallocate truncate df cmp

IMG=$WORK/img
MNT=$WORK/m
SIZE=$((1 << 30))
vformat "$IMG" --size 1G
vmount "$IMG" "$MNT"
DISK=$MNT/disk

[[ $(stat -c %s "$DISK") == "$SIZE" ]] || fail "size is $(stat -c %s "$DISK"), expected $SIZE"
echo "ok: size $SIZE"
! truncate -s 100M "$DISK" 2>"$WORK/err" || fail "truncate -s 100M succeeded"
echo "ok: truncate -s 100M fails: $(cat "$WORK/err")"
! truncate -s 2G "$DISK" 2>/dev/null || fail "truncate -s 2G succeeded"
[[ $(stat -c %s "$DISK") == "$SIZE" ]] || fail "size changed to $(stat -c %s "$DISK")"
run 10 df -B1 "$MNT" | tail -n 1 | sed 's/^/df: /' || fail "df $MNT"

run 120 python3 - "$DISK" "$MNT" <<'EOF_PY' || fail "file semantics"
import errno, mmap, os, random, sys, time
disk, mnt = sys.argv[1:3]
MiB, BS = 1 << 20, 4096
failures = []

def check(what, cond, detail=""):
    if cond:
        print(f"ok: {what}")
    else:
        failures.append(f"{what} {detail}".strip())

def expect_errno(what, err, fn):
    try:
        fn()
    except OSError as e:
        check(what, e.errno == err, f"-> {errno.errorcode.get(e.errno, e.errno)}, expected {errno.errorcode[err]}")
        return
    failures.append(f"{what}: succeeded, expected {errno.errorcode[err]}")

fd = os.open(disk, os.O_RDWR)
size = os.fstat(fd).st_size

# Size is fixed.
expect_errno("ftruncate(smaller) -> EPERM", errno.EPERM, lambda: os.ftruncate(fd, size // 2))
expect_errno("ftruncate(larger) -> EPERM", errno.EPERM, lambda: os.ftruncate(fd, size * 2))
expect_errno("open(O_TRUNC) -> EPERM", errno.EPERM, lambda: os.open(disk, os.O_WRONLY | os.O_TRUNC))
check("size unchanged", os.fstat(fd).st_size == size)

# SEEK_DATA / SEEK_HOLE on a fresh disk, then after writes.
expect_errno("SEEK_DATA on an empty disk -> ENXIO", errno.ENXIO, lambda: os.lseek(fd, 0, os.SEEK_DATA))
check("SEEK_HOLE(0) on an empty disk = 0", os.lseek(fd, 0, os.SEEK_HOLE) == 0)
os.pwrite(fd, b"a" * BS, 1 * MiB)
os.pwrite(fd, b"b" * 2 * BS, 3 * MiB)
os.pwrite(fd, b"c" * 10, 5 * MiB + 100)        # partial block: the block becomes data
seeks = [
    (0, os.SEEK_DATA, 1 * MiB), (1 * MiB, os.SEEK_HOLE, 1 * MiB + BS),
    (1 * MiB + 100, os.SEEK_DATA, 1 * MiB + 100), (1 * MiB + BS, os.SEEK_DATA, 3 * MiB),
    (3 * MiB, os.SEEK_HOLE, 3 * MiB + 2 * BS), (3 * MiB + 2 * BS, os.SEEK_DATA, 5 * MiB),
    (5 * MiB, os.SEEK_HOLE, 5 * MiB + BS), (5 * MiB + BS, os.SEEK_HOLE, 5 * MiB + BS),
    (size - 1, os.SEEK_HOLE, size - 1),
]
for off, whence, want in seeks:
    name = "SEEK_DATA" if whence == os.SEEK_DATA else "SEEK_HOLE"
    got = os.lseek(fd, off, whence)
    check(f"{name}({off}) = {want}", got == want, f"(got {got})")
expect_errno("SEEK_DATA after the last data -> ENXIO", errno.ENXIO, lambda: os.lseek(fd, 5 * MiB + BS, os.SEEK_DATA))
expect_errno("SEEK_DATA at the size -> ENXIO", errno.ENXIO, lambda: os.lseek(fd, size, os.SEEK_DATA))

# fallocate: punch a hole / zero a range (edges unaligned), read back zeros;
# bytes outside stay.
data = random.Random(1).randbytes(8 * MiB)
os.pwrite(fd, data, 16 * MiB)
os.fsync(fd)
import subprocess
def fallocate(mode, off, length):
    t0 = time.monotonic()
    subprocess.run(["fallocate", mode, "-o", str(off), "-l", str(length), disk], check=True)
    return time.monotonic() - t0
t = fallocate("--punch-hole", 17 * MiB + 123, 2 * MiB)
t += fallocate("--zero-range", 20 * MiB + 4000, 5000)
got = os.pread(fd, 8 * MiB, 16 * MiB)
want = bytearray(data)
want[1 * MiB + 123:3 * MiB + 123] = bytes(2 * MiB)
want[4 * MiB + 4000:4 * MiB + 9000] = bytes(5000)
check("punch-hole and zero-range read back zeros, neighbours intact", got == bytes(want))
# Whole blocks inside the punched range became holes; the partial edge blocks
# were zero-filled and stay data.
check("SEEK_HOLE finds the punched hole's first whole block", os.lseek(fd, 16 * MiB, os.SEEK_HOLE) == 17 * MiB + BS,
      f"(got {os.lseek(fd, 16 * MiB, os.SEEK_HOLE)})")
# The whole disk, written sparsely first: must be fast (trims, no data moved).
for i in range(0, size, 64 * MiB):
    os.pwrite(fd, b"x" * MiB, i)
t0 = time.monotonic()
fallocate("--zero-range", 0, size)
tz = time.monotonic() - t0
t0 = time.monotonic()
fallocate("--punch-hole", 0, size)
tp = time.monotonic() - t0
print(f"zero-range of 1 GiB: {tz:.2f} s, punch-hole of 1 GiB: {tp:.2f} s")
check("1 GiB zero-range and punch-hole take < 10 s each", tz < 10 and tp < 10)
check("whole disk reads zeros after punching", os.pread(fd, 64 * MiB, 0) == bytes(64 * MiB))
expect_errno("SEEK_DATA after punching everything -> ENXIO", errno.ENXIO, lambda: os.lseek(fd, 0, os.SEEK_DATA))
expect_errno("fallocate growing the file -> EFBIG", errno.EFBIG, lambda: os.posix_fallocate(fd, size - BS, 2 * BS))

# statfs
st = os.statvfs(mnt)
check("statvfs: f_blocks * f_frsize = capacity", st.f_blocks * st.f_frsize == size,
      f"({st.f_blocks} * {st.f_frsize})")
check("statvfs: free <= total", st.f_bfree <= st.f_blocks)

# O_DIRECT: aligned writes and reads.
dfd = os.open(disk, os.O_RDWR | os.O_DIRECT)
buf = mmap.mmap(-1, MiB)
buf[:] = random.Random(2).randbytes(MiB)
check("O_DIRECT pwrite of 1 MiB", os.pwritev(dfd, [buf], 100 * MiB) == MiB)
rbuf = mmap.mmap(-1, MiB)
check("O_DIRECT pread of 1 MiB", os.preadv(dfd, [rbuf], 100 * MiB) == MiB)
check("O_DIRECT data reads back", rbuf[:] == buf[:])
check("buffered read sees the O_DIRECT write", os.pread(fd, MiB, 100 * MiB) == buf[:])
os.close(dfd)

# The end of the disk.
expect_errno("write starting at the end -> EFBIG", errno.EFBIG, lambda: os.pwrite(fd, b"z", size))
expect_errno("write starting beyond the end -> EFBIG", errno.EFBIG, lambda: os.pwrite(fd, b"z", size + MiB))
n = os.pwrite(fd, b"e" * 2 * BS, size - BS)
check("write crossing the end is cut short at the end", n == BS, f"(wrote {n})")
check("read at the end returns nothing", os.pread(fd, BS, size) == b"")
check("read crossing the end is cut short", os.pread(fd, 2 * BS, size - BS) == b"e" * BS)
check("size unchanged after all that", os.fstat(fd).st_size == size)
os.fsync(fd)
if failures:
    print("FAIL:\n  " + "\n  ".join(failures), file=sys.stderr)
    sys.exit(1)
EOF_PY

# losetup --direct-io=on, data through the loop device meets the file.
DEV=$(loop_attach "$DISK" --direct-io=on)
dio=$(losetup -l -n -O DIO "$DEV" | tr -d ' ')
echo "losetup --direct-io=on: $DEV, DIO=$dio"
[[ $dio == 1 ]] || fail "the loop device did not switch to direct I/O"
run 30 dd if=/dev/urandom of="$WORK/blob" bs=1M count=8 status=none
run 30 dd if="$WORK/blob" of="$DEV" bs=1M seek=200 oflag=direct status=none || fail "write through $DEV"
cmp -n $((8 << 20)) -i 0:$((200 << 20)) "$WORK/blob" "$DISK" || fail "data written through $DEV differs in the file"
run 30 dd if="$DEV" of="$WORK/back" bs=1M skip=200 count=8 iflag=direct status=none || fail "read through $DEV"
cmp "$WORK/blob" "$WORK/back" || fail "data read through $DEV differs"
echo "ok: 8 MiB through the direct-I/O loop device"
loop_detach "$DEV"
vumount "$MNT"
check_clean "$IMG"
echo PASS
