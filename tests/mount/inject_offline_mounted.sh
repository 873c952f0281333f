# vblk-inject on an unmounted image (offline), then vblkfs: every fault
# injected offline is in force from the first request of the next mount;
# offline injection into a mounted image is refused, naming the mountpoint;
# used-up flaky writes stay used up across mounts.
# Run as: bash inject_offline_mounted.sh VBLKFS VBLK_FORMAT VBLK_INSPECT VBLK_INJECT
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

IMG=$WORK/img
MNT=$WORK/m
vformat "$IMG" --size 64M
vmount "$IMG" "$MNT"
run 30 python3 - "$MNT/disk" <<'EOF_PY' || fail "writing the pattern"
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
for b in range(64):
    os.pwrite(fd, bytes([b % 251 + 1]) * 4096, b * 4096)
os.fsync(fd)
EOF_PY
vumount "$MNT"

vinject "$IMG" bad --block 10-12
vinject "$IMG" bad --block 20 --on-write remap
vinject "$IMG" flaky --block 5 --fail-writes 2
vinject "$IMG" flaky --block 6 --fail-writes 3
vinject "$IMG" latency --ms 200 --block 40
vinject "$IMG" corrupt --block 30
cat "$IMG.faults"

vmount "$IMG" "$MNT"
# Offline injection while mounted: refused, pointing at the mountpoint.
rc=0
"$VBLK_INJECT" "$IMG" bad --block 1 >out.txt 2>err.txt || rc=$?
cat err.txt
[[ $rc -eq 1 && $(wc -l <err.txt) -eq 1 ]] || fail "offline injection into a mounted image: exit $rc"
grep -q "in use by process $(daemon_pid "$MNT") (vblkfs); target the mountpoint $MNT instead" err.txt ||
  fail "the refusal does not name the daemon and the mountpoint"
rc=0
"$VBLK_INSPECT" "$IMG" >/dev/null 2>err.txt || rc=$?
grep -q "inspect the mountpoint $MNT instead" err.txt || fail "vblk-inspect on a mounted image: $(cat err.txt)"

run 60 python3 - "$MNT/disk" <<'EOF_PY' || fail "offline faults after mount"
import errno, json, os, sys, time
disk = sys.argv[1]
BS = 4096
fd = os.open(disk, os.O_RDWR)
failures = []
def stats(): return json.loads(os.getxattr(disk, "user.vblk.stats"))
def pattern(b): return bytes([b % 251 + 1]) * BS
def expect(what, fn, want=None, err=None):
    try:
        got = fn()
    except OSError as e:
        if e.errno != err: failures.append(f"{what}: {e!r}")
        else: print(f"ok: {what} -> {errno.errorcode[err]}")
        return
    if err is not None: failures.append(f"{what}: succeeded, expected {errno.errorcode[err]}")
    elif want is not None and got != want: failures.append(f"{what}: wrong data")
    else: print(f"ok: {what}")
expect("read of BAD block 10", lambda: os.pread(fd, BS, 10 * BS), err=errno.EIO)
expect("write of BAD block 12", lambda: os.pwrite(fd, b"x" * BS, 12 * BS), err=errno.EIO)
expect("read of neighbour 9", lambda: os.pread(fd, BS, 9 * BS), pattern(9))
expect("read of neighbour 13", lambda: os.pread(fd, BS, 13 * BS), pattern(13))
expect("read of remap-BAD block 20", lambda: os.pread(fd, BS, 20 * BS), err=errno.EIO)
expect("write of remap-BAD block 20", lambda: os.pwrite(fd, b"R" * BS, 20 * BS), BS)
expect("read back block 20", lambda: os.pread(fd, BS, 20 * BS), b"R" * BS)
s0 = stats()
expect("write of flaky block 5 (K=2)", lambda: os.pwrite(fd, b"F" * BS, 5 * BS), BS)
s1 = stats()
if s1["retries"] - s0["retries"] != 2: failures.append(f"K=2: retries +{s1['retries'] - s0['retries']}")
expect("write of flaky block 6 (K=3)", lambda: os.pwrite(fd, b"G" * BS, 6 * BS), err=errno.EIO)
s2 = stats()
if s2["failures"] - s1["failures"] != 1: failures.append(f"K=3: failures +{s2['failures'] - s1['failures']}")
expect("read of corrupt block 30", lambda: os.pread(fd, BS, 30 * BS), err=errno.EIO)
expect("read of neighbour 31", lambda: os.pread(fd, BS, 31 * BS), pattern(31))
t = time.monotonic(); os.pread(fd, BS, 40 * BS); slow = time.monotonic() - t
if slow < 0.19: failures.append(f"block 40 read in {slow:.3f}s despite 200ms latency")
if failures:
    print("FAIL:\n  " + "\n  ".join(failures), file=sys.stderr)
    sys.exit(1)
EOF_PY
vumount "$MNT"
cat "$IMG.faults"
# The flaky rules were used up and are gone; the policies stay.
! grep -q '^flaky' "$IMG.faults" && grep -qx "remap 20" "$IMG.faults" && grep -qx "latency 200ms 40" "$IMG.faults" ||
  fail "rules after unmount: $(cat "$IMG.faults")"

# clear offline: the blocks work again at the next mount.
vinject "$IMG" clear --block 10-12
vinject "$IMG" latency --ms 5 >/dev/null
vinject "$IMG" list
vmount "$IMG" "$MNT"
run 30 python3 - "$MNT/disk" <<'EOF_PY' || fail "after offline clear"
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
assert os.pread(fd, 4096, 11 * 4096) == bytes(4096), "cleared block 11 does not read zeros"
assert os.pwrite(fd, b"c" * 4096, 11 * 4096) == 4096
assert os.pread(fd, 4096, 11 * 4096) == b"c" * 4096
print("ok: cleared blocks read zeros and take writes")
EOF_PY
vinject "$MNT" clear --all
vumount "$MNT"
rc=0
vinspect --check "$IMG" >check.txt 2>&1 || rc=$?
cat check.txt
[[ $rc -eq 1 && $(grep -c '^block ' check.txt) -eq 1 ]] && grep -q '^block 30: ' check.txt || fail "--check does not name block 30 alone"
echo PASS
