# Several writers and readers at once on a vblkfs disk, on different and
# overlapping ranges, checked against a model (see concurrency.py); the
# whole disk is compared again after an unmount and remount.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

IMG=$WORK/img
MNT=$WORK/m
vformat "$IMG" --size 256M
vmount "$IMG" "$MNT"
t0=$(now_ns)
run 240 python3 "$MOUNT_LIB_DIR/concurrency.py" run "$MNT/disk" "$WORK/model" || fail "concurrent run"
echo "concurrent run and check: $(elapsed_since "$t0") s"
vumount "$MNT"
check_clean "$IMG"
vmount "$IMG" "$MNT"
run 120 python3 "$MOUNT_LIB_DIR/concurrency.py" verify "$MNT/disk" "$WORK/model" || fail "after remount"
vumount "$MNT"
echo PASS
