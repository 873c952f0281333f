# The mount(8) helper convention, `vblkfs IMAGE MOUNTPOINT -o LIST`, as
# mount.fuse3 runs it for `mount -t fuse.vblkfs` and fstab lines: option
# lists that mount, each to the effect its options ask for, and malformed
# ones that fail at once (exit 2, one line naming the option) with nothing
# mounted; and an image path that holds a comma, which the options vblkfs
# gives FUSE must escape.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

IMG=$WORK/img
MNT=$WORK/m
mkdir -p "$MNT"
vformat "$IMG" --size 64M >/dev/null

# helper_mount LIST: mounts through the helper convention with -o LIST.
helper_mount() {
  run 30 "$VBLKFS" "$IMG" "$MNT" -o "$1" >"$WORK/out" 2>"$WORK/err" ||
    fail "-o '$1' did not mount: $(cat "$WORK/err")"
  [[ $(fstype_at "$MNT") == fuse.vblkfs ]] || fail "-o '$1': $MNT is not a vblkfs mount"
}

# mount_opts: the kernel's options of the mount at $MNT (mountinfo field 6
# and the super options after the separator).
mount_opts() { awk -v d="$MNT" '$5 == d { for (i = 7; $i != "-"; i++); print $6 "," $(i + 3) }' /proc/self/mountinfo; }

echo "== empty items, a trailing comma, a repeated option: the last one counts"
helper_mount ",,ro,,cache-size=8M,name=a,name=vda,"
[[ -r $MNT/vda && ! -e $MNT/a ]] || fail "name=a,name=vda: $(ls "$MNT")"
[[ ! -w $MNT/vda ]] || fail "ro: the disk file is writable"
[[ $(mount_opts) == ro,* ]] || fail "ro: mount options $(mount_opts)"
vumount "$MNT"

echo "== ro,rw is read-write; mount-only and systemd options are dropped; FUSE options reach the kernel"
helper_mount "ro,rw,defaults,nofail,_netdev,x-systemd.requires=/,comment=x,noatime,max_read=65536"
[[ -w $MNT/disk ]] || fail "ro,rw: the disk file is not writable"
printf 'helper' | dd of="$MNT/disk" bs=1 seek=8192 conv=notrunc status=none || fail "write"
opts=$(mount_opts)
[[ $opts == *noatime* && $opts == *max_read=65536* ]] || fail "FUSE options not applied: $opts"
vumount "$MNT"
vinspect --block 2 "$IMG" | grep -q helper || fail "the write did not reach the image"

echo "== malformed lists fail before anything is mounted"
# expect_usage_error LIST TEXT: -o LIST exits 2 with one line containing TEXT.
expect_usage_error() {
  local rc=0
  timeout 30 "$VBLKFS" "$IMG" "$MNT" -o "$1" >"$WORK/out" 2>"$WORK/err" || rc=$?
  [[ $rc -eq 2 ]] || fail "-o '$1': exit $rc, not 2: $(cat "$WORK/err")"
  [[ $(wc -l <"$WORK/err") -eq 1 ]] || fail "-o '$1': expected one line on stderr, got: $(cat "$WORK/err")"
  grep -qF -- "$2" "$WORK/err" || fail "-o '$1': stderr does not say '$2': $(cat "$WORK/err")"
  [[ -z $(mounts_under "$WORK") ]] || fail "-o '$1' left a mount"
  [[ -z $(vblkfs_pids_under "$WORK") ]] || fail "-o '$1' left a vblkfs process running"
  echo "  ok: -o '$1' -> $(cat "$WORK/err")"
}
expect_usage_error "ro,cache-size=" "-o cache-size=: cache-size needs a value"
expect_usage_error "name=,ro" "-o name=: name needs a value"
expect_usage_error "cache-size" "-o cache-size: needs a value"
expect_usage_error "ro=yes" "-o ro=yes: ro takes no value"
expect_usage_error "cache-size=lots,cache-size=8M" "-o cache-size: invalid size 'lots'"
expect_usage_error "threads=0" "-o threads: 0 is outside 1..256"
expect_usage_error "log-level=loud" "-o log-level: 'loud' is not one of trace, debug"
rc=0
timeout 30 "$VBLKFS" "$IMG" "$MNT" -o >/dev/null 2>"$WORK/err" || rc=$?
[[ $rc -eq 2 ]] && grep -q -- "-o needs an option list" "$WORK/err" || fail "a missing list: exit $rc: $(cat "$WORK/err")"

echo "== an option FUSE does not know fails the mount, naming the mountpoint"
rc=0
timeout 30 "$VBLKFS" "$IMG" "$MNT" -o "ro,no_such_option" >/dev/null 2>"$WORK/err" || rc=$?
[[ $rc -eq 1 ]] || fail "-o no_such_option: exit $rc: $(cat "$WORK/err")"
grep -qF "$MNT: cannot start a FUSE session" "$WORK/err" || fail "-o no_such_option: $(cat "$WORK/err")"
[[ -z $(mounts_under "$WORK") ]] || fail "-o no_such_option left a mount"

echo "== an image whose path holds a comma, a backslash and a space (fsname= is escaped)"
ODD="$WORK/a,b \\c.vblk"
cp "$IMG" "$ODD"
run 30 "$VBLKFS" "$ODD" "$MNT" -o ro >/dev/null 2>"$WORK/err" || fail "$ODD did not mount: $(cat "$WORK/err")"
[[ $(findmnt -n -o SOURCE --mountpoint "$MNT") == "$ODD" ]] ||
  fail "the mount's source is $(findmnt -n -o SOURCE --mountpoint "$MNT"), not $ODD"
vumount "$MNT"
image_free "$ODD" || fail "vblkfs umount returned before $ODD was released"

check_clean "$IMG" >/dev/null
echo PASS
