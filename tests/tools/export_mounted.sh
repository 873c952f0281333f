# Exporting an image that vblkfs has mounted read-write is refused with a
# message naming the daemon and the mountpoint, and saying what to do; a
# read-only mount shares the lock, and the export then matches the disk.
source "$(dirname "${BASH_SOURCE[0]}")/export_lib.sh"

use_mountpoint

python3 -c '
with open("raw.img", "wb") as f:
    f.truncate(8 << 20)
    f.seek(12345); f.write(b"mounted disk" * 100)'
vformat img --from raw.img >/dev/null
timeout 30 "$VBLKFS" mount img mnt
expect_error img vexport img out.raw
grep -q 'vblkfs' err.txt || fail "holder not named: $(cat err.txt)"
grep -qF "vblkfs umount $WORK/mnt" err.txt || fail "no umount hint: $(cat err.txt)"
grep -qF "cp --sparse=always $WORK/mnt/disk out.raw" err.txt || fail "no copy hint: $(cat err.txt)"
[[ ! -e out.raw ]] || fail "refused export left out.raw"
no_leftovers .
# The suggested copy works.
cp --sparse=always mnt/disk copy.raw
cmp copy.raw raw.img || fail "copy of the live disk differs"
timeout 60 "$VBLKFS" umount mnt

timeout 30 "$VBLKFS" mount --read-only img mnt
vexport img out.raw >/dev/null || fail "export of a read-only mount failed"
cmp out.raw mnt/disk || fail "export differs from the read-only mounted disk"
timeout 60 "$VBLKFS" umount mnt
cmp out.raw raw.img || fail "export differs from the imported raw file"
echo PASS
