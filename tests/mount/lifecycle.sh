# Daemon lifecycle:
#  (a) SIGTERM and (b) SIGINT while a writer is running: the daemon exits,
#      the mount is gone, the image lock is released, and after a remount
#      every acknowledged chunk is there;
#  (c) a second mount of the same image, or onto a mounted mountpoint, fails
#      at once naming the holder and leaves nothing behind;
#  (d) vblkfs umount with a loop device attached fails clearly and unmounts
#      nothing; after losetup -d it succeeds;
#  (e) fusermount3 -u and umount end the daemon cleanly, flushing what was
#      written.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

IMG=$WORK/img
M1=$WORK/m1
M2=$WORK/m2
mkdir -p "$M1" "$M2"
WRITER=$MOUNT_LIB_DIR/chunk_writer.py

not_alive() { ! alive "$1"; }

# daemon_gone PID MNT IMAGE: waits for the daemon to exit, then checks the
# mount is gone and the image unlocked and clean.
daemon_gone() {
  local pid=$1 mnt=$2 img=$3 t0
  t0=$(now_ns)
  wait_until 30 not_alive "$pid" || fail "daemon $pid still running 30 s later"
  echo "  daemon $pid exited after $(elapsed_since "$t0") s"
  ! is_mounted "$mnt" || fail "$mnt is still mounted after the daemon exited"
  wait_until 5 image_free "$img" || fail "$img is still locked after the daemon exited"
  check_clean "$img" | sed 's/^/  /'
}

# signal_test SIGNAL SECONDS [-f]: with -f the daemon runs in the foreground
# as our child, so its exit code is checked too.
signal_test() {
  local sig=$1 secs=$2 fg=${3:-}
  local log=$WORK/vblkfs-$sig.log pid wpid fpid=""
  echo "== SIG$sig while writing (after ${secs} s${fg:+, foreground daemon})"
  if [[ -n $fg ]]; then
    timeout 300 "$VBLKFS" mount -f "$IMG" "$M1" --log-file "$log" &
    fpid=$!
    BG_PIDS+=("$fpid")
    wait_until 10 is_mounted "$M1" || fail "vblkfs mount -f did not mount $M1"
  else
    VMOUNT_LOG=$log vmount "$IMG" "$M1"
  fi
  pid=$(daemon_pid "$M1")
  timeout 120 python3 "$WRITER" write "$M1/disk" "$WORK/ack" &
  wpid=$!
  BG_PIDS+=("$wpid")
  sleep "$secs"
  read -r synced written <"$WORK/ack"
  ((written >= 0)) || fail "the writer made no progress in $secs s"
  kill -"$sig" "$pid"
  echo "  sent SIG$sig to daemon $pid with the writer at chunk $written (fsync'ed $synced)"
  daemon_gone "$pid" "$M1" "$IMG"
  wait "$wpid" || fail "the writer failed (exit $?)"
  local errors=""
  if [[ -n $fpid ]]; then
    local rc=0
    wait "$fpid" || rc=$?
    echo "  vblkfs mount -f exited with $rc"
    [[ $rc -eq 0 ]] || errors="vblkfs mount -f exited with $rc after SIG$sig (expected a clean exit, 0)"
  fi
  if grep -q 'with errors' "$log"; then
    echo "  daemon log: $(grep 'with errors' "$log")"
    errors="${errors:+$errors; }the daemon logged an unclean unmount after SIG$sig"
  fi
  vmount "$IMG" "$M1"
  run 120 python3 "$WRITER" verify "$M1/disk" "$WORK/ack" | sed 's/^/  /' || fail "data lost after SIG$sig"
  vumount "$M1"
  echo "  ok: $(awk '{ printf "%.0f MiB", ($2 + 1) / 16 }' "$WORK/ack") written; all acknowledged chunks intact"
  [[ -z $errors ]] || SIGNAL_ERRORS+=("$errors")
}

SIGNAL_ERRORS=()
vformat "$IMG" --size 4G
signal_test TERM 2
vformat "$IMG" --size 4G --force
signal_test INT 1 -f

echo "== double mount"
vmount "$IMG" "$M1"
PID=$(daemon_pid "$M1")
t0=$(now_ns)
rc=0
timeout 30 "$VBLKFS" mount "$IMG" "$M2" 2>"$WORK/err" || rc=$?
el=$(elapsed_since "$t0")
echo "  second mount: exit $rc after $el s: $(cat "$WORK/err")"
[[ $rc -ne 0 && $rc -ne 124 ]] || fail "a second mount of the same image did not fail (exit $rc)"
python3 -c "import sys; sys.exit(float(sys.argv[1]) > 5)" "$el" || fail "the second mount took $el s to fail"
[[ $(wc -l <"$WORK/err") -eq 1 ]] || fail "expected one line on stderr"
grep -q "$PID" "$WORK/err" || fail "stderr does not name the holder, daemon $PID"
! is_mounted "$M2" || fail "$M2 is mounted after the failed second mount"

vformat "$WORK/img2" --size 64M
rc=0
timeout 30 "$VBLKFS" mount "$WORK/img2" "$M1" 2>"$WORK/err" || rc=$?
echo "  mount onto a mounted mountpoint: exit $rc: $(cat "$WORK/err")"
[[ $rc -ne 0 && $rc -ne 124 ]] || fail "mounting onto the vblkfs mountpoint $M1 did not fail"
grep -qF "$M1" "$WORK/err" || fail "stderr does not name $M1"
[[ $(awk -v d="$M1" '$5 == d' /proc/self/mountinfo | wc -l) -eq 1 ]] || fail "$M1 has more than one mount"
image_free "$WORK/img2" || fail "img2 is locked after the failed mount"
[[ -z $(vblkfs_pids_under "$WORK/img2") ]] || fail "a daemon for img2 is still running"
alive "$PID" || fail "the first daemon died"

echo "== umount with a loop device attached"
DEV=$(loop_attach "$M1/disk")
rc=0
timeout 60 "$VBLKFS" umount "$M1" 2>"$WORK/err" || rc=$?
echo "  exit $rc: $(cat "$WORK/err")"
[[ $rc -ne 0 && $rc -ne 124 ]] || fail "vblkfs umount succeeded with $DEV attached"
grep -qi busy "$WORK/err" && grep -qi loop "$WORK/err" || fail "the message does not say busy / loop device"
is_mounted "$M1" || fail "$M1 was unmounted anyway"
alive "$PID" || fail "the daemon died"
run 30 dd if="$DEV" of=/dev/null bs=1M count=4 status=none || fail "the loop device no longer reads"
loop_detach "$DEV"
vumount "$M1"
# umount returns once the daemon has released the image (vblkfs(1)); the
# process exits right after, but on a loaded machine not always before the
# next line runs.
image_free "$IMG" || fail "$IMG still locked after vblkfs umount returned"
wait_until 10 not_alive "$PID" || fail "daemon $PID still running 10 s after vblkfs umount returned"

for how in "fusermount3 -u" "umount"; do
  echo "== $how"
  vmount "$IMG" "$M1"
  PID=$(daemon_pid "$M1")
  # Written but not fsync'ed: the shutdown must flush it.
  run 30 dd if=/dev/urandom of="$WORK/blob" bs=1M count=3 status=none
  run 30 python3 -c 'import os, sys; fd = os.open(sys.argv[1], os.O_WRONLY); os.pwrite(fd, open(sys.argv[2], "rb").read(), 777777777)' \
    "$M1/disk" "$WORK/blob" || fail "write"
  # shellcheck disable=SC2086
  run 30 $how "$M1" || fail "$how $M1"
  daemon_gone "$PID" "$M1" "$IMG"
  vmount "$IMG" "$M1"
  cmp -n $((3 << 20)) -i 0:777777777 "$WORK/blob" "$M1/disk" || fail "data written before $how is lost"
  vumount "$M1"
  echo "  ok: clean exit, unsynced data flushed"
done
# Reported last so that the other cases still run.
if ((${#SIGNAL_ERRORS[@]} > 0)); then
  printf 'FAIL: %s\n' "${SIGNAL_ERRORS[@]}" >&2
  exit 1
fi
echo PASS
