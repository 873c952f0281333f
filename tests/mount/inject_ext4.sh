# Through a real filesystem: ext4 on a loop device on the exposed disk file.
# A BAD block injected live under one file's data makes reading that file
# fail with EIO while the other files read fine; cleared, the file reads
# again (the block now holds zeros) and the filesystem carries on clean.
# Run as: bash inject_ext4.sh VBLKFS VBLK_FORMAT VBLK_INSPECT VBLK_INJECT
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require debugfs

ext4_on_vblk 256M
for f in victim other1 other2; do
  head -c $((2 << 20)) /dev/urandom >"$FS/$f"
done
sync
(cd "$FS" && sha256sum victim other1 other2) >sums

# ext4 blocks are 4096 bytes, as vblk's, and the loop device starts at byte
# 0 of the disk: filesystem block N is device block N.
blocks=$(run 30 debugfs -c -R "blocks /victim" "$LOOP" 2>/dev/null) || fail "debugfs blocks /victim"
read -ra list <<<"$blocks"
((${#list[@]} == 512)) || fail "victim has ${#list[@]} blocks, expected 512: $blocks"
target=${list[200]}
echo "victim's data block 200 is device block $target"
vinject "$MNT" bad --block "$target" | grep -q "injecting BAD into block $target" || fail "inject"

drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }
drop_caches
rc=0
err=$(run 60 cat "$FS/victim" 2>&1 >/dev/null) || rc=$?
echo "cat victim: exit $rc: $err"
[[ $rc -ne 0 ]] && grep -q "Input/output error" <<<"$err" || fail "reading the file over the BAD block did not fail with EIO"
(cd "$FS" && run 60 sha256sum -c --quiet <(grep -v victim "$WORK/sums")) || fail "the other files do not read back intact"
# The part of the file before the BAD block still reads (O_DIRECT: no
# readahead reaching into the BAD block).
run 30 dd if="$FS/victim" of=/dev/null bs=4096 count=200 iflag=direct status=none || fail "victim's first 200 blocks unreadable"
json_get <(vinspect --json --no-map "$MNT") '(j["failures"], j["blocks"]["bad"])'
[[ $(json_get <(vinspect --json --no-map "$MNT") 'j["blocks"]["bad"] == 1 and j["failures"] >= 1') == True ]] ||
  fail "live stats do not show the BAD block and the failed read"

# Clear it and carry on: the file reads again, with that block zeroed.
vinject "$MNT" clear --block "$target" >/dev/null
drop_caches
run 60 cat "$FS/victim" >victim.after || fail "victim unreadable after clear"
python3 - "$FS/victim" victim.after <<'EOF_PY' || fail "victim after clear"
import sys
after = open(sys.argv[2], "rb").read()
assert len(after) == 2 << 20
assert after[200 * 4096:201 * 4096] == bytes(4096), "the cleared block does not read zeros"
print("ok: victim reads again; its cleared block reads zeros")
EOF_PY
head -c $((2 << 20)) /dev/urandom >"$FS/victim"
sync
run 30 umount "$FS" || fail "umount $FS"
run 120 e2fsck -fn "$LOOP" || fail "e2fsck after clear"
loop_detach "$LOOP"
vumount "$MNT"
check_clean "$IMG"
echo PASS
