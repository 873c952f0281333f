# No tool replaces an image that is in use: vblk-format --force (empty or
# --from), vblk-export OUT --force and vblk-inspect --svg FILE over an image
# that vblkfs has mounted (read-write or read-only) fail with exit 1 and one
# line naming the daemon and the mountpoint, and the mounted image keeps
# every write made through the mount.
# Run as: bash replace_mounted.sh VBLK_FORMAT VBLK_INSPECT VBLK_EXPORT EXPORT_AID VBLKFS
source "$(dirname "${BASH_SOURCE[0]}")/export_lib.sh"

use_mountpoint

# expect_refused CMD...: CMD fails with exit 1, naming the daemon that holds
# img and how to unmount it, and img is still the mounted file, with no
# temporary file left beside it.
expect_refused() {
  expect_error img "$@"
  [[ $LAST_RC -eq 1 ]] || fail "'$*': exit $LAST_RC, expected 1"
  grep -q "img: image is in use by process [0-9]* (vblkfs): it cannot be replaced while in use" err.txt ||
    fail "'$*': holder not named: $(cat err.txt)"
  grep -qF "unmount it first (vblkfs umount $WORK/mnt)" err.txt || fail "'$*': no umount hint: $(cat err.txt)"
  [[ $(stat -c %i img) == "$inode" ]] || fail "'$*' replaced the mounted image"
  [[ -z $(find . -maxdepth 1 -name 'img.vblk-tmp-*' -o -maxdepth 1 -name '.img.vblk-export-*') ]] ||
    fail "'$*' left a temporary file: $(ls -a)"
}

# The disk as it should read back: 8 MiB, data at three places.
python3 -c '
with open("want.raw", "wb") as f:
    f.truncate(8 << 20)
    for off in (0, 12345, (8 << 20) - 4096):
        f.seek(off); f.write(b"written through the mount " * 100)'
vformat img --size 8M >/dev/null
vformat other --size 4M >/dev/null
python3 -c 'open("raw.img", "wb").write(b"raw" * 1000)'
inode=$(stat -c %i img)

timeout 30 "$VBLKFS" mount img mnt
# Written while the tools try to replace the image, and after.
python3 - mnt/disk want.raw <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
want = open(sys.argv[2], "rb").read()
os.pwrite(fd, want[:1 << 20], 0)
os.fsync(fd)
os.close(fd)
PY
expect_refused vformat img --size 1G --force
expect_refused vformat img --from raw.img --force
expect_refused vexport other img --force
expect_refused vinspect other --svg img
python3 - mnt/disk want.raw <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
want = open(sys.argv[2], "rb").read()
os.pwrite(fd, want[1 << 20:], 1 << 20)
os.fsync(fd)
os.close(fd)
PY
timeout 60 "$VBLKFS" umount mnt

# Everything written through the mount is in the image.
vinspect img --json --no-map >i.json
[[ $(json_get i.json 'j["capacity_bytes"]') == $((8 << 20)) ]] || fail "capacity changed: $(cat i.json)"
[[ $(json_get i.json 'j["blocks"]["used"]') -gt 0 ]] || fail "the image holds no data after unmount: $(cat i.json)"
vexport img back.raw >/dev/null
cmp back.raw want.raw || fail "the mounted image's data changed"

# A read-only mount shares the lock: still nothing may replace the image.
timeout 30 "$VBLKFS" mount --read-only img mnt
expect_refused vformat img --size 1G --force
expect_refused vexport other img --force
timeout 60 "$VBLKFS" umount mnt
vexport img back2.raw >/dev/null
cmp back2.raw want.raw || fail "the read-only mounted image's data changed"

# Unmounted, the same commands replace it.
vformat img --size 16M --force >/dev/null || fail "format --force of an unmounted image failed"
vexport other img --force >/dev/null || fail "export --force over an unmounted image failed"
[[ $(stat -c %s img) == $((4 << 20)) ]] || fail "export did not replace img"
echo PASS
