#!/bin/sh
# /init of the boot test's initramfs (busybox). Loads the virtio and ext4
# modules, mounts the virtio-blk disk, prints the marker file to the serial
# console, appends a line to /guest.log on the disk, and powers off.
# The host looks for the VBLK-* lines on the serial console.
export PATH=/bin
mount -t devtmpfs devtmpfs /dev
mount -t proc proc /proc
mount -t sysfs sysfs /sys

fail() {
  echo "VBLK-GUEST-FAIL: $*"
  poweroff -f
}

for m in $(cat /etc/modules.order); do
  insmod "/lib/modules/$m" || fail "insmod $m"
done
i=0
while [ ! -b /dev/vda ]; do
  i=$((i + 1))
  [ $i -le 100 ] || fail "no /dev/vda after 10 s"
  sleep 0.1
done
mount -t ext4 /dev/vda /mnt || fail "cannot mount /dev/vda"
[ -f /mnt/marker.txt ] || fail "no /marker.txt on /dev/vda"
marker=$(cat /mnt/marker.txt)
echo "VBLK-MARKER: $marker"
n=1
[ -f /mnt/guest.log ] && n=$(($(wc -l </mnt/guest.log) + 1))
echo "boot $n: $marker" >>/mnt/guest.log || fail "cannot write /guest.log"
sync
umount /mnt || fail "cannot unmount /dev/vda"
echo "VBLK-GUEST-DONE: boot $n"
poweroff -f
