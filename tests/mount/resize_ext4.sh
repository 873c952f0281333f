# Growing a disk live: ext4 mounted on a loop device over a vblkfs disk
# grows with vblk-format --resize MOUNTPOINT, losetup -c and resize2fs; the
# files written before are intact and df shows the new size, also after a
# remount. A live shrink refuses while blocks past the new end are USED,
# naming the first and how many; with --force it drops them and the kernel
# sees the smaller file at once. The image file itself cannot be resized
# while mounted: the error names the mountpoint to use; a read-only mount
# is not resized.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require resize2fs blockdev df

ext4_on_vblk 256M
disk_size() { stat -c %s "$MNT/disk"; }
fs_bytes() { df -B1 --output=size "$FS" | tail -1 | tr -d ' '; }

# Files with their checksums: text, random and zeros.
python3 - "$FS" <<'PY'
import os, random, sys
r = random.Random(3)
root = sys.argv[1]
for i in range(24):
    kind = i % 3
    size = r.randint(1, 3 << 20)
    if kind == 0:
        data = (f"file {i} line " * (size // 12 + 1)).encode()[:size]
    elif kind == 1:
        data = r.randbytes(size)
    else:
        data = bytes(size)
    os.makedirs(f"{root}/d{i % 4}", exist_ok=True)
    with open(f"{root}/d{i % 4}/f{i}", "wb") as f:
        f.write(data)
PY
(cd "$FS" && find . -type f -print0 | sort -z | xargs -0 sha256sum) >"$WORK/sums"
sync
before=$(fs_bytes)
echo "ext4: $before bytes before"

# The image file of a mounted disk is not resized behind the daemon's back.
rc=0
"$VBLK_FORMAT" --resize "$IMG" 512M >"$WORK/out" 2>"$WORK/err" || rc=$?
[[ $rc -eq 1 ]] || fail "--resize of a mounted image: exit $rc: $(cat "$WORK/err")"
grep -q "in use by process [0-9]* (vblkfs); resize it through the mountpoint $MNT instead" "$WORK/err" ||
  fail "--resize of a mounted image: $(cat "$WORK/err")"

# Grow: the daemon, then the loop device, then the file system.
run 60 "$VBLK_FORMAT" --resize "$MNT" 512M >"$WORK/out" || fail "vblk-format --resize $MNT 512M"
cat "$WORK/out"
grep -q "^$MNT: resized from 256.0 MiB (268435456 bytes) to 512.0 MiB (536870912 bytes)$" "$WORK/out" ||
  fail "summary: $(cat "$WORK/out")"
[[ $(disk_size) == $((512 << 20)) ]] || fail "the disk file is $(disk_size) bytes"
run 30 losetup -c "$LOOP" || fail "losetup -c"
[[ $(blockdev --getsize64 "$LOOP") == $((512 << 20)) ]] || fail "the loop device is $(blockdev --getsize64 "$LOOP") bytes"
# Growing a mounted ext4 needs CAP_SYS_RESOURCE (EXT4_IOC_RESIZE_FS); a
# container may lack it, and resize2fs then grows it unmounted instead:
# the disk below is the same live vblkfs disk either way.
cap_eff=$(awk '/^CapEff/ { print $2 }' /proc/self/status)
if (((0x$cap_eff >> 24) & 1)); then
  run 120 resize2fs "$LOOP" >"$WORK/resize2fs.log" 2>&1 || fail "resize2fs (mounted): $(cat "$WORK/resize2fs.log")"
  echo "ext4 grown while mounted"
else
  echo "no CAP_SYS_RESOURCE here: growing ext4 unmounted, on the same live disk"
  run 30 umount "$FS" || fail "umount $FS"
  run 120 e2fsck -f -y "$LOOP" >/dev/null 2>&1 || fail "e2fsck before resize2fs"
  run 120 resize2fs "$LOOP" >"$WORK/resize2fs.log" 2>&1 || fail "resize2fs: $(cat "$WORK/resize2fs.log")"
  run 30 mount "$LOOP" "$FS" || fail "mount $LOOP"
fi
after=$(fs_bytes)
echo "ext4: $after bytes after"
((after > before * 19 / 10)) || fail "df shows $after bytes after growing, $before before"
(cd "$FS" && run 120 sha256sum --quiet -c "$WORK/sums") || fail "files written before the resize differ"
# The new space holds data: more than the old disk could.
run 120 dd if=/dev/urandom of="$FS/big" bs=1M count=300 status=none || fail "writing 300 MiB into the grown fs"
sha256sum "$FS/big" | sed "s|$FS|.|" >>"$WORK/sums"
sync
vinspect "$MNT" --json --no-map >"$WORK/live.json"
[[ $(json_get "$WORK/live.json" 'j["capacity_bytes"]') == $((512 << 20)) ]] || fail "live capacity"

# A live shrink below what ext4 uses is refused, and changes nothing.
rc=0
"$VBLK_FORMAT" --resize "$MNT" 256M >"$WORK/out" 2>"$WORK/err" || rc=$?
[[ $rc -eq 1 ]] || fail "shrinking below used blocks: exit $rc: $(cat "$WORK/err")"
grep -Eq "cannot shrink to 65536 blocks: [0-9]+ blocks at or beyond the new end are USED, the first is block [0-9]+; --force discards them$" \
  "$WORK/err" || fail "refused shrink: $(cat "$WORK/err")"
[[ $(wc -l <"$WORK/err") -eq 1 ]] || fail "refused shrink: more than one line: $(cat "$WORK/err")"
[[ $(disk_size) == $((512 << 20)) ]] || fail "a refused shrink changed the size: $(disk_size)"

# Down and up again: the data is there, and so is the size.
run 30 umount "$FS" || fail "umount $FS"
run 120 e2fsck -fn "$LOOP" >"$WORK/fsck.log" 2>&1 || fail "e2fsck: $(cat "$WORK/fsck.log")"
loop_detach "$LOOP"
vumount "$MNT"
check_clean "$IMG"
vinspect "$IMG" --json --no-map >"$WORK/off.json"
[[ $(json_get "$WORK/off.json" 'j["capacity_bytes"]') == $((512 << 20)) ]] || fail "capacity after unmount"
vmount "$IMG" "$MNT"
LOOP=$(loop_attach "$MNT/disk" --direct-io=on)
run 30 mount "$LOOP" "$FS" || fail "mount after the remount"
[[ $(fs_bytes) == "$after" ]] || fail "df after the remount: $(fs_bytes), expected $after"
(cd "$FS" && run 120 sha256sum --quiet -c "$WORK/sums") || fail "files differ after the remount"
run 30 umount "$FS" || fail "umount $FS"
loop_detach "$LOOP"

# A live shrink with --force: the blocks past the end go; the kernel sees
# the smaller file at once, and growing back reads zeros there.
run 60 dd if=/dev/urandom of="$MNT/disk" bs=1M seek=400 count=8 conv=notrunc oflag=direct status=none ||
  fail "writing near the end"
run 60 cmp -n 4096 -i 0:$((400 << 20)) /dev/zero "$MNT/disk" >/dev/null 2>&1 && fail "the write near the end read back as zeros"
run 60 "$VBLK_FORMAT" --resize "$MNT" 384M --force >"$WORK/out" || fail "--resize --force"
grep -Eq "to 384.0 MiB \(402653184 bytes\); [0-9]+ USED blocks from block (9[89]|1[0-9])[0-9]{3} on discarded" "$WORK/out" ||
  fail "forced shrink summary: $(cat "$WORK/out")"
[[ $(disk_size) == $((384 << 20)) ]] || fail "after a forced shrink the disk file is $(disk_size) bytes"
[[ $(dd if="$MNT/disk" bs=1M skip=384 count=1 status=none | wc -c) == 0 ]] || fail "read past the new end"
run 60 "$VBLK_FORMAT" --resize "$MNT" 512M >/dev/null || fail "growing back"
[[ $(disk_size) == $((512 << 20)) ]] || fail "after growing back the disk file is $(disk_size) bytes"
run 60 cmp -n $((8 << 20)) -i 0:$((400 << 20)) /dev/zero "$MNT/disk" || fail "dropped blocks do not read zeros"
vumount "$MNT"
check_clean "$IMG"

# A read-only mount is not resized.
vmount "$IMG" "$MNT" --read-only
rc=0
"$VBLK_FORMAT" --resize "$MNT" 1G >"$WORK/out" 2>"$WORK/err" || rc=$?
[[ $rc -eq 1 ]] || fail "--resize of a read-only mount: exit $rc: $(cat "$WORK/err")"
grep -qx "vblk-format: $MNT: the disk is mounted read-only: it cannot be resized" "$WORK/err" ||
  fail "--resize of a read-only mount: $(cat "$WORK/err")"
[[ $(disk_size) == $((512 << 20)) ]] || fail "a read-only mount changed size: $(disk_size)"
vumount "$MNT"
echo "ok"
