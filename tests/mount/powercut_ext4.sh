# Pull the plug under ext4: files fsynced before `vblk-inject powercut` are
# intact after a remount, the journal replays, and e2fsck then finds the
# filesystem clean (it may repair nothing the journal does not cover).
# Files written without fsync may or may not survive; what survives is
# never garbage in a fsynced file.
# Run as: bash powercut_ext4.sh VBLKFS VBLK_FORMAT VBLK_INSPECT VBLK_INJECT
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ext4_on_vblk 512M

# writer.py DIR: files each fsynced (and their directory), interleaved with
# files and appends that are never fsynced, then more unsynced writes until
# the cut. Prints the fsynced files with their sha256 to DIR/../synced.
cat >writer.py <<'EOF_PY'
import hashlib, os, random, sys
d = sys.argv[1]
rnd = random.Random(7)
synced = []
os.makedirs(f"{d}/s", exist_ok=True)
os.makedirs(f"{d}/u", exist_ok=True)
dfd = os.open(f"{d}/s", os.O_RDONLY)
for i in range(60):
    data = rnd.randbytes(rnd.randrange(1, 1 << 20))
    name = f"{d}/s/f{i}"
    with open(name, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.fsync(dfd)
    synced.append((f"s/f{i}", hashlib.sha256(data).hexdigest()))
    # Unsynced neighbours: new files and appends to an unsynced log.
    with open(f"{d}/u/g{i}", "wb") as f:
        f.write(rnd.randbytes(rnd.randrange(1, 512 << 10)))
    with open(f"{d}/u/log", "ab") as f:
        f.write(rnd.randbytes(64 << 10))
os.close(dfd)
with open(os.path.join(os.path.dirname(d.rstrip("/")), "synced"), "w") as out:
    for name, h in synced:
        out.write(f"{h}  {name}\n")
# Then dirty data that only reaches the device by writeback, never flushed.
for i in range(40):
    with open(f"{d}/u/late{i}", "wb") as f:
        f.write(rnd.randbytes(256 << 10))
print(f"{len(synced)} files fsynced")
EOF_PY
run 300 python3 writer.py "$FS" || fail "writer"
# Let some of the unsynced data reach the device (and so the image's
# volatile part) without a flush: a writeback pass, not fsync.
echo "dirty before writeback: $(grep -E '^(Dirty|Writeback):' /proc/meminfo | tr -s ' ' | tr '\n' ' ')"
cat >writeback.py <<'EOF_PY'
import os, sys
for name in sorted(os.listdir(sys.argv[1])):
    fd = os.open(os.path.join(sys.argv[1], name), os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)  # starts writeback; no flush
    os.close(fd)
EOF_PY
run 60 python3 writeback.py "$FS/u" || fail "writeback"
echo "dirty after writeback: $(grep -E '^(Dirty|Writeback):' /proc/meminfo | tr -s ' ' | tr '\n' ' ')"

out=$(vinject "$MNT" powercut) || fail "powercut"
echo "$out"
grep -q "injecting a power cut into $MNT" <<<"$out" || fail "powercut reply: $out"
dropped=$(sed -n 's/.*: \([0-9]*\) writes\{0,1\} not yet flushed dropped.*/\1/p' <<<"$out")
echo "writes dropped by the cut: ${dropped:-?}"

# The filesystem above now sees a dead disk: unmount it as after a crash.
run 60 umount "$FS" 2>&1 || run 30 umount -l "$FS" || fail "umount $FS after the power cut"
loop_detach "$LOOP"
vumount "$MNT"
check_clean "$IMG"

# Power back: remount, the journal replays on mount, fsynced files intact.
vmount "$IMG" "$MNT"
LOOP=$(loop_attach "$MNT/disk" --direct-io=on)
run 120 e2fsck -fn "$LOOP" >e2fsck-before.txt 2>&1 && echo "e2fsck -fn before journal replay: clean" ||
  echo "e2fsck -fn before journal replay: $(tail -n 1 e2fsck-before.txt) (the journal is not replayed by -n)"
run 30 mount "$LOOP" "$FS" || fail "mount after the power cut"
(cd "$FS" && run 120 sha256sum -c --quiet "$WORK/synced") || fail "a file fsynced before the power cut is damaged"
echo "ok: $(wc -l <"$WORK/synced") fsynced files intact"
run 60 umount "$FS" || fail "umount after checking"
# After the journal replay nothing is left for e2fsck to repair.
if ! run 120 e2fsck -fn "$LOOP"; then
  fail "e2fsck -fn found errors after the journal replayed"
fi
# The disk carries on: a new file through the same stack.
run 30 mount "$LOOP" "$FS" || fail "mount again"
head -c $((4 << 20)) /dev/urandom >"$FS/after"
sync
sum=$(sha256sum <"$FS/after")
run 60 umount "$FS" || fail "umount"
run 30 mount "$LOOP" "$FS" || fail "mount again"
[[ $(sha256sum <"$FS/after") == "$sum" ]] || fail "a file written after the power cut does not read back"
run 60 umount "$FS"
loop_detach "$LOOP"
vumount "$MNT"
check_clean "$IMG"
echo PASS
