# mkfs.ext4 on a loop device over a fresh 8 GiB vblkfs disk: it discards the
# whole device and zeroes with write-zeroes, which reach vblkfs as
# fallocate PUNCH_HOLE / ZERO_RANGE. Both must be fast, and the image small.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

IMG=$WORK/img
MNT=$WORK/m
LIMIT_S=${MKFS_LIMIT_S:-60}
vformat "$IMG" --size 8G
vmount "$IMG" "$MNT"
DEV=$(loop_attach "$MNT/disk")
echo "$DEV: discard max $(cat /sys/block/"${DEV#/dev/}"/queue/discard_max_bytes), write-zeroes max $(cat /sys/block/"${DEV#/dev/}"/queue/write_zeroes_max_bytes)"
t0=$(now_ns)
run $((LIMIT_S * 3)) mkfs.ext4 -F "$DEV" >"$WORK/mkfs.out" 2>&1 || { cat "$WORK/mkfs.out"; fail "mkfs.ext4 $DEV"; }
el=$(elapsed_since "$t0")
grep -i discard "$WORK/mkfs.out" || true
echo "mkfs.ext4 on 8 GiB: $el s"
run 60 e2fsck -fn "$DEV" >/dev/null || fail "e2fsck -fn after mkfs"
loop_detach "$DEV"
vumount "$MNT"
inspect_json "$IMG" "$WORK/inspect.json"
hb=$(host_bytes "$IMG")
echo "image: $(mib "$hb") on the host (apparent $(mib "$(stat -c %s "$IMG")")), blocks: $(json_get "$WORK/inspect.json" 'j["blocks"]')"
python3 -c "import sys; sys.exit(float(sys.argv[1]) > float(sys.argv[2]))" "$el" "$LIMIT_S" || fail "mkfs.ext4 took $el s (limit $LIMIT_S s)"
((hb < 64 << 20)) || fail "the image takes $(mib "$hb") on the host after mkfs (limit 64 MiB)"
check_clean "$IMG"
echo PASS
