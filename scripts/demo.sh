#!/usr/bin/env bash
# The main job, end to end on a small default image, as root:
#
#   vblk-format a 1 GiB image -> vblkfs mount -> losetup -> mkfs.ext4 -> mount
#   -> copy real files (/usr/share/doc) and record their sha256 -> unmount
#   everything -> vblk-inspect -> mount everything again -> verify every
#   sha256 -> e2fsck -fn -> unmount everything -> vblk-inspect --check
#
# and, on a copy of the image, a flipped stored byte caught by --check.
# Exits non-zero if any step or verification fails. Whatever it mounted or
# attached is released on every exit path (trap). Bounded: after
# VBLK_DEMO_TIMEOUT seconds (default 600) of story the FUSE connection is
# aborted and the demo fails. VBLK_DEMO_SRC picks the directory to copy
# (default /usr/share/doc); with VBLK_DEMO_DIR the image is kept there.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $(id -u) -ne 0 ]]; then
  echo "demo: needs root (loop devices, mount): run it as root or with sudo" >&2
  exit 1
fi

bold=$'\033[1m' off=$'\033[0m'
[[ -t 1 ]] || bold='' off=''
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$off"; }
fail() { echo "demo: FAILED: $*" >&2; exit 1; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
started=$SECONDS

step "1. install what is missing and build"
bash scripts/install-deps.sh
[[ -f build/build.ninja ]] || meson setup build >/dev/null
ninja -C build >/dev/null
bin=$PWD/build/tools
echo "built: $("$bin/vblkfs" --version)"

[[ -c /dev/fuse ]] || modprobe fuse 2>/dev/null || true
[[ -c /dev/fuse ]] || fail "/dev/fuse is missing (modprobe fuse; in a container, pass --device /dev/fuse)"
[[ -e /dev/loop-control ]] || modprobe loop 2>/dev/null || true
losetup -f >/dev/null 2>&1 || fail "no free loop device (modprobe loop; in a container, run privileged)"

src=${VBLK_DEMO_SRC:-/usr/share/doc}
[[ -d $src ]] || fail "$src: no such directory to copy"
if [[ -n ${VBLK_DEMO_DIR:-} ]]; then
  mkdir -p "$VBLK_DEMO_DIR"
  work=$(realpath "$VBLK_DEMO_DIR") keep=1
else
  work=$(realpath "$(mktemp -d /var/tmp/vblk-demo.XXXXXX)") keep=0  # /tmp may be a small tmpfs
fi
img=$work/demo.img   # the compressed image
mnt=$work/mnt        # vblkfs mountpoint: holds one file, the disk
fs=$work/fs          # where the ext4 on that disk is mounted
sums=$work/sha256sums
mkdir -p "$mnt" "$fs"
rm -f "$img"
loop='' watchdog=''

# --- cleanup: undo whatever is still mounted or attached, innermost first ---
vblkfs_umount() {  # retries while the kernel lets go of a just-detached loop device
  local _
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    "$bin/vblkfs" umount --timeout 30 "$mnt" && return 0
    is_mounted "$mnt" || return 1  # unmounted, but the daemon did not finish in time
    if command -v udevadm >/dev/null; then udevadm settle --timeout=5 2>/dev/null || true; fi
    sleep 1
  done
  return 1
}
# Mounted at exactly $1? Read from mountinfo: stat(2) could wait on a hung daemon.
is_mounted() { awk -v m="$1" '$5 == m { f = 1 } END { exit !f }' /proc/self/mountinfo; }
abort_fuse() {  # fails every pending and future request of the vblkfs mount
  [[ -f $work/fuse-conn ]] || return 0
  local conn
  conn=/sys/fs/fuse/connections/$(cat "$work/fuse-conn")
  [[ -d $conn ]] || mount -t fusectl fusectl /sys/fs/fuse/connections 2>/dev/null || true
  echo 1 >"$conn/abort" 2>/dev/null || echo "demo: cannot abort $conn" >&2
}
cleanup() {
  local rc=$?
  set +e
  trap - EXIT
  trap '' INT TERM HUP  # finish cleaning up; the watchdog still guards this
  if is_mounted "$fs"; then umount "$fs" || umount -l "$fs"; fi
  if [[ -n $loop ]] && losetup "$loop" >/dev/null 2>&1; then losetup -d "$loop"; fi
  if is_mounted "$mnt"; then
    vblkfs_umount
    if is_mounted "$mnt"; then
      echo "demo: forcing the vblkfs mount down" >&2
      abort_fuse
      umount -l "$mnt"
    fi
  fi
  [[ -n $watchdog ]] && kill "$watchdog" 2>/dev/null && wait "$watchdog" 2>/dev/null
  if is_mounted "$fs" || is_mounted "$mnt"; then
    echo "demo: $work is still mounted; left in place" >&2
  elif ((keep)); then
    rm -rf "$mnt" "$fs" "$img.damaged" "$work/fuse-conn"
  else
    rm -rf --one-file-system "$work"
  fi
  if ((rc == 0)); then
    printf '\n%sdemo: done in %d s%s\n' "$bold" $((SECONDS - started)) "$off"
  else
    echo "demo: failed (exit $rc) after $((SECONDS - started)) s" >&2
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# A hung disk must not hang the demo: abort the FUSE connection, so every
# request on it fails, and stop the script.
limit=${VBLK_DEMO_TIMEOUT:-600}
(
  sleep "$limit" >/dev/null 2>&1 &  # holds no pipe of the caller open
  sp=$!
  trap 'kill $sp 2>/dev/null; exit 0' TERM
  wait $sp || exit 0
  echo "demo: still running after $limit s: aborting the FUSE connection" >&2
  abort_fuse
  kill -TERM $$
) &
watchdog=$!

mount_all() {
  "$bin/vblkfs" mount "$img" "$mnt"
  stat -c %d "$mnt" >"$work/fuse-conn"  # the FUSE connection number (minor of st_dev)
  loop=$(losetup --find --show --direct-io=on "$mnt/disk")
  echo "vblkfs mount $img $mnt; losetup: $loop -> $mnt/disk"
}
umount_all() {
  umount "$fs"
  losetup -d "$loop"
  loop=
  vblkfs_umount
  echo "umount $fs; losetup -d; vblkfs umount $mnt"
}

step "2. a 1 GiB image: every block FREE"
"$bin/vblk-format" "$img" --size 1G --label demo
"$bin/vblk-inspect" --no-map "$img" | sed -n '/^blocks:/,/^  bad:/p'

step "3. vblkfs mount: the image becomes one regular file, the disk; losetup it"
mount_all
ls -l "$mnt"

step "4. mkfs.ext4 on the loop device and mount it"
mkfs.ext4 -q -F -L vblk-demo "$loop"
mount "$loop" "$fs"
findmnt -no SOURCE,TARGET,FSTYPE "$fs"

step "5. copy real files ($src) and record their sha256"
(cd "$(dirname "$src")" && find "$(basename "$src")" -type f -print0 | sort -z | xargs -0 -r sha256sum) >"$sums"
cp -a "$src" "$fs/"
sync -f "$fs"
files=$(wc -l <"$sums")
data_bytes=$(cd "$(dirname "$src")" && find "$(basename "$src")" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
echo "copied $files files, $(mib "$data_bytes") of file data"

step "6. df of the ext4 inside the image"
df -h "$fs"

step "7. unmount everything"
umount_all

step "8. the image: vblk-inspect"
"$bin/vblk-inspect" "$img"
host_alloc=$(($(stat -c '%b * %B' "$img")))
host_size=$(stat -c %s "$img")
echo
echo "data copied:   $(mib "$data_bytes") in $files files, on a 1 GiB ext4 disk"
echo "image on host: $(mib "$host_alloc") allocated ($(mib "$host_size") apparent)"

step "9. mount everything again and verify every sha256"
mount_all
mount "$loop" "$fs"
(cd "$fs" && sha256sum --quiet --strict -c "$sums") || fail "files read back differ from what was written"
echo "all $files sha256 sums match"

step "10. unmount the ext4 and check it: e2fsck -fn"
umount "$fs"
e2fsck -fn "$loop" 2>&1 || fail "e2fsck found errors in the ext4 inside the image"

step "11. unmount everything and scrub the image: vblk-inspect --check"
losetup -d "$loop"
loop=
vblkfs_umount
"$bin/vblk-inspect" --check "$img" || fail "vblk-inspect --check found damage in $img"

step "12. on a copy: flip one stored byte; --check must catch it"
cp --sparse=always "$img" "$img.damaged"
offset=$("$bin/vblk-inspect" --json --block 0 "$img.damaged" | python3 -c \
  'import json,sys; b=json.load(sys.stdin); print(b["record_offset"] + 64 + 10)')
printf '\xff' | dd of="$img.damaged" bs=1 seek="$offset" conv=notrunc status=none
if "$bin/vblk-inspect" --check "$img.damaged" 2>&1; then
  fail "the damaged copy passed the check"
fi
rm -f "$img.damaged"
echo "(exit status 1, as expected)"
