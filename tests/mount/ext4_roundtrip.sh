# The main job end to end: format -> vblkfs mount -> losetup -> mkfs.ext4 ->
# mount -> copy ~250 MB of real files, hashing each -> unmount everything ->
# vblk-inspect --check -> mount everything again -> every hash matches ->
# e2fsck -fn clean.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

IMG=$WORK/img
MNT=$WORK/m
EXT=$WORK/ext4
mkdir -p "$EXT"

# ~250 MB of real files from /usr, no single file above 16 MB, listed
# NUL-separated relative to /.
python3 - "$WORK/files" <<'EOF'
import os, stat, sys
cap, total, out = 250 << 20, 0, []
for top in ("/usr/lib", "/usr/share", "/usr/bin"):
    for root, dirs, files in os.walk(top):
        dirs.sort()
        for f in sorted(files):
            p = os.path.join(root, f)
            try:
                st = os.lstat(p)
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode) or st.st_size > (16 << 20) or total + st.st_size > cap:
                continue
            out.append(p[1:])
            total += st.st_size
        if total > cap - (1 << 20):
            break
    if total > cap - (1 << 20):
        break
open(sys.argv[1], "wb").write(b"".join(p.encode() + b"\0" for p in out))
open(sys.argv[1] + ".bytes", "w").write(str(total))
print(f"{len(out)} files, {total / 1048576:.1f} MiB")
EOF
DATA_BYTES=$(cat "$WORK/files.bytes")
((DATA_BYTES > 150 << 20)) || fail "only $DATA_BYTES bytes of files found under /usr"

t0=$(now_ns)
vformat "$IMG" --size 2G
vmount "$IMG" "$MNT"
DEV=$(loop_attach "$MNT/disk")
run 120 mkfs.ext4 -q -F "$DEV" || fail "mkfs.ext4 $DEV"
run 30 mount "$DEV" "$EXT" || fail "mount $DEV"
echo "formatted and mounted in $(elapsed_since "$t0") s"

t0=$(now_ns)
(cd / && run 120 xargs -0 -a "$WORK/files" sha256sum) >"$WORK/sums" || fail "hashing the source files"
mkdir "$EXT/data"
run 300 tar -C / --null -T "$WORK/files" -cf - | run 300 tar -C "$EXT/data" -xf - || fail "copying the files"
run 120 umount "$EXT" || fail "umount $EXT"
loop_detach "$DEV"
vumount "$MNT"
echo "copied $(mib "$DATA_BYTES") and unmounted in $(elapsed_since "$t0") s"

check_clean "$IMG"
inspect_json "$IMG" "$WORK/inspect.json"
echo "image on the host: $(mib "$(host_bytes "$IMG")") allocated (apparent $(mib "$(stat -c %s "$IMG")")," \
  "stored $(mib "$(json_get "$WORK/inspect.json" 'j["stored_bytes"]')") for $(mib "$DATA_BYTES") of files copied" \
  "on a 2 GiB ext4 disk)"

t0=$(now_ns)
vmount "$IMG" "$MNT"
DEV=$(loop_attach "$MNT/disk")
run 30 mount -o ro "$DEV" "$EXT" || fail "second mount of $DEV"
(cd "$EXT/data" && run 300 sha256sum --quiet -c "$WORK/sums") || fail "hashes differ after remount"
echo "all $(tr -cd '\0' <"$WORK/files" | wc -c) hashes match after remount ($(elapsed_since "$t0") s)"
run 60 umount "$EXT" || fail "umount $EXT"
run 120 e2fsck -fn "$DEV" || fail "e2fsck -fn $DEV is not clean"
loop_detach "$DEV"
vumount "$MNT"
check_clean "$IMG"
echo PASS
