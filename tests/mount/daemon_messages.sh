# What the daemon tells the user:
#  (a) a warning found before the daemon detaches (PR_SET_IO_FLUSHER refused:
#      the daemon runs without CAP_SYS_RESOURCE) is on the stderr of
#      `vblkfs mount`, not only in syslog (which may not exist);
#  (b) at unmount the daemon logs one info line with what it served
#      (foreground mode: on stderr), with the right counts;
#  (c) another user reading or writing the control attributes gets EACCES
#      both ways, on the disk file and on the mountpoint.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require setpriv fallocate

IMG=$WORK/img
M=$WORK/m
mkdir -p "$M"
vformat "$IMG" --size 256M

echo "== (a) a start-up warning reaches the terminal"
run 30 setpriv --inh-caps=-sys_resource --bounding-set=-sys_resource "$VBLKFS" mount "$IMG" "$M" 2>"$WORK/err" ||
  fail "mount without CAP_SYS_RESOURCE failed: $(cat "$WORK/err")"
echo "  stderr: $(cat "$WORK/err")"
grep -q "^vblkfs: prctl(PR_SET_IO_FLUSHER): Operation not permitted (a loop device stacked on the disk may stall" \
  "$WORK/err" || fail "the PR_SET_IO_FLUSHER warning is not on stderr"
[[ $(wc -l <"$WORK/err") == 1 ]] || fail "expected exactly that line on stderr"
# After detaching, the daemon writes nothing to the terminal: its stderr is
# /dev/null.
[[ $(readlink "/proc/$(daemon_pid "$M")/fd/2") == /dev/null ]] || fail "the daemon's stderr is not /dev/null"
vumount "$M"

echo "== (b) the statistics line at unmount, foreground"
timeout 120 "$VBLKFS" mount -f "$IMG" "$M" 2>"$WORK/fg.err" &
fg=$!
BG_PIDS+=($fg)
wait_until 10 is_mounted "$M" || fail "vblkfs mount -f did not mount $M"
head -c 1M /dev/zero | tr '\0' 'a' >"$WORK/text"
run 30 dd if="$WORK/text" of="$M/disk" bs=64K seek=16 oflag=direct conv=notrunc,fsync status=none || fail "write"
run 30 dd if="$M/disk" of=/dev/null bs=1M count=2 iflag=direct status=none || fail "read"
run 30 fallocate -p -o 8M -l 4M "$M/disk" || fail "punch"
run 30 fusermount3 -u "$M" || fail "fusermount3 -u"
wait "$fg" || fail "vblkfs mount -f exited with $?"
line=$(grep "served .* reads" "$WORK/fg.err") || fail "no statistics line on stderr: $(cat "$WORK/fg.err")"
echo "  $line"
[[ $(grep -c "served .* reads" "$WORK/fg.err") == 1 ]] || fail "more than one statistics line"
python3 - "$line" "$IMG" <<'EOF_PY' || fail "the statistics line does not match what was done"
import re, sys
line, img = sys.argv[1:3]
m = re.search(re.escape(img) + r": served (\d+) reads \((\d+) bytes\), (\d+) writes \((\d+) bytes\), "
              r"(\d+) trims \((\d+) bytes\), (\d+) flushes; (\d+) failures, (\d+) retries; compression ratio ([\d.]+)$", line)
assert m, "unexpected format"
reads, rbytes, writes, wbytes, trims, tbytes, flushes, failures, retries = map(int, m.groups()[:9])
ratio = float(m.group(10))
assert rbytes == 2 << 20 and reads >= 2, (reads, rbytes)
assert wbytes == 1 << 20 and writes == 16, (writes, wbytes)
assert trims == 1 and tbytes == 4 << 20, (trims, tbytes)
assert flushes >= 1 and failures == 0 and retries == 0, (flushes, failures, retries)
assert ratio > 10, ratio  # 1 MiB of one letter
print("ok: the counts match")
EOF_PY

echo "== (c) another user gets EACCES, reading and writing"
vmount "$IMG" "$M" --allow-other 2>/dev/null
chmod o+x "$WORK"
for target in "$M/disk" "$M"; do
  got=$(cd / && setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 -c '
import errno, os, sys
for name, call in [("read", lambda: os.getxattr(sys.argv[1], "user.vblk.stats")),
                   ("write", lambda: os.setxattr(sys.argv[1], "user.vblk.control", b"bad 1"))]:
    try:
        call()
        print(name, "allowed")
    except OSError as e:
        print(name, errno.errorcode[e.errno])
' "$target" 2>&1)
  echo "  as nobody on $target: $(echo $got)"
  [[ $got == $'read EACCES\nwrite EACCES' ]] || fail "expected EACCES both ways on $target, got: $got"
done
inspect=$(cd / && setpriv --reuid=65534 --regid=65534 --clear-groups "$VBLK_INSPECT" "$M" 2>&1) &&
  fail "vblk-inspect as nobody succeeded"
echo "  vblk-inspect as nobody: $inspect"
[[ $inspect == *"only the user who mounted it, or root, may use user.vblk.stats"* ]] ||
  fail "vblk-inspect as nobody does not say why"
[[ $(json_get <(vinspect --json --no-map "$M") 'j["blocks"]["bad"]') == 0 ]] || fail "nobody's command took effect"
vumount "$M"
echo "PASS"
