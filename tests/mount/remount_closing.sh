# `umount M` (or fusermount3 -u) returns before the daemon has flushed and
# closed the image; a `vblkfs mount` of the same image right after it waits
# for that daemon (one line on stderr) instead of failing with "in use":
#  (a) a daemon held stopped after its unmount: the new mount waits, and
#      succeeds once the daemon finishes;
#  (b) unmount and remount at once, in a loop, with dirty data to flush;
#  (c) a live holder (still mounted) still fails at once, without waiting;
#  (d) a closing daemon that never finishes: the mount gives up after 30 s
#      with the usual "in use" error.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

IMG=$WORK/img
M=$WORK/m
M2=$WORK/m2
mkdir -p "$M" "$M2"
vformat "$IMG" --size 1G

# raw_umount DIR: the umount2 system call alone; umount(8) would first call
# statfs, which a stopped daemon never answers.
raw_umount() {
  run 30 python3 -c 'import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.umount2(sys.argv[1].encode(), 0) != 0:
    sys.exit(f"umount2 {sys.argv[1]}: {os.strerror(ctypes.get_errno())}")' "$1"
}

# mount_timed IMAGE MOUNTPOINT: vblkfs mount, its stderr in $WORK/err and its
# seconds in $EL; returns its exit code.
mount_timed() {
  local t0 rc=0
  t0=$(now_ns)
  run 60 "$VBLKFS" mount "$1" "$2" --log-file "$WORK/vblkfs.log" 2>"$WORK/err" || rc=$?
  EL=$(elapsed_since "$t0")
  return "$rc"
}

echo "== (a) the old daemon is stopped after its unmount"
vmount "$IMG" "$M"
run 30 dd if=/dev/urandom of="$M/disk" bs=1M count=8 oflag=direct conv=notrunc status=none || fail "write"
pid=$(daemon_pid "$M")
kill -STOP "$pid"
raw_umount "$M" || fail "umount $M"
( sleep 2; kill -CONT "$pid" ) &
BG_PIDS+=($!)
mount_timed "$IMG" "$M" || fail "the mount after umount failed: $(cat "$WORK/err")"
echo "  mounted after $EL s; stderr: $(cat "$WORK/err")"
grep -q "waiting up to 30 s for process $pid (vblkfs), already unmounted, to close it" "$WORK/err" ||
  fail "no line on stderr said the mount waited for $pid"
python3 -c "import sys; sys.exit(not 1.5 < float(sys.argv[1]) < 20)" "$EL" || fail "the mount returned after $EL s"
[[ $(fstype_at "$M") == fuse.vblkfs ]] || fail "$M is not mounted"
wait_until 10 bash -c "! kill -0 $pid 2>/dev/null" || fail "the old daemon $pid did not exit"

echo "== (b) umount and mount at once, 8 times, 64 MiB of fresh data each"
for i in 1 2 3 4 5 6 7 8; do
  run 60 dd if=/dev/urandom of="$M/disk" bs=1M count=64 seek=$((i * 64)) conv=notrunc status=none || fail "write $i"
  run 30 umount "$M" || fail "umount $i"
  mount_timed "$IMG" "$M" || fail "mount $i right after umount failed: $(cat "$WORK/err")"
  echo "  round $i: mounted in $EL s${WORK:+ $(grep -c waiting "$WORK/err") waiting line(s)}"
done

echo "== (c) a live holder fails at once"
! mount_timed "$IMG" "$M2" || fail "a second mount of a mounted image succeeded"
echo "  failed after $EL s: $(cat "$WORK/err")"
grep -q "image is in use by process" "$WORK/err" || fail "the failure does not name the holder"
! grep -q waiting "$WORK/err" || fail "the mount waited for a live daemon"
python3 -c "import sys; sys.exit(float(sys.argv[1]) > 5)" "$EL" || fail "failing took $EL s"

echo "== (d) a closing daemon that never finishes"
pid=$(daemon_pid "$M")
kill -STOP "$pid"
raw_umount "$M" || fail "umount $M"
! mount_timed "$IMG" "$M" || fail "the mount succeeded while the image was held"
echo "  failed after $EL s: $(tr '\n' '|' <"$WORK/err")"
grep -q waiting "$WORK/err" && grep -q "image is in use by process $pid" "$WORK/err" ||
  fail "expected the waiting line, then the in-use error"
python3 -c "import sys; sys.exit(not 29 < float(sys.argv[1]) < 45)" "$EL" || fail "gave up after $EL s, not 30"
kill -CONT "$pid"
wait_until 30 bash -c "! kill -0 $pid 2>/dev/null" || fail "the old daemon $pid did not exit"
check_clean "$IMG" >/dev/null
echo "PASS"
