# fstrim on ext4 on the vblkfs disk reaches the image: the blocks of deleted
# files become TRIMMED and the stored bytes drop by about their size.
#
# The state before the delete is measured through a full unmount / inspect /
# remount cycle, so the comparison is between two quiescent images.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

IMG=$WORK/img
MNT=$WORK/m
EXT=$WORK/ext4
mkdir -p "$EXT"
FILES_MIB=100

mount_all() {
  vmount "$IMG" "$MNT"
  DEV=$(loop_attach "$MNT/disk")
  run 30 mount "$DEV" "$EXT" || fail "mount $DEV"
}
umount_all() {
  run 60 umount "$EXT" || fail "umount $EXT"
  loop_detach "$DEV"
  vumount "$MNT"
}

vformat "$IMG" --size 1G
vmount "$IMG" "$MNT"
DEV=$(loop_attach "$MNT/disk")
run 120 mkfs.ext4 -q -F "$DEV" || fail "mkfs.ext4 $DEV"
# No -o discard: only fstrim may discard.
run 30 mount "$DEV" "$EXT" || fail "mount $DEV"
# Incompressible data, so the stored bytes reflect it.
for i in $(seq 1 $((FILES_MIB / 10))); do
  run 60 dd if=/dev/urandom of="$EXT/f$i" bs=1M count=10 status=none || fail "writing $EXT/f$i"
done
run 60 sync -f "$EXT"
umount_all
inspect_json "$IMG" "$WORK/before.json"
check_clean "$IMG"

mount_all
rm -f "$EXT"/f*
run 60 sync -f "$EXT"
out=$(run 120 fstrim -v "$EXT") || fail "fstrim -v $EXT"
echo "$out"
umount_all
inspect_json "$IMG" "$WORK/after.json"
check_clean "$IMG"

get() { json_get "$1" "$2"; }
tb=$(get "$WORK/before.json" 'j["blocks"]["trimmed"]')
ta=$(get "$WORK/after.json" 'j["blocks"]["trimmed"]')
ub=$(get "$WORK/before.json" 'j["blocks"]["used"]')
ua=$(get "$WORK/after.json" 'j["blocks"]["used"]')
sb=$(get "$WORK/before.json" 'j["stored_bytes"]')
sa=$(get "$WORK/after.json" 'j["stored_bytes"]')
hb=$(get "$WORK/before.json" 'j["host_file_bytes"]')
ha=$(get "$WORK/after.json" 'j["host_file_bytes"]')
echo "before rm:      used $ub blocks, trimmed $tb, stored $(mib "$sb"), host file $(mib "$hb")"
echo "after fstrim:   used $ua blocks, trimmed $ta, stored $(mib "$sa"), host file $(mib "$ha")"

file_blocks=$((FILES_MIB << 20 >> 12))
# Almost every block of the deleted files must have gone from USED to
# TRIMMED, and their (incompressible) bytes must have left the store.
((ta - tb >= file_blocks * 9 / 10)) || fail "trimmed blocks grew by $((ta - tb)), expected >= $((file_blocks * 9 / 10))"
((ub - ua >= file_blocks * 9 / 10)) || fail "used blocks fell by $((ub - ua)), expected >= $((file_blocks * 9 / 10))"
((sb - sa >= (FILES_MIB << 20) * 9 / 10)) || fail "stored bytes fell by $(mib $((sb - sa))), expected >= $(mib $(((FILES_MIB << 20) * 9 / 10)))"
echo "stored bytes dropped by $(mib $((sb - sa))) for $FILES_MIB MiB deleted; host file changed by $(mib $((ha - hb)))"
echo PASS
