# kill -9 of the vblkfs daemon at random moments, several rounds each:
#  (a) raw: a writer on the exposed file writes numbered chunks in batches
#      and fsyncs each batch; after each kill and remount every
#      acknowledged batch reads back, the batch in flight holds whole old or
#      new chunks, nothing else;
#  (b) ext4 on a loop device on the exposed file: a writer creates files in
#      batches and fsyncs them; after each kill: the dead mounts are cleaned
#      up, the image remounted, the journal replayed (mount, umount),
#      e2fsck -fn is clean and every acknowledged file is intact.
# Each round also checks the image with vblk-inspect --check.
# Env: CRASH_RAW_ROUNDS (default 8), CRASH_EXT4_ROUNDS (default 6).
CRASH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$CRASH_DIR/../mount/lib.sh"

WRITER=$CRASH_DIR/crash_writer.py
IMG=$WORK/img
MNT=$WORK/m
EXT=$WORK/ext4
STATE=$WORK/state
mkdir -p "$MNT" "$EXT" "$STATE"
RAW_ROUNDS=${CRASH_RAW_ROUNDS:-8}
EXT4_ROUNDS=${CRASH_EXT4_ROUNDS:-6}

# A random delay in [lo, hi) milliseconds, as seconds for sleep.
random_delay() { python3 -c 'import random,sys; print(random.uniform(float(sys.argv[1]), float(sys.argv[2])) / 1000)' "$1" "$2"; }

# kill_daemon: kill -9 the daemon serving $MNT, wait until it is gone.
kill_daemon() {
  local pid
  pid=$(daemon_pid "$MNT")
  [[ -n $pid ]] || fail "no daemon serves $MNT"
  kill -KILL "$pid"
  not_alive() { ! alive "$1"; }
  wait_until 10 not_alive "$pid" || fail "daemon $pid survived kill -9"
  echo "  killed daemon $pid"
}

# clean_dead_mount: what an administrator does after the daemon died:
# stacked filesystem and loop device first, then the FUSE mount.
clean_dead_mount() {
  if is_mounted "$EXT"; then run 30 umount -l "$EXT" || fail "umount -l $EXT"; fi
  local dev
  for dev in $(loops_under "$WORK"); do
    # The loop device goes once nothing uses it; a lazily unmounted ext4
    # may hold it a moment longer.
    wait_until 20 losetup -d "$dev" 2>/dev/null || fail "losetup -d $dev: still busy"
  done
  if is_mounted "$MNT"; then
    run 10 fusermount3 -uz "$MNT" 2>/dev/null || run 10 umount -l "$MNT" || fail "cannot remove the dead mount $MNT"
  fi
  wait_until 10 image_free "$IMG" || fail "$IMG still locked after the daemon died"
}

vformat "$IMG" --size 1G

echo "== raw writer on the exposed file, $RAW_ROUNDS rounds"
t0=$(now_ns)
for round in $(seq 1 "$RAW_ROUNDS"); do
  vmount "$IMG" "$MNT"
  timeout 120 python3 "$WRITER" raw-write "$MNT/disk" "$STATE" "$round" >"$WORK/writer.log" 2>&1 &
  wpid=$!
  BG_PIDS+=("$wpid")
  sleep "$(random_delay 300 2500)"
  kill_daemon
  wait "$wpid" || true
  sed 's/^/  /' "$WORK/writer.log"
  clean_dead_mount
  check_clean "$IMG" | sed 's/^/  /'
  vmount "$IMG" "$MNT"
  out=$(run 120 python3 "$WRITER" raw-verify "$MNT/disk" "$STATE" "$round" 2>&1) ||
    fail "raw round $round: acknowledged data lost or garbage found: $out"
  echo "$out" | sed 's/^/  /'
  vumount "$MNT"
done
echo "raw: $RAW_ROUNDS kill rounds passed in $(elapsed_since "$t0") s"

echo "== ext4 on a loop device, $EXT4_ROUNDS rounds"
t0=$(now_ns)
vformat "$IMG" --size 1G --force
vmount "$IMG" "$MNT"
DEV=$(loop_attach "$MNT/disk")
run 60 mkfs.ext4 -q -F "$DEV" || fail "mkfs.ext4 $DEV"
loop_detach "$DEV"
vumount "$MNT"
for round in $(seq 1 "$EXT4_ROUNDS"); do
  vmount "$IMG" "$MNT"
  DEV=$(loop_attach "$MNT/disk")
  run 30 mount -o discard "$DEV" "$EXT" || fail "mount $DEV"
  mkdir -p "$EXT/data"
  timeout 120 python3 "$WRITER" fs-write "$EXT/data" "$STATE" "$round" >"$WORK/writer.log" 2>&1 &
  wpid=$!
  BG_PIDS+=("$wpid")
  sleep "$(random_delay 500 3000)"
  kill_daemon
  wait "$wpid" || true
  sed 's/^/  /' "$WORK/writer.log"
  clean_dead_mount
  check_clean "$IMG" | sed 's/^/  /'
  vmount "$IMG" "$MNT"
  DEV=$(loop_attach "$MNT/disk")
  # Replay the journal, then a read-only check must find nothing to fix.
  run 60 mount "$DEV" "$EXT" || fail "round $round: mounting ext4 to replay its journal failed"
  run 60 umount "$EXT" || fail "umount $EXT"
  run 120 e2fsck -fn "$DEV" >"$WORK/fsck.log" 2>&1 || { cat "$WORK/fsck.log"; fail "round $round: e2fsck -fn found problems"; }
  echo "  e2fsck -fn: clean ($(tail -n 1 "$WORK/fsck.log"))"
  run 30 mount -o ro "$DEV" "$EXT" || fail "mount $DEV"
  out=$(run 120 python3 "$WRITER" fs-verify "$EXT/data" "$STATE" "$round" 2>&1) || {
    echo "  the writer of round $round: $(cat "$WORK/writer.log")"
    echo "  the filesystem: $(df -k "$EXT" | tail -n 1)"
    fail "ext4 round $round: acknowledged files lost: $out"
  }
  echo "$out" | sed 's/^/  /'
  run 30 umount "$EXT" || fail "umount $EXT"
  loop_detach "$DEV"
  vumount "$MNT"
done
check_clean "$IMG" | sed 's/^/  /'
echo "ext4: $EXT4_ROUNDS kill rounds passed in $(elapsed_since "$t0") s"
echo "kill -9 rounds: $((RAW_ROUNDS + EXT4_ROUNDS)) passed ($RAW_ROUNDS raw, $EXT4_ROUNDS ext4)"
echo PASS
