# Bad inputs to `vblkfs mount`, and a mount whose disk file does not answer:
# each fails quickly with a non-zero exit and one line on stderr naming the
# file and the cause, and leaves nothing mounted and no daemon behind.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MNT=$WORK/m
mkdir -p "$MNT"
vformat "$WORK/good" --size 64M >/dev/null

# expect_mount_error NAME IMAGE MOUNTPOINT: NAME is what stderr must mention.
expect_mount_error() {
  local name=$1 img=$2 mnt=$3 rc=0 t0 el
  t0=$(now_ns)
  timeout 30 "$VBLKFS" mount "$img" "$mnt" >"$WORK/out" 2>"$WORK/err" || rc=$?
  el=$(elapsed_since "$t0")
  local what
  what="vblkfs mount $(basename "$img") $(basename "$mnt")"
  [[ $rc -ne 0 ]] || fail "$what succeeded"
  [[ $rc -ne 124 ]] || fail "$what hung"
  [[ $rc -lt 128 ]] || fail "$what crashed (exit $rc): $(cat "$WORK/err")"
  python3 -c "import sys; sys.exit(float(sys.argv[1]) > 5)" "$el" || fail "$what took $el s to fail"
  [[ $(wc -l <"$WORK/err") -eq 1 ]] || fail "$what: expected one line on stderr, got: $(cat "$WORK/err")"
  grep -q '^vblkfs: ' "$WORK/err" || fail "$what: stderr does not start with 'vblkfs: ': $(cat "$WORK/err")"
  grep -qF -- "$name" "$WORK/err" || fail "$what: stderr does not name $name: $(cat "$WORK/err")"
  [[ -z $(mounts_under "$WORK") ]] || fail "$what left a mount: $(mounts_under "$WORK")"
  [[ -z $(vblkfs_pids_under "$WORK") ]] || fail "$what left a vblkfs process running"
  echo "ok (exit $rc, $el s): $what -> $(cat "$WORK/err")"
}

expect_mount_error missing "$WORK/missing" "$MNT"
mkdir "$WORK/adir"
expect_mount_error adir "$WORK/adir" "$MNT"
head -c 1M /dev/urandom >"$WORK/garbage"
expect_mount_error garbage "$WORK/garbage" "$MNT"
: >"$WORK/empty"
expect_mount_error empty "$WORK/empty" "$MNT"
# Cut inside its header area (a longer image cut at its tail may legitimately
# open: the log after the last checkpoint is recovered up to the cut).
head -c 2048 "$WORK/good" >"$WORK/truncated"
expect_mount_error truncated "$WORK/truncated" "$MNT"
# Locked by another process (a POSIX lock conflicts with the store's OFD
# lock): the message names the holder.
python3 - "$WORK/good" "$WORK/locked.ready" <<'EOF_PY' &
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_EX, 0, 0)
open(sys.argv[2], "w").close()
time.sleep(60)
EOF_PY
LOCKER=$!
BG_PIDS+=("$LOCKER")
wait_until 10 test -e "$WORK/locked.ready" || fail "the locker did not start"
expect_mount_error good "$WORK/good" "$MNT"
grep -q "$LOCKER" "$WORK/err" || echo "note: the message does not give the holder's pid $LOCKER"
kill "$LOCKER"
wait "$LOCKER" 2>/dev/null || true

expect_mount_error nowhere "$WORK/good" "$WORK/nowhere"
: >"$WORK/afile"
expect_mount_error afile "$WORK/good" "$WORK/afile"

# The disk file does not answer through the new mount (stat fails, made so
# by the fail_stat.so preload): the mount is taken down again.
LD_PRELOAD=${EXTRA_ARGS[0]} VBLK_FAIL_STAT=/disk expect_mount_error "$MNT/disk: not usable after mounting" \
  "$WORK/good" "$MNT"

# Sanity: the good image and mountpoint do mount.
vmount "$WORK/good" "$MNT"
vumount "$MNT"
echo PASS
