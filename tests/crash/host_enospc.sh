# The host filesystem holding the image fills up in the middle of writes
# (a small ext4 on a loop device, nearly filled by another file):
#  - a write to the exposed file fails with ENOSPC (the errno pwrite or
#    fsync returns), and the daemon stays up;
#  - every chunk acknowledged by an fsync before it reads back, while the
#    host is still full and again after a remount;
#  - once space is freed (the filler deleted) the same daemon takes new
#    writes and fsyncs; nothing is lost; vblk-inspect --check is clean.
# (EIO from the host file is covered at unit level, crash_test HostFault.*:
# no device-mapper error target is needed there.)
CRASH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$CRASH_DIR/../mount/lib.sh"
require mkfs.ext4 fallocate

WRITER=$CRASH_DIR/crash_writer.py
HOSTFS=$WORK/host.fs
HOST=$WORK/host
MNT=$WORK/m
STATE=$WORK/state
mkdir -p "$HOST" "$MNT" "$STATE"

# A 96 MiB ext4 without reserved blocks holds the image.
run 30 truncate -s 96M "$HOSTFS"
run 60 mkfs.ext4 -q -m 0 -F "$HOSTFS" || fail "mkfs.ext4 $HOSTFS"
HOSTDEV=$(loop_attach "$HOSTFS")
run 30 mount "$HOSTDEV" "$HOST" || fail "mount $HOSTDEV"
IMG=$HOST/img

# On failure, stop the daemon before lib.sh unmounts the host filesystem.
trap 'rc=$?; is_mounted "$MNT" && timeout 60 "$VBLKFS" umount "$MNT" >/dev/null 2>&1; (exit $rc); cleanup' EXIT

avail() { df -B1 --output=avail "$HOST" | tail -n 1 | tr -d ' '; }

vformat "$IMG" --size 1G
vmount "$IMG" "$MNT"
PID=$(daemon_pid "$MNT")
# Leave about 24 MiB free.
run 30 fallocate -l $(($(avail) - (24 << 20))) "$HOST/filler" || fail "fallocate filler"
echo "host filesystem: $(mib "$(avail)") free"

echo "== writing until the host is full"
out=$(run 120 python3 "$WRITER" fill "$MNT/disk" "$STATE" 0) || fail "the writer failed: $out"
echo "$out" | sed 's/^/  /'
read -r _ err at < <(grep '^ERRNO' <<<"$out")
[[ $err == ENOSPC ]] || fail "expected the write to fail with ENOSPC, got ${err:-no error}"
alive "$PID" || fail "the daemon died when the host filled up"
is_mounted "$MNT" || fail "$MNT is no longer mounted"
out=$(run 120 python3 "$WRITER" fill-verify "$MNT/disk" "$STATE" 2>&1) || fail "while full: $out"
echo "  while full: $out"

echo "== space freed"
rm -f "$HOST/filler"
echo "host filesystem: $(mib "$(avail)") free"
# New writes, from the chunk that failed on, succeed on the same daemon.
out=$(run 120 python3 "$WRITER" fill "$MNT/disk" "$STATE" "$at" 16) || fail "the writer failed: $out"
echo "$out" | sed 's/^/  /'
read -r _ err2 at2 < <(grep '^ERRNO' <<<"$out")
[[ $err2 == none ]] || fail "after freeing space a write failed with $err2 at chunk $at2"
alive "$PID" || fail "the daemon died"
out=$(run 120 python3 "$WRITER" fill-verify "$MNT/disk" "$STATE" 2>&1) || fail "after freeing space: $out"
echo "  $out"

echo "== remount, verify, check"
vumount "$MNT"
check_clean "$IMG" | sed 's/^/  /'
vmount "$IMG" "$MNT"
out=$(run 120 python3 "$WRITER" fill-verify "$MNT/disk" "$STATE" 2>&1) || fail "after remount: $out"
echo "  after remount: $out"
vumount "$MNT"
run 30 umount "$HOST" || fail "umount $HOST"
loop_detach "$HOSTDEV"
echo "ENOSPC: reported as ENOSPC at chunk $at; after freeing space chunks $at..$((at2 - 1)) written; nothing acknowledged lost"
echo PASS
