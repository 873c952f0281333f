# vblk-inject MOUNTPOINT powercut on the raw disk file: writes made durable
# by fsync survive, writes after the last fsync are dropped, the device
# fails every request until it is remounted (or comes back at once with
# --continue), and the image stays clean.
# Run as: bash powercut.sh VBLKFS VBLK_FORMAT VBLK_INSPECT VBLK_INJECT
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

IMG=$WORK/img
MNT=$WORK/m
vformat "$IMG" --size 64M
vmount "$IMG" "$MNT"

# write.py DISK FIRST COUNT TAG [fsync]: 4 KiB blocks FIRST.. tagged "TAG:block".
cat >write.py <<'EOF_PY'
import os, sys
disk, first, count, tag = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
fd = os.open(disk, os.O_WRONLY)
for b in range(first, first + count):
    os.pwrite(fd, f"{tag}:{b}".encode().ljust(4096, b"."), b * 4096)
if len(sys.argv) > 5:
    os.fsync(fd)
os.close(fd)
EOF_PY
# expect.py DISK FIRST COUNT TAG: blocks FIRST.. hold TAG's data.
cat >expect.py <<'EOF_PY'
import os, sys
disk, first, count, tag = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
fd = os.open(disk, os.O_RDONLY)
for b in range(first, first + count):
    got = os.pread(fd, 4096, b * 4096)
    want = f"{tag}:{b}".encode().ljust(4096, b".") if tag != "zeros" else bytes(4096)
    assert got == want, f"block {b}: expected {tag}, found {got[:24]!r}"
print(f"ok: blocks {first}-{first + count - 1} hold {tag}")
EOF_PY
wr() { run 60 python3 write.py "$MNT/disk" "$@" || fail "write $*"; }
expect() { run 60 python3 expect.py "$MNT/disk" "$@" || fail "expected $*"; }

# 1. Stay off until remounted.
wr 0 256 A fsync
wr 0 64 B            # overwrites, not flushed
wr 1000 32 C         # new blocks, not flushed
out=$(vinject "$MNT" powercut) || fail "powercut"
echo "$out"
grep -q "injecting a power cut into $MNT: .* dropped (96 blocks)" <<<"$out" || fail "powercut did not report 96 dropped blocks"
rc=0
err=$(run 30 dd if="$MNT/disk" of=/dev/null bs=4096 count=1 2>&1) || rc=$?
[[ $rc -ne 0 ]] && grep -q "Input/output error" <<<"$err" || fail "a read after the power cut did not fail with EIO: $err"
rc=0
err=$(run 30 python3 write.py "$MNT/disk" 5 1 D fsync 2>&1) || rc=$?
[[ $rc -ne 0 ]] && grep -q "Input/output error" <<<"$err" || fail "a write after the power cut did not fail with EIO: $err"
[[ $(json_get <(vinspect --json --no-map "$MNT") 'j["powered_off"]') == True ]] || fail "live stats do not say powered off"
vinspect "$MNT" | grep -q "POWERED OFF" || fail "vblk-inspect does not show POWERED OFF"
vinject "$MNT" powercut | grep -q "powered off already" || fail "a second powercut"
vumount "$MNT"
check_clean "$IMG"
vmount "$IMG" "$MNT"
expect 0 256 A
expect 1000 32 zeros
echo "ok: after remount the disk holds exactly what was fsynced"

# 2. --continue: back at once with the flushed state, and carries on.
wr 300 16 E fsync
wr 300 8 F
wr 0 8 G
vinject "$MNT" powercut --continue | grep -q "powered on again with the flushed state" || fail "powercut --continue"
expect 300 16 E
expect 0 8 A
wr 2000 8 H fsync
expect 2000 8 H
vumount "$MNT"
check_clean "$IMG"
vmount "$IMG" "$MNT" --read-only
expect 0 256 A
expect 300 16 E
expect 2000 8 H
# Refused where it means nothing: read-only mount, image at rest.
rc=0
out=$(run 30 "$VBLK_INJECT" "$MNT" powercut 2>&1) || rc=$?
[[ $rc -eq 1 ]] && grep -q "read-only" <<<"$out" || fail "powercut on a read-only mount: rc $rc: $out"
vumount "$MNT"
rc=0
out=$(run 30 "$VBLK_INJECT" "$IMG" powercut 2>&1) || rc=$?
echo "$out"
[[ $rc -eq 1 ]] && grep -q "powercut acts on a running device" <<<"$out" || fail "powercut on an image: rc $rc"
echo PASS
