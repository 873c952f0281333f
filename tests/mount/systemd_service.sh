# vblkfs as a systemd service. systemd itself need not run (it is not PID 1
# on most CI machines): a socket this test listens on stands in for its
# notify socket (notify_listener.py), and unit_command.py builds a unit's
# command lines the way systemd does.
#
# `vblkfs mount -f` under a Type=notify service manager (sd_notify(3)):
#   (a) STATUS=opening before the mount exists; READY=1 only once the disk
#       file opens and reads; STOPPING=1 at `vblkfs umount`; every message
#       from the main pid; exit 0;
#   (b) the same end on SIGTERM (what systemd sends when ExecStop has not
#       ended the service);
#   (c) an image that does not open, or a disk file that does not answer
#       once mounted: no READY=1, exit 1, nothing left mounted;
#   (d) NOTIFY_SOCKET naming no socket: the mount works, one warning says so;
#   (e) a daemonized mount (no -f) sends nothing: it reports by returning.
# vblkfs@.service, as meson configured it (the first extra argument):
#   (f) systemd-analyze verify accepts an instance of it without a word (and
#       refuses broken copies: the check can fail);
#   (g) for an instance named after a mountpoint (systemd-escape --path) and
#       its /etc/vblk/INSTANCE.conf, ExecStart mounts the image there with
#       the file's OPTIONS and says READY=1; ExecStop unmounts: STOPPING=1.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LISTENER=$MOUNT_LIB_DIR/notify_listener.py
UNIT=${EXTRA_ARGS[0]}
FAIL_STAT=${EXTRA_ARGS[1]}  # LD_PRELOAD: stat of a path ending in $VBLK_FAIL_STAT fails
for c in systemd-analyze systemd-escape man; do
  command -v "$c" >/dev/null || missing_prerequisite "missing command: $c (package systemd, man-db)"
done

IMG=$WORK/img
M=$WORK/m
mkdir -p "$M"
vformat "$IMG" --size 64M >/dev/null

# listen NAME SECONDS VBLKFS-ARGS...: runs vblkfs under the listener in the
# background; its report is $WORK/NAME.json. Sets LISTENER_PID.
# DISK (default $M/disk) is the file read at READY=1; PRELOAD, if set, is
# preloaded into vblkfs (env execs it: the pid stays the one started).
listen() {
  local name=$1 secs=$2
  shift 2
  rm -f "$WORK/$name.sock" "$WORK/$name.json" "$WORK/$name.json.ready"
  python3 "$LISTENER" "$WORK/$name.sock" "${DISK:-$M/disk}" "$WORK/$name.json" "$secs" \
    env ${PRELOAD:+"LD_PRELOAD=$PRELOAD"} "$VBLKFS" "$@" 2>"$WORK/$name.err" &
  LISTENER_PID=$!
  BG_PIDS+=("$LISTENER_PID")
}

# finished NAME: waits for the listener; sets RC to vblkfs's exit status.
finished() {
  RC=0
  wait "$LISTENER_PID" || RC=$?
  [[ -s $WORK/$1.json ]] || fail "$1: the listener wrote no report: $(cat "$WORK/$1.err")"
}

# check NAME EXPR MESSAGE: the Python expression EXPR over the report `r`
# (and its notifications' fields, `msgs`) holds.
check() {
  python3 - "$WORK/$1.json" "$2" <<'EOF_PY' || fail "$1: $3: $(cat "$WORK/$1.json")"
import json, sys
r = json.load(open(sys.argv[1]))
msgs = [m["fields"] for m in r["messages"]]
sys.exit(not eval(sys.argv[2]))
EOF_PY
}

echo "== (a) READY=1 once the disk reads, STOPPING=1 at vblkfs umount"
listen a 120 mount -f "$IMG" "$M" --log-file "$WORK/a.log"
wait_until 60 test -e "$WORK/a.json.ready" || fail "no READY=1 within 60 s: $(cat "$WORK/a.err")"
[[ $(fstype_at "$M") == fuse.vblkfs ]] || fail "READY=1 came but $M is not a vblkfs mount"
printf 'notified' | dd of="$M/disk" bs=1 seek=4096 conv=notrunc status=none || fail "write after READY=1"
vumount "$M"
finished a
[[ $RC -eq 0 ]] || fail "vblkfs mount -f exited with $RC: $(cat "$WORK/a.err")"
check a 'msgs[0] == ["STATUS=opening '"$(realpath "$IMG")"'"]' "the first message is not STATUS=opening IMAGE"
check a 'r["messages"][0]["disk_existed"] is False' "the disk file existed before the image was opened"
check a '[i for i, m in enumerate(msgs) if "READY=1" in m] == [1]' "READY=1 is not the second message, once"
check a 'r["messages"][1]["read"]["ok"]' "the disk file did not open and read at READY=1"
check a 'any(f.startswith("STATUS=serving ") and f.endswith(" at '"$M"'") for f in msgs[1])' \
  "READY=1 without STATUS=serving IMAGE at $M"
check a '"STOPPING=1" in msgs[-1] and [i for i, m in enumerate(msgs) if "STOPPING=1" in m] == [len(msgs) - 1]' \
  "STOPPING=1 is not the last message, once"
check a 'all(m["pid"] == r["pid"] for m in r["messages"])' "a message came from another pid than vblkfs's own"
check a 'len(msgs) == 3' "expected 3 messages"
vinspect --block 1 "$IMG" | grep -q notified || fail "the write after READY=1 is not in the image"
python3 -c 'import json,sys; [print("  " + " | ".join(m["fields"])) for m in json.load(open(sys.argv[1]))["messages"]]' \
  "$WORK/a.json"

echo "== (b) SIGTERM: STOPPING=1, a clean exit"
listen b 120 mount -f "$IMG" "$M" --log-file "$WORK/b.log"
wait_until 60 test -e "$WORK/b.json.ready" || fail "no READY=1 within 60 s: $(cat "$WORK/b.err")"
pid=$(daemon_pid "$M")
[[ -n $pid ]] || fail "no vblkfs process serves $M"
kill -TERM "$pid"
finished b
[[ $RC -eq 0 ]] || fail "vblkfs mount -f exited with $RC after SIGTERM"
check b '"STOPPING=1" in msgs[-1]' "no STOPPING=1 after SIGTERM"
check b 'r["messages"][1]["read"]["ok"]' "the disk file did not open and read at READY=1"
wait_until 10 bash -c "! grep -q ' $M ' /proc/self/mountinfo" || fail "$M still mounted after SIGTERM"
image_free "$IMG" || fail "the image is still held after SIGTERM"

echo "== (c) an image that does not open, a disk file that does not answer: no READY=1, exit 1"
head -c 1M /dev/urandom >"$WORK/garbage"
listen c 60 mount -f "$WORK/garbage" "$M"
finished c
[[ $RC -eq 1 ]] || fail "a garbage image: exit $RC, not 1"
check c 'not any("READY=1" in m for m in msgs)' "READY=1 for an image that did not open"
check c 'msgs and msgs[0][0].startswith("STATUS=opening ")' "no STATUS=opening"
grep -q "garbage" "$WORK/c.err" || fail "the error does not name the image: $(cat "$WORK/c.err")"
[[ -z $(mounts_under "$WORK") ]] || fail "a failed mount left $(mounts_under "$WORK")"
export VBLK_FAIL_STAT=/disk
PRELOAD=$FAIL_STAT listen c2 60 mount -f "$IMG" "$M"
finished c2
unset VBLK_FAIL_STAT
[[ $RC -eq 1 ]] || fail "a disk file that does not answer: exit $RC, not 1: $(cat "$WORK/c2.err")"
check c2 'not any("READY=1" in m for m in msgs)' "READY=1 for a disk file that does not answer"
grep -q "$M/disk: not usable after mounting" "$WORK/c2.err" || fail "no error naming $M/disk: $(cat "$WORK/c2.err")"
[[ -z $(mounts_under "$WORK") ]] || fail "a mount that did not answer was left: $(mounts_under "$WORK")"
image_free "$IMG" || fail "the image is still held after a failed mount"

echo "== (d) NOTIFY_SOCKET names no socket: the mount works and says so once"
NOTIFY_SOCKET=$WORK/nobody.sock timeout 60 "$VBLKFS" mount -f "$IMG" "$M" 2>"$WORK/d.err" &
d_pid=$!
BG_PIDS+=("$d_pid")
wait_until 30 is_mounted "$M" || fail "no mount with a dead NOTIFY_SOCKET: $(cat "$WORK/d.err")"
vumount "$M"
wait "$d_pid" || fail "vblkfs mount -f exited with $? with a dead NOTIFY_SOCKET"
[[ $(grep -c "NOTIFY_SOCKET=$WORK/nobody.sock: cannot notify the service manager" "$WORK/d.err") -eq 1 ]] ||
  fail "expected one warning about the dead NOTIFY_SOCKET: $(cat "$WORK/d.err")"

echo "== (e) a daemonized mount sends nothing"
listen e 60 mount "$IMG" "$M" --log-file "$WORK/e.log"
finished e
[[ $RC -eq 0 ]] || fail "vblkfs mount exited with $RC"
[[ $(fstype_at "$M") == fuse.vblkfs ]] || fail "vblkfs mount returned 0 but $M is not mounted"
check e 'msgs == []' "a daemon sent notifications"
vumount "$M"

echo "== (f) systemd-analyze verify vblkfs@.service"
INSTANCE=$(systemd-escape --path "$M")
[[ $(systemd-escape --unescape --path "$INSTANCE") == "$M" ]] || fail "%f of $INSTANCE is not $M"
# The unit as installed, but running this build's vblkfs; its man page
# from the source tree (verify checks Documentation=man:vblkfs(1)).
mkdir -p "$WORK/units" "$WORK/man/man1"
sed -E "s|^(Exec[A-Za-z]+=)/[^ ]*/vblkfs |\1$VBLKFS |" "$UNIT" >"$WORK/units/vblkfs@.service"
ln -s "$MOUNT_LIB_DIR/../../man/vblkfs.1" "$WORK/man/man1/vblkfs.1"
[[ $(grep -c "^Exec[A-Za-z]*=$VBLKFS " "$WORK/units/vblkfs@.service") -eq 2 ]] ||
  fail "ExecStart/ExecStop of $UNIT do not run vblkfs: $(grep ^Exec "$UNIT")"
# verify UNIT-FILE: systemd-analyze verify of an instance of it, every word it says on $WORK/verify.out.
verify() {
  local dir
  dir=$(dirname "$1")
  [[ -e "$dir/vblkfs@$INSTANCE.service" ]] || ln -s "$(basename "$1")" "$dir/vblkfs@$INSTANCE.service"
  MANPATH=$WORK/man timeout 60 systemd-analyze verify "$dir/vblkfs@$INSTANCE.service" >"$WORK/verify.out" 2>&1
}
verify "$WORK/units/vblkfs@.service" || fail "systemd-analyze verify: $(cat "$WORK/verify.out")"
[[ ! -s $WORK/verify.out ]] || fail "systemd-analyze verify had something to say: $(cat "$WORK/verify.out")"
mkdir -p "$WORK/broken1" "$WORK/broken2"
sed "s|^Type=notify|Type=notify-ish|" "$WORK/units/vblkfs@.service" >"$WORK/broken1/vblkfs@.service"
verify "$WORK/broken1/vblkfs@.service" || true
grep -q "notify-ish" "$WORK/verify.out" || fail "verify did not notice a bad Type=: $(cat "$WORK/verify.out")"
sed "s|^ExecStart=$VBLKFS |ExecStart=$WORK/nowhere/vblkfs |" "$WORK/units/vblkfs@.service" >"$WORK/broken2/vblkfs@.service"
! verify "$WORK/broken2/vblkfs@.service" || fail "verify accepted an ExecStart that does not exist"

echo "== (g) ExecStart and ExecStop of vblkfs@$INSTANCE.service"
grep -qx 'EnvironmentFile=/etc/vblk/%i.conf' "$UNIT" || fail "the unit does not read /etc/vblk/%i.conf"
UIMG="$WORK/a disk.vblk"  # a space: IMAGE is one word
vformat "$UIMG" --size 32M >/dev/null
mkdir -p "$WORK/root/etc/vblk"
cat >"$WORK/root/etc/vblk/$INSTANCE.conf" <<EOF_CONF
# served at $M by vblkfs@$INSTANCE.service
IMAGE="$UIMG"
OPTIONS=--cache-size 16M --name vda --log-file $WORK/unit.log
EOF_CONF
# unit_command KEY: the command line into the array CMD.
unit_command() {
  mapfile -d '' CMD < <(python3 "$MOUNT_LIB_DIR/unit_command.py" "$WORK/units/vblkfs@.service" "$1" "$INSTANCE" "$M" \
    "$WORK/root")
  [[ ${#CMD[@]} -gt 0 ]] || fail "no $1 command"
  echo "  $1: ${CMD[*]}"
}
unit_command ExecStart
[[ ${CMD[0]} == "$VBLKFS" ]] || fail "ExecStart does not start with $VBLKFS"
DISK=$M/vda listen g 120 "${CMD[@]:1}"
wait_until 60 test -e "$WORK/g.json.ready" || fail "ExecStart: no READY=1 within 60 s: $(cat "$WORK/g.err")"
[[ $(findmnt -n -o SOURCE --mountpoint "$M") == "$UIMG" ]] || fail "$M does not serve $UIMG"
[[ -w $M/vda ]] || fail "ExecStart: no $M/vda (OPTIONS --name vda)"
printf 'unit' | dd of="$M/vda" bs=1 seek=4096 conv=notrunc status=none || fail "write to $M/vda"
unit_command ExecStop
run 90 "${CMD[@]}" || fail "ExecStop failed"
finished g
[[ $RC -eq 0 ]] || fail "ExecStart's vblkfs exited with $RC: $(cat "$WORK/g.err")"
check g 'r["messages"][1]["read"]["ok"] and "STOPPING=1" in msgs[-1]' "READY=1 with the disk readable, then STOPPING=1"
vinspect --block 1 "$UIMG" | grep -q unit || fail "the write through the unit's mount is not in the image"

echo "  an instance whose file sets no IMAGE fails, saying so"
sed -i '/^IMAGE=/d' "$WORK/root/etc/vblk/$INSTANCE.conf"
unit_command ExecStart
rc=0
timeout 30 "${CMD[@]}" 2>"$WORK/noimage.err" || rc=$?
[[ $rc -eq 2 ]] && grep -qx "vblkfs: IMAGE is empty" "$WORK/noimage.err" ||
  fail "ExecStart without IMAGE: exit $rc: $(cat "$WORK/noimage.err")"
[[ -z $(mounts_under "$WORK") ]] || fail "ExecStart without IMAGE left a mount"

check_clean "$IMG" >/dev/null
echo PASS
