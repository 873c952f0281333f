# Rebuilding a mounted member set (vblk(5), MEMBER SETS, Rebuild): a member
# failed live with vblk-inject MOUNTPOINT member N fail, vblk-rebuild
# MOUNTPOINT while a writer keeps writing through vblkfs, the data compared
# with sha256 before and after with the failed member's file deleted; kill
# -9 of the daemon during a rebuild, then a remount that finishes it; and
# auto-rebuild after a live failure.
# Run as: bash member_rebuild_live.sh VBLKFS VBLK_FORMAT VBLK_INSPECT VBLK_INJECT VBLK_REBUILD
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

VBLK_REBUILD=${EXTRA_ARGS[1]}
vrebuild() { run 120 "$VBLK_REBUILD" "$@"; }
IMG=$WORK/img
MNT=$WORK/m
DISK=$MNT/disk

# 4 data members in groups of 2, one global parity, two spares: members
# 0-3 data, 4-5 local parity, 6 global parity, 7-9 spares.
vformat "$IMG" --size 512M --level 0 --data-members 4 --group-size 2 --global-parity 1 --spares 3 >/dev/null

# member N: "state stands_for rebuilt_rows" of member N from the member
# table in force (the copy with the higher generation).
member() {
  python3 -c '
import struct, sys
f = open(sys.argv[1], "rb")
best = None
for off in (128 << 10, 512 << 10):
    f.seek(off); head = f.read(128)
    if head[:8] != b"VBLKMTAB": continue
    n, gen = struct.unpack_from("<IQ", head, 12)
    f.seek(off + 128); entries = f.read(n * 256)
    if best is None or gen > best[0]: best = (gen, entries)
e = best[1][int(sys.argv[2]) * 256:][:256]
states = ["ok", "failed", "stale", "rebuilding", "replaced"]
print(states[e[17]], struct.unpack_from("<I", e, 28)[0], struct.unpack_from("<Q", e, 40)[0])' "$IMG" "$1"
}

# write_region START_MIB MIB SEED: incompressible bytes through the disk file.
write_region() {
  python3 - "$DISK" "$1" "$2" "$3" <<'PY'
import os, random, sys
disk, start, mib, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
r = random.Random(seed)
fd = os.open(disk, os.O_RDWR)
for i in range(mib):
    os.pwrite(fd, r.randbytes(1 << 20), (start + i) << 20)
os.fsync(fd)
os.close(fd)
PY
}
# expected_sha: sha256 of the first $1 MiB as the regions written so far
# (REGIONS: "start mib seed" lines, later ones over earlier ones) make them.
REGIONS=()
expected_sha() {
  printf '%s\n' "${REGIONS[@]}" | python3 -c '
import hashlib, random, sys
size = int(sys.argv[1]) << 20
buf = bytearray(size)
for line in sys.stdin:
    start, mib, seed = map(int, line.split())
    r = random.Random(seed)
    for i in range(mib):
        buf[(start + i) << 20:(start + i + 1) << 20] = r.randbytes(1 << 20)
print(hashlib.sha256(bytes(buf)).hexdigest())' "$1"
}
disk_sha() { head -c $(($1 << 20)) "$DISK" | sha256sum | cut -d' ' -f1; }
TOTAL=160  # MiB compared

# ---- 1. a live failure, vblk-rebuild MOUNTPOINT beside a writer ------------
vmount "$IMG" "$MNT" --no-auto-rebuild
write_region 0 128 1
REGIONS+=("0 128 1")
vinject "$MNT" member 1 fail >inject.txt || fail "live member 1 fail: $(cat inject.txt)"
grep -q "member 1 of $MNT: failed" inject.txt || fail "live member fail said: $(cat inject.txt)"
[[ $(member 1) == "failed "* ]] || fail "member 1 not failed in the table: $(member 1)"
write_region 128 16 2 &
WRITER=$!
BG_PIDS+=("$WRITER")
vrebuild "$MNT" --json >rebuild.json || fail "vblk-rebuild $MNT: exit $?: $(cat rebuild.json)"
wait "$WRITER" || fail "the writer beside the rebuild failed"
REGIONS+=("128 16 2")
cat rebuild.json
[[ $(json_get rebuild.json 'j["schema"], j["live"], len(j["rebuilt"]), j["rebuilt"][0]["member"], j["rebuilt"][0]["onto"], j["rebuilt"][0]["read_from"], j["rebuilt"][0]["member_state"]') == \
   "('vblk-rebuild/1', True, 1, 1, 7, [0, 4], 'replaced')" ]] || fail "rebuild report: $(cat rebuild.json)"
[[ $(member 1) == "replaced "* && $(member 7) == "ok 1 0" ]] || fail "table after the rebuild: $(member 1) / $(member 7)"
want=$(expected_sha $TOTAL)
[[ $(disk_sha $TOTAL) == "$want" ]] || fail "data differs after the live rebuild"
# Nothing left: exit 3, one line naming the image.
rc=0
"$VBLK_REBUILD" "$MNT" >again.txt 2>again.err || rc=$?
[[ $rc -eq 3 ]] || fail "a second rebuild: exit $rc, expected 3: $(cat again.err)"
grep -q "^vblk-rebuild: $MNT: .*nothing to rebuild" again.err || fail "nothing to rebuild said: $(cat again.err)"
vumount "$MNT"
rm "$IMG.members/m001"
vmount "$IMG" "$MNT" --no-auto-rebuild
[[ $(disk_sha $TOTAL) == "$want" ]] || fail "data differs with the rebuilt member's file deleted"

# ---- 2. kill -9 during a rebuild, then a remount that finishes it ----------
vinject "$MNT" member 2 fail >/dev/null
write_region 16 8 3
REGIONS+=("16 8 3")
want=$(expected_sha $TOTAL)
# Capped at 8 MiB/s: the rebuild of member 2 (about 33 MB onto the spare)
# takes seconds, and the daemon dies once it has persisted some rows.
"$VBLK_REBUILD" "$MNT" -q --rate 8M >/dev/null 2>&1 &
BG_PIDS+=($!)
run 60 python3 - "$DISK" <<'PY' || fail "the rebuild did not get going"
import json, os, sys, time
while True:
    try:
        os.setxattr(sys.argv[1], "user.vblk.control", b"rebuild status")
        p = json.loads(os.getxattr(sys.argv[1], "user.vblk.control.json"))["rebuild"]["progress"]
        if p and p["rows_done"] >= 300:
            break
    except OSError:
        pass
    time.sleep(0.05)
PY
pid=$(daemon_pid "$MNT")
kill -9 "$pid"
wait_until 30 bash -c "! kill -0 $pid 2>/dev/null" || fail "the daemon did not die"
run 30 fusermount3 -u "$MNT" || true
echo "after kill -9: member 2: $(member 2), member 8: $(member 8)"
vmount "$IMG" "$MNT" --no-auto-rebuild
[[ $(disk_sha $TOTAL) == "$want" ]] || fail "data differs after kill -9 during the rebuild"
vrebuild "$MNT" --json >resume.json || fail "vblk-rebuild after the remount: exit $?: $(cat resume.json)"
[[ $(json_get resume.json 'j["rebuilt"][0]["member"], j["rebuilt"][0]["onto"]') == "(2, 8)" ]] ||
  fail "resumed rebuild: $(cat resume.json)"
[[ $(json_get resume.json 'j["rebuilt"][0]["resumed_from_row"] >= 256') == True ]] ||
  fail "the rebuild did not resume from the rows persisted before the kill: $(cat resume.json)"
[[ $(member 2) == "replaced "* && $(member 8) == "ok 2 0" ]] || fail "table after the resumed rebuild: $(member 2) / $(member 8)"
[[ $(disk_sha $TOTAL) == "$want" ]] || fail "data differs after the resumed rebuild"
vumount "$MNT"

# ---- 3. auto-rebuild after a live failure ----------------------------------
vmount "$IMG" "$MNT"
vinject "$MNT" member 3 fail >/dev/null || fail "live member 3 fail"
for _ in $(seq 300); do
  [[ $(member 9) == "ok 3 0" ]] && break
  sleep 0.1
done
[[ $(member 3) == "replaced "* && $(member 9) == "ok 3 0" ]] ||
  fail "member 3 was not rebuilt onto spare 9 by auto-rebuild: $(member 3) / $(member 9)"
[[ $(disk_sha $TOTAL) == "$want" ]] || fail "data differs after the auto-rebuild"
vumount "$MNT"
# The log (flushed at the latest when the daemon exits) says what was done.
grep -q "auto-rebuild" "$WORK/vblkfs-m.log" && grep -q "member 3 rebuilt onto member 9" "$WORK/vblkfs-m.log" ||
  fail "the log does not say what was rebuilt: $(tail -5 "$WORK/vblkfs-m.log")"
# Every spare used: two more failures in group 0 (data member 0 and the
# spare standing for member 1) still read back, with the global parity.
rm "$IMG.members/m002" "$IMG.members/m003"
vinject "$IMG" member 0 fail >/dev/null
vinject "$IMG" member 7 fail >/dev/null
vmount "$IMG" "$MNT" --no-auto-rebuild -r
[[ $(disk_sha $TOTAL) == "$want" ]] || fail "data differs with two members of group 0 gone after the rebuilds"
vumount "$MNT"
echo "ok: live rebuild, kill -9 mid-rebuild, auto-rebuild"
