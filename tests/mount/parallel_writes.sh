# Synchronous writers on separate threads reach the daemon in parallel (the
# open reply asks the kernel for parallel direct writes, see
# src/fuse/protocol_hooks.h), and what they wrote reads back. The daemon's
# writes_in_flight_peak statistic shows how many writes it served at once;
# without the bit the kernel hands it one synchronous write at a time.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

IMG=$WORK/img
MNT=$WORK/m
vformat "$IMG" --size 64M
vmount "$IMG" "$MNT"
run 120 python3 - "$MNT/disk" <<'PY' || fail "parallel writers"
import json, mmap, os, sys, threading

disk = sys.argv[1]
WRITERS, WRITES, BS = 4, 1500, 4096
REGION = 8 << 20  # each writer's own 8 MiB, written 4 KiB at a time


def block(w, i):
    return bytes([(w * 37 + i) % 251 + 1]) * BS


errors = []


def writer(w):
    try:
        fd = os.open(disk, os.O_WRONLY | os.O_DIRECT)
        buf = mmap.mmap(-1, BS)  # page-aligned, as O_DIRECT needs
        try:
            for i in range(WRITES):
                buf[:] = block(w, i)
                off = w * REGION + (i * 7919 % (REGION // BS)) * BS
                if os.pwrite(fd, buf, off) != BS:
                    raise OSError(f"short write at {off}")
        finally:
            os.close(fd)
    except Exception as e:
        errors.append(f"writer {w}: {e}")


threads = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
for t in threads: t.start()
for t in threads: t.join()
if errors:
    sys.exit("; ".join(errors))

# Each offset was written once (7919 is prime to the 2048 blocks of a region).
with open(disk, "rb") as f:
    for w in range(WRITERS):
        for i in range(WRITES):
            off = w * REGION + (i * 7919 % (REGION // BS)) * BS
            f.seek(off)
            if f.read(BS) != block(w, i):
                sys.exit(f"writer {w} write {i}: the disk at {off} does not hold what was written")

peak = json.loads(os.getxattr(disk, "user.vblk.stats"))["writes_in_flight_peak"]
print(f"{WRITERS} synchronous writers, {WRITERS * WRITES} writes: up to {peak} in the daemon at once")
if peak < 2:
    sys.exit(f"the daemon never served two writes at once (peak {peak}): the kernel serialized them")
PY
# The human view names it too.
"$VBLK_INSPECT" "$MNT" | grep -E '^in parallel: +up to [0-9]+ writes at once$' >/dev/null ||
  fail "vblk-inspect does not show the parallel writes"
vumount "$MNT"
check_clean "$IMG"
echo PASS
