# An imported image is final: vblk-format --from compresses at the image's
# level and leaves nothing provisional, so a mount that only reads, idle for
# longer than deferred compression waits, leaves the file byte for byte as
# it was (and so does an empty image's). Offline vblk-inspect says when
# recompression is pending, in text and JSON: after writes through a mount
# it is, after the idle pass it is not, and then an idle mount changes
# nothing either.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MNT=$WORK/m
MIB=24
IDLE=3  # seconds; deferred compression starts after 1 s without requests

# Text-like data, which level 3 stores smaller than level 1 (as in
# deferred_compression.sh), with a hole in the middle.
python3 - "$WORK/raw" $((MIB << 20)) <<'PY'
import random, sys
r = random.Random(5)
syll = ["ka", "to", "ri", "mu", "se", "lo", "na", "vi", "de", "po", "gu", "fe"]
words = ["".join(r.choice(syll) for _ in range(r.randint(1, 4))) for _ in range(3000)]
lines = [" ".join(r.choice(words) for _ in range(r.randint(5, 12))) + "\n" for _ in range(1500)]
size = int(sys.argv[2])
out, n = [], 0
while n < size:
    line = r.choice(lines)
    out.append(line)
    n += len(line)
data = bytearray("".join(out).encode()[:size])
data[size // 3 : size // 2] = bytes(size // 2 - size // 3)
open(sys.argv[1], "wb").write(data)
PY

pending_json() { inspect_json "$1" "$WORK/p.json" && json_get "$WORK/p.json" 'j["recompression"]["pending_bytes"]'; }
pending_text() { vinspect "$1" --no-map | sed -n 's/^recompression: *//p'; }

# mount_idle IMAGE [read]: mounts, optionally reads the whole disk back
# against the raw file, stays idle for $IDLE s, unmounts.
mount_idle() {
  vmount "$1" "$MNT"
  if [[ ${2:-} == read ]]; then
    run 60 cmp -n $((MIB << 20)) "$WORK/raw" "$MNT/disk" || fail "the disk differs from the raw file"
  fi
  sleep "$IDLE"
  vumount "$MNT"
}

vformat "$WORK/img" --from "$WORK/raw" >/dev/null
[[ $(pending_json "$WORK/img") == 0 ]] || fail "an import left provisional records: $(cat "$WORK/p.json")"
[[ $(json_get "$WORK/p.json" 'j["recompression"]["scanned"]') == True ]] || fail "recompression.scanned offline"
[[ $(pending_text "$WORK/img") == "none pending" ]] || fail "text after an import: $(pending_text "$WORK/img")"

sum=$(sha256sum <"$WORK/img")
mount_idle "$WORK/img" read
[[ $(sha256sum <"$WORK/img") == "$sum" ]] || fail "a mount that only read changed the imported image"
echo "imported image unchanged by a mount that read it and idled ${IDLE}s"

# An empty image too.
vformat "$WORK/empty" --size 64M >/dev/null
esum=$(sha256sum <"$WORK/empty")
mount_idle "$WORK/empty"
[[ $(sha256sum <"$WORK/empty") == "$esum" ]] || fail "a mount without writes changed an empty image"

# Writes through a mount, unmounted before the idle second: provisional
# records, and offline inspect says so.
vmount "$WORK/img" "$MNT"
run 60 dd if="$WORK/raw" of="$MNT/disk" bs=1M count=8 seek=16 oflag=direct conv=notrunc status=none ||
  fail "writing the disk"
vumount "$MNT"
pending=$(pending_json "$WORK/img")
((pending > 0)) || fail "no provisional bytes after writing compressible text through a mount"
pending_text "$WORK/img" | grep -Eq '^[0-9.]+ [KMG]?i?B stored at level 1, recompressed at level 3 once served' ||
  fail "text with recompression pending: $(pending_text "$WORK/img")"
echo "pending after writes: $pending bytes ($(pending_text "$WORK/img"))"

# The next mount recompresses once idle, which changes the file; then the
# image is settled and an idle mount changes nothing more.
before=$(sha256sum <"$WORK/img")
vmount "$WORK/img" "$MNT"
done_pass() {
  python3 -c 'import json,os,sys; r=json.loads(os.getxattr(sys.argv[1], "user.vblk.stats"))["recompression"]; sys.exit(not (r["scanned"] and r["pending_bytes"] == 0))' "$MNT/disk"
}
wait_until 120 done_pass || fail "recompression not done after 120 s"
vumount "$MNT"
[[ $(sha256sum <"$WORK/img") != "$before" ]] || fail "recompression did not change the image"
[[ $(pending_json "$WORK/img") == 0 ]] || fail "pending after the pass: $(cat "$WORK/p.json")"
settled=$(sha256sum <"$WORK/img")
mount_idle "$WORK/img"
[[ $(sha256sum <"$WORK/img") == "$settled" ]] || fail "an idle mount changed an image with nothing pending"
check_clean "$WORK/img"
echo "ok"
