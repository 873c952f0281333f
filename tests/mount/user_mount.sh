# A user who is not root mounts and unmounts a disk (libfuse goes through
# the setuid fusermount3), at a mountpoint whose path holds a quote and a
# space: `vblkfs umount` runs `fusermount3 -u` without a shell, so any path
# works, and it still waits until the daemon has released the image
# (--json then says fusermount: true).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require setpriv fusermount3
[[ -u $(command -v fusermount3) ]] || missing_prerequisite "fusermount3 is not setuid root"

# Users may open /dev/fuse on a stock Debian (crw-rw-rw-); some machines
# keep it root's: open it to them for this test only.
FUSE_MODE=$(stat -c %a /dev/fuse)
trap 'rc=$?; chmod "$FUSE_MODE" /dev/fuse; (exit $rc); cleanup' EXIT
chmod 666 /dev/fuse

NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
chmod 755 "$WORK"
IMG=$WORK/user.vblk
M="$WORK/it's a disk"
vformat "$IMG" --size 64M >/dev/null
mkdir "$M"
chown nobody "$IMG" "$M"
# Mounted without allow_other, the mountpoint cannot even be stat'ed by
# root: look in mountinfo (where a space is \040).
mounted() { grep -qF " ${M// /\\040} " /proc/self/mountinfo; }

run 60 "${NOBODY[@]}" "$VBLKFS" mount "$IMG" "$M" 2>"$WORK/mount.err" || fail "mount as nobody: $(cat "$WORK/mount.err")"
mounted || fail "nothing mounted on $M"
head -c 1M /dev/urandom >"$WORK/data"
chmod 644 "$WORK/data"
run 60 "${NOBODY[@]}" dd if="$WORK/data" of="$M/disk" bs=64k conv=notrunc,fsync status=none || fail "write as nobody"
run 60 "${NOBODY[@]}" cmp -n $((1 << 20)) "$WORK/data" "$M/disk" || fail "read back as nobody"

run 90 "${NOBODY[@]}" "$VBLKFS" umount "$M" --json >"$WORK/umount.json" 2>"$WORK/umount.err" ||
  fail "umount as nobody: $(cat "$WORK/umount.err")"
! mounted || fail "$M is still mounted after vblkfs umount"
# --json says it went through fusermount3, and names the mountpoint.
[[ $(json_get "$WORK/umount.json" "j['schema'], j['fusermount']") == "('vblkfs-umount/1', True)" &&
   $(json_get "$WORK/umount.json" "j['mountpoint']") == "$M" ]] ||
  fail "vblkfs umount --json as nobody: $(cat "$WORK/umount.json")"
# umount returned only once the daemon let go of the image: it opens now.
image_free "$IMG" || fail "the image is still held after vblkfs umount returned"
echo PASS
