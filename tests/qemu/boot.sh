# The boot test: QEMU boots a Linux guest from a compressed vblk image via
# virtio-blk, (a) live through vblkfs and (b) from a vblk-export'ed raw
# file, and the guest's own write is found in the image afterwards.
#
#   bash boot.sh VBLKFS VBLK_FORMAT VBLK_EXPORT VBLK_INSPECT [NBDKIT_PLUGIN]
#
# With NBDKIT_PLUGIN (nbdkit-vblk-plugin.so) it boots instead (c) over NBD:
# nbdkit serves the image on a unix socket and QEMU's own NBD client opens
# nbd+unix:///?socket=... as the virtio disk (no FUSE, no loop device); the
# guest's write is then in the image once nbdkit has exited.
#
# The disk is unpartitioned ext4 (the host kernel here has no MBR partition
# support, so a partitioned disk could not be mounted through a loop device):
# `extlinux --install` puts its boot sector into the filesystem's first
# sector, which ext4 leaves unused, and SeaBIOS boots that sector directly.
# The disk holds /boot/vmlinuz (a Debian cloud kernel), /boot/initrd.gz
# (busybox, the virtio modules, init.sh as /init), /boot/extlinux.conf and
# /marker.txt. The guest prints the marker on the serial console, appends
# "boot N: MARKER" to /guest.log and powers off.
#
# Set-up, as root: installs qemu-system-x86, busybox-static, extlinux and
# syslinux-common with apt-get if missing, and unpacks the kernel package
# (apt-get download + dpkg-deb -x) into $VBLK_TEST_CACHE (default
# /var/cache/vblk-test), outside the repository; a second run downloads
# nothing. Without root, /dev/fuse, a loop device or the packages the test
# skips (exit 77); with CI=true that is a failure.
#
# Environment: VBLK_TEST_KVM=1 boots with KVM instead of TCG (nested KVM is
# unreliable on the CI machines, so TCG is the default); VBLK_TEST_CACHE.
set -euo pipefail

VBLKFS=$(realpath "$1")
VBLK_FORMAT=$(realpath "$2")
VBLK_EXPORT=$(realpath "$3")
VBLK_INSPECT=$(realpath "$4")
NBDKIT_PLUGIN=${5:+$(realpath "$5")}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${VBLK_TEST_CACHE:-/var/cache/vblk-test}
BOOT_TIMEOUT=${VBLK_TEST_BOOT_TIMEOUT:-240}
PACKAGES=(qemu-system-x86 busybox-static extlinux syslinux-common)
KERNEL_META=linux-image-cloud-amd64

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
need() {
  if [[ ${CI:-} == true ]]; then fail "prerequisite missing (CI=true): $*"; fi
  echo "SKIP: $*"
  exit 77
}
step() { echo "--- $* ($(date +%T))"; }
# t SECONDS CMD...: every step is bounded.
t() {
  local limit=$1
  shift
  local rc=0
  timeout --kill-after=10 "$limit" "$@" || rc=$?
  [[ $rc -ne 124 && $rc -ne 137 ]] || fail "timed out after ${limit}s: $*"
  return $rc
}

[[ $(id -u) -eq 0 ]] || need "not root (losetup, mount and package set-up need it)"
[[ -c /dev/fuse ]] || need "no /dev/fuse"
command -v losetup >/dev/null && command -v mkfs.ext4 >/dev/null && command -v debugfs >/dev/null ||
  need "util-linux / e2fsprogs missing"
losetup -f >/dev/null 2>&1 || need "no free loop device"

# --- Set-up: packages and the kernel, cached outside the repository.
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  step "installing ${missing[*]}"
  command -v apt-get >/dev/null || need "no apt-get to install ${missing[*]}"
  t 300 apt-get update -qq || need "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive t 600 apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
    need "cannot install ${missing[*]}"
fi
QEMU=$(command -v qemu-system-x86_64) || need "no qemu-system-x86_64"
BUSYBOX=/bin/busybox
file_is_static() { ! LC_ALL=C ldd "$1" >/dev/null 2>&1; }
[[ -x $BUSYBOX ]] && file_is_static "$BUSYBOX" || need "no static busybox at $BUSYBOX (busybox-static)"
EXTLINUX=$(command -v extlinux) || need "no extlinux"
if [[ -n $NBDKIT_PLUGIN ]]; then command -v nbdkit >/dev/null || need "no nbdkit (scripts/install-deps.sh)"; fi

mkdir -p "$CACHE/downloads" "$CACHE/kernel" || need "cannot create the cache $CACHE"
# The newest kernel already unpacked, if any: then nothing is downloaded.
kernel_dir() {
  local d
  d=$(find "$CACHE/kernel" -mindepth 2 -maxdepth 2 -name .complete -printf '%h\n' 2>/dev/null | sort -V | tail -1)
  [[ -n $d ]] && echo "$d"
}
apt_download() {  # in $CACHE/downloads; the cache is root's, so no sandbox user
  (cd "$CACHE/downloads" && t 300 apt-get download -q -o APT::Sandbox::User=root "$1" >/dev/null)
}
KDIR=$(kernel_dir) || true
if [[ -z $KDIR ]]; then
  step "downloading $KERNEL_META"
  if ! apt_download "$KERNEL_META"; then
    t 300 apt-get update -qq || need "apt-get update failed"
    apt_download "$KERNEL_META" || need "cannot download $KERNEL_META"
  fi
  meta_deb=$(ls -t "$CACHE/downloads/${KERNEL_META}"_*.deb | head -1)
  # The metapackage depends on the versioned image package, e.g.
  # linux-image-6.1.0-56-cloud-amd64 (= 6.1.192-2).
  kpkg=$(dpkg-deb -f "$meta_deb" Depends | grep -o 'linux-image-[0-9][^ ,]*-cloud-amd64' | head -1)
  [[ -n $kpkg ]] || fail "$meta_deb: no versioned kernel package in Depends: $(dpkg-deb -f "$meta_deb" Depends)"
  step "downloading $kpkg"
  apt_download "$kpkg" || need "cannot download $kpkg"
  kdeb=$(ls -t "$CACHE/downloads/${kpkg}"_*.deb | head -1)
  rm -rf "$CACHE/kernel/$kpkg.tmp"
  t 120 dpkg-deb -x "$kdeb" "$CACHE/kernel/$kpkg.tmp"
  touch "$CACHE/kernel/$kpkg.tmp/.complete"
  rm -rf "$CACHE/kernel/$kpkg"
  mv "$CACHE/kernel/$kpkg.tmp" "$CACHE/kernel/$kpkg"
  KDIR=$CACHE/kernel/$kpkg
fi
VMLINUZ=$(ls "$KDIR"/boot/vmlinuz-* | head -1)
KVER=${VMLINUZ##*/vmlinuz-}
MODDIR=$KDIR/lib/modules/$KVER
[[ -f $VMLINUZ && -d $MODDIR ]] || fail "$KDIR: no kernel or modules"
echo "kernel: $KDIR ($KVER)"

ACCEL=(-accel tcg)
if [[ ${VBLK_TEST_KVM:-0} == 1 ]]; then
  [[ -w /dev/kvm ]] || need "VBLK_TEST_KVM=1 but /dev/kvm is not usable"
  ACCEL=(-accel kvm)
fi

# --- Work area and cleanup.
WORK=$(mktemp -d /var/tmp/vblk-qemu-test.XXXXXX)
LOOP=
QEMU_PID=
NBDKIT_PID=
cleanup() {
  set +e
  [[ -n $QEMU_PID ]] && kill -KILL "$QEMU_PID" 2>/dev/null && wait "$QEMU_PID" 2>/dev/null
  [[ -n $NBDKIT_PID ]] && kill -KILL "$NBDKIT_PID" 2>/dev/null && wait "$NBDKIT_PID" 2>/dev/null
  mountpoint -q "$WORK/root" && umount "$WORK/root"
  [[ -n $LOOP ]] && losetup -d "$LOOP"
  mountpoint -q "$WORK/mnt" && timeout 60 "$VBLKFS" umount "$WORK/mnt" >/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
cd "$WORK"
mkdir mnt root

# boot NAME DISKFILE: boots QEMU from DISKFILE and checks the serial console.
# Prints the boot time; the console is left in NAME.serial.
boot() {
  local name=$1 disk=$2 start end rc=0
  start=$(date +%s.%N)
  timeout --kill-after=10 "$BOOT_TIMEOUT" "$QEMU" "${ACCEL[@]}" -m 256 -nodefaults -no-user-config \
    -display none -monitor none -serial "file:$name.serial" -no-reboot -nic none \
    -drive "file=$disk,format=raw,if=virtio" >"$name.qemu.log" 2>&1 &
  QEMU_PID=$!
  wait "$QEMU_PID" || rc=$?
  QEMU_PID=
  end=$(date +%s.%N)
  if [[ $rc -ne 0 ]] || ! grep -q "^VBLK-GUEST-DONE" "$name.serial"; then
    echo "--- $name: qemu exit $rc; console (last 40 lines):"
    tail -40 "$name.serial" 2>/dev/null
    echo "--- qemu messages:"
    cat "$name.qemu.log"
    [[ $rc -ne 124 && $rc -ne 137 ]] || fail "$name boot timed out after ${BOOT_TIMEOUT}s"
    fail "$name boot did not complete"
  fi
  grep -qx "VBLK-MARKER: $MARKER" <(tr -d '\r' <"$name.serial") || fail "$name: marker not on the console"
  BOOT_SECONDS=$(python3 -c "print(f'{$end - $start:.1f}')")
  echo "$name boot: ${BOOT_SECONDS}s ($(grep -o 'VBLK-GUEST-DONE.*' "$name.serial" | tr -d '\r'))"
}

# guest_log DISKFILE: /guest.log of the ext4 filesystem in DISKFILE.
guest_log() { t 30 debugfs -R 'cat /guest.log' "$1" 2>/dev/null; }

# --- The disk, built inside a vblk image through vblkfs and a loop device.
step "building the bootable disk in a vblk image"
t 60 python3 "$HERE/mkinitramfs.py" --modules "$MODDIR" --busybox "$BUSYBOX" --init "$HERE/init.sh" -o initrd.gz
MARKER="vblk-marker-$(date +%s)-$RANDOM$RANDOM"
t 30 "$VBLK_FORMAT" disk.img --size 64M --label boot >/dev/null
t 30 "$VBLKFS" mount disk.img mnt
LOOP=$(t 30 losetup --find --show mnt/disk)
t 60 mkfs.ext4 -q -L vblkboot "$LOOP"
t 30 mount "$LOOP" root
mkdir root/boot
cp "$VMLINUZ" root/boot/vmlinuz
cp initrd.gz root/boot/initrd.gz
cat >root/boot/extlinux.conf <<'EOF'
DEFAULT vblk
PROMPT 0
TIMEOUT 0
LABEL vblk
  LINUX /boot/vmlinuz
  INITRD /boot/initrd.gz
  APPEND console=ttyS0 panic=1
EOF
echo "$MARKER" >root/marker.txt
t 60 "$EXTLINUX" --install root/boot 2>&1 | grep -v -e 'unable to obtain device geometry' -e 'usually harmless' || true
[[ -f root/boot/ldlinux.sys ]] || fail "extlinux did not install"
t 60 umount root
t 30 losetup -d "$LOOP"
LOOP=
sync
[[ $(head -c 11 mnt/disk | tail -c 8) == SYSLINUX ]] || fail "no extlinux boot sector in sector 0"

# check_guest_write N: the image (mounted read-only) holds "boot N: MARKER"
# in /guest.log and a clean ext4, and passes vblk-inspect --check.
check_guest_write() {
  t 30 "$VBLKFS" mount --read-only disk.img mnt
  guest_log mnt/disk >"boot$1.log"
  grep -qx "boot $1: $MARKER" "boot$1.log" || fail "guest write $1 is not in the image: $(cat "boot$1.log")"
  t 60 e2fsck -fn mnt/disk >fsck.txt 2>&1 || { cat fsck.txt; fail "e2fsck after boot $1"; }
  t 60 "$VBLKFS" umount mnt
  t 120 "$VBLK_INSPECT" disk.img --check >/dev/null || fail "vblk-inspect --check after boot $1"
}

if [[ -n $NBDKIT_PLUGIN ]]; then
  # --- (c) Boot over NBD.
  step "(c) booting over NBD from nbdkit $NBDKIT_PLUGIN"
  t 60 "$VBLKFS" umount mnt
  nbdkit -f -U "$WORK/nbd.sock" --pidfile "$WORK/nbd.pid" "$NBDKIT_PLUGIN" disk.img >nbdkit.log 2>&1 &
  NBDKIT_PID=$!
  deadline=$((SECONDS + 30))
  until [[ -s nbd.pid ]]; do
    kill -0 "$NBDKIT_PID" 2>/dev/null || fail "nbdkit exited: $(cat nbdkit.log)"
    ((SECONDS < deadline)) || fail "nbdkit did not start in 30 s"
    sleep 0.1
  done
  boot nbd "nbd+unix:///?socket=$WORK/nbd.sock"
  # SIGTERM: nbdkit closes the image (flushing it) and releases its lock.
  kill -TERM "$NBDKIT_PID"
  t 60 tail --pid="$NBDKIT_PID" -f /dev/null
  wait "$NBDKIT_PID" || fail "nbdkit exited with an error: $(tail -5 nbdkit.log)"
  NBDKIT_PID=
  check_guest_write 1
  echo "boot time (${ACCEL[1]}): over NBD ${BOOT_SECONDS}s"
  echo PASS
  exit 0
fi

# --- (a) Boot live through vblkfs.
step "(a) booting live from $WORK/mnt/disk"
boot live mnt/disk
LIVE_SECONDS=$BOOT_SECONDS
t 60 "$VBLKFS" umount mnt
check_guest_write 1

# --- (b) Export, and boot the raw file.
step "(b) exporting and booting the raw file"
t 120 "$VBLK_EXPORT" disk.img boot.raw --json >export.json
python3 - <<'PY' || fail "export summary: $(cat export.json)"
import json, os
j = json.load(open("export.json"))
st = os.stat("boot.raw")
assert st.st_size == 64 << 20 == j["capacity_bytes"]
assert j["holes_bytes"] > 0 and st.st_blocks * 512 < st.st_size, "export is not sparse"
print(f"export: {j['bytes_written']} bytes written, {j['holes_bytes']} left as holes, {j['seconds']:.2f}s")
PY
guest_log boot.raw | grep -qx "boot 1: $MARKER" || fail "the export lacks the live guest's write"
boot exported boot.raw
EXPORTED_SECONDS=$BOOT_SECONDS
guest_log boot.raw >exported.log
grep -qx "boot 2: $MARKER" exported.log || fail "the exported guest's write is not in the raw file: $(cat exported.log)"
t 60 e2fsck -fn boot.raw >fsck.txt 2>&1 || { cat fsck.txt; fail "e2fsck after the exported boot"; }

# The way back: the booted raw file imports and exports to the same bytes.
t 60 "$VBLK_FORMAT" back.img --from boot.raw >/dev/null
t 60 "$VBLK_EXPORT" back.img back.raw >/dev/null
cmp boot.raw back.raw || fail "raw -> image -> raw changed the disk"

echo "boot times (${ACCEL[1]}): live through vblkfs ${LIVE_SECONDS}s, exported raw ${EXPORTED_SECONDS}s"
echo PASS
