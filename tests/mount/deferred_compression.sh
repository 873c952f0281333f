# Deferred compression end to end: writes through vblkfs are stored at
# level 1 and marked provisional; an unmount leaves them so; the next mount
# finds them and, once the disk is idle, recompresses them at the image's
# level, which shrinks the image and keeps every byte. --compress-at-write
# stores at the image's level at once.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

IMG=$WORK/img
MNT=$WORK/m
DATA=$WORK/text
MIB=16

# Text-like data: lines drawn at random from 1500 lines of made-up words;
# level 3 stores it about a quarter smaller than level 1.
python3 - "$DATA" $((MIB << 20)) <<'PY'
import random, sys
r = random.Random(1)
syll = ["ka", "to", "ri", "mu", "se", "lo", "na", "vi", "de", "po", "gu", "fe", "ji", "bo", "ha", "ze"]
words = ["".join(r.choice(syll) for _ in range(r.randint(1, 4))) for _ in range(3000)]
lines = [" ".join(r.choice(words) for _ in range(r.randint(5, 12))) + "\n" for _ in range(1500)]
out, n = [], 0
while n < int(sys.argv[2]):
    line = r.choice(lines)
    out.append(line)
    n += len(line)
open(sys.argv[1], "wb").write("".join(out).encode()[: int(sys.argv[2])])
PY

stats() { python3 -c 'import json,os,sys; j=json.loads(os.getxattr(sys.argv[1], "user.vblk.stats")); print(eval(sys.argv[2]))' "$MNT/disk" "$1"; }
done_recompressing() { [[ $(stats 'j["recompression"]["pending_bytes"] == 0 and j["recompression"]["scanned"]') == True ]]; }

vformat "$IMG" --size 256M
vmount "$IMG" "$MNT"
run 60 dd if="$DATA" of="$MNT/disk" bs=1M oflag=direct conv=notrunc status=none || fail "writing the disk"
pending=$(stats 'j["recompression"]["pending_bytes"]')
echo "written: $MIB MiB; provisional right after: $(mib "$pending")"
((pending > 0)) || fail "nothing provisional after writing compressible text"
vumount "$MNT"  # before the disk has been idle for a second
inspect_json "$IMG" "$WORK/written.json"
check_clean "$IMG"
before=$(json_get "$WORK/written.json" 'j["stored_bytes"]')

# The next mount finds the provisional records and recompresses them once idle.
vmount "$IMG" "$MNT"
t0=$(now_ns)
wait_until 120 done_recompressing || fail "recompression not done after 120 s: $(stats 'j["recompression"]')"
echo "recompressed after the remount in $(elapsed_since "$t0") s"
run 60 cmp -n $((MIB << 20)) "$DATA" "$MNT/disk" || fail "the disk differs from what was written"
vumount "$MNT"
inspect_json "$IMG" "$WORK/recompressed.json"
check_clean "$IMG"
after=$(json_get "$WORK/recompressed.json" 'j["stored_bytes"]')
echo "stored: $(mib "$before") at level 1, $(mib "$after") after recompression"
((after * 10 < before * 9)) || fail "recompression saved less than 10%: $before -> $after bytes"

# --compress-at-write: nothing provisional, stored as small at once.
rm -f "$IMG"
vformat "$IMG" --size 256M
vmount "$IMG" "$MNT" --compress-at-write
run 60 dd if="$DATA" of="$MNT/disk" bs=1M oflag=direct conv=notrunc status=none || fail "writing the disk"
[[ $(stats 'j["recompression"]["pending_bytes"]') == 0 ]] || fail "provisional records with --compress-at-write"
vumount "$MNT"
inspect_json "$IMG" "$WORK/at_write.json"
direct=$(json_get "$WORK/at_write.json" 'j["stored_bytes"]')
echo "stored with --compress-at-write: $(mib "$direct")"
((after <= direct * 101 / 100)) || fail "recompressed image larger than one written at its level: $after > $direct"
echo "ok"
