# vblk-format --from: zero blocks and holes stay FREE, the data reads back
# through vblk-inspect --block, --check passes; then one flipped byte in a
# stored record makes --check fail naming the block.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BS=4096
# raw.img: 8 MiB + 100 bytes (the last block is partial), with text, random
# and repetitive data, all-zero blocks written out and a 3 MiB hole.
python3 - <<'PY'
import os, random
rnd = random.Random(1234)
bs = 4096
size = 8 * 1024 * 1024 + 100
with open("raw.img", "wb") as f:
    f.truncate(size)                       # sparse: everything is a hole
    def put(block, data):
        f.seek(block * bs)
        f.write(data)
    put(0, b"vblk test disk\n" * 200)      # not block-aligned length
    put(10, bytes(rnd.getrandbits(8) for _ in range(10 * bs)))  # blocks 10..19, incompressible
    put(40, bytes(8 * bs))                 # written zeros: blocks 40..47 stay FREE
    put(100, (b"0123456789abcdef" * 256) * 200)                 # blocks 100..299, compressible
    # Blocks 600..631, half random as fio's buffers: one record whose units
    # share nothing (independent units), where those of 100..299 repeat
    # each other (chained units).
    put(600, b"".join(bytes(rnd.getrandbits(8) for _ in range(bs // 2)) + bytes([i]) * (bs // 2) for i in range(32)))
    put(1800, b"\x01")                     # one byte in block 1800, after the hole
    f.seek(size - 50)
    f.write(b"z" * 50)                     # tail of the partial last block 2048
PY

expected_used=$(python3 - <<'PY'
bs = 4096
data = open("raw.img", "rb").read()
data += bytes(-len(data) % bs)
print(sum(1 for i in range(0, len(data), bs) if any(data[i:i + bs])))
PY
)

vformat img --from raw.img --label imported >fmt.txt 2>fmt.err
cat fmt.txt
[[ ! -s fmt.err ]] || fail "stderr not empty when not a terminal: $(cat fmt.err)"

vinspect img --json >insp.json
cat insp.json
[[ $(json_get insp.json 'j["capacity_bytes"]') == $((2049 * BS)) ]] || fail "capacity is not the raw size rounded up"
[[ $(json_get insp.json 'j["blocks"]["used"]') == "$expected_used" ]] ||
  fail "used blocks $(json_get insp.json 'j["blocks"]["used"]'), expected $expected_used"
[[ $(json_get insp.json 'j["blocks"]["free"] + j["blocks"]["used"] == j["block_count"]') == True ]] ||
  fail "blocks are not all FREE or USED"
[[ $(json_get insp.json 'j["label"]') == imported ]] || fail "label"
[[ $(json_get insp.json 'j["stored_bytes"] < j["logical_bytes"]') == True ]] || fail "nothing was compressed"

vinspect img >insp.txt
grep -q '^state map:' insp.txt || fail "no state map"
vinspect img --check >check.txt
grep -Eq "^check: clean, [0-9]+ records, $expected_used blocks verified" check.txt || fail "check: $(cat check.txt)"

# Data read back through the store matches the raw file, block by block.
for b in 0 1 10 15 19 40 100 299 600 631 1800 2048 500; do
  vinspect img --block "$b" --json >"b$b.json"
  python3 - "$b" <<'PY' || fail "block $b differs"
import json, sys
b = int(sys.argv[1]); bs = 4096
j = json.load(open(f"b{b}.json"))
f = open("raw.img", "rb"); f.seek(b * bs); want = f.read(bs); want += bytes(bs - len(want))
got = bytes.fromhex(j["data_hex"])
assert got == want, f"block {b}: data differs"
assert j["state"] == ("USED" if any(want) else "FREE"), j["state"]
PY
done
vinspect img --block 15 >b15.txt
grep -q '^state: *USED' b15.txt || fail "block 15 text: $(cat b15.txt)"
vinspect img --block 100 >b100.txt
grep -q '^\*$' b100.txt || fail "repeated lines not collapsed: $(cat b100.txt)"
# The unit layout each record took (vblk(5), Compression unit).
[[ $(json_get b100.json 'j["units"]') == chained ]] || fail "blocks 100..: units $(json_get b100.json 'j["units"]')"
[[ $(json_get b600.json 'j["units"]') == independent ]] || fail "blocks 600..: units $(json_get b600.json 'j["units"]')"
[[ $(json_get b1800.json 'j["units"]') == None ]] || fail "block 1800 (one unit): units $(json_get b1800.json 'j["units"]')"
grep -q '^payload: .*zstd-compressed, chained units' b100.txt || fail "block 100 text: $(cat b100.txt)"
vinspect img --block 631 >b631.txt
grep -q '^payload: .*zstd-compressed, independent units' b631.txt || fail "block 631 text: $(cat b631.txt)"

# Importing into a larger capacity.
vformat img2 --from raw.img --size 16M >/dev/null
[[ $(vinspect img2 --json --no-map | python3 -c 'import json,sys; print(json.load(sys.stdin)["capacity_bytes"])') == $((16 << 20)) ]] ||
  fail "--size with --from"
# A capacity smaller than the raw file is refused, and leaves nothing.
expect_error raw.img vformat img3 --from raw.img --size 4M
[[ ! -e img3 ]] || fail "failed --from left img3 behind"

# Corrupt one byte of the record holding block 15 and scrub.
sum_before=$(checksum img)
off=$(json_get b15.json 'j["record_offset"] + 64 + 5')
first=$(json_get b15.json 'j["record_first_block"]')
count=$(json_get b15.json 'j["record_blocks"]')
python3 - "$off" <<'PY'
import sys
off = int(sys.argv[1])
with open("img", "r+b") as f:
    f.seek(off); b = f.read(1); f.seek(off); f.write(bytes([b[0] ^ 0xFF]))
PY
[[ $(checksum img) != "$sum_before" ]] || fail "byte flip did not change the image"
expect_error img vinspect img --check
[[ $LAST_RC -eq 1 ]] || fail "--check on damage: exit $LAST_RC, expected 1"
cat out.txt
named=$(grep -Eo '^block [0-9]+' out.txt | awk '{print $2}' | sort -un)
[[ -n $named ]] || fail "check output names no block: $(cat out.txt)"
for n in $named; do
  ((n >= first && n < first + count)) || fail "check names block $n outside the damaged record [$first, $((first + count)))"
done
grep -Eq '^block 15[: ]' out.txt || fail "check does not name block 15: $(cat out.txt)"
sum_after=$(checksum img)
vinspect img --check --json >check.json || true
json_get check.json 'j["clean"]' | grep -qx False || fail "json check says clean"
json_get check.json 'any(p["block"] == 15 for p in j["problems"])' | grep -qx True || fail "json check misses block 15"
# Reading the damaged block reports the damage instead of returning garbage.
expect_error img vinspect img --block 15
[[ $(checksum img) == "$sum_after" ]] || fail "vblk-inspect changed the image"
echo PASS
