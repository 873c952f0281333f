# BAD blocks: by default the export fails, listing them, and writes nothing;
# --bad zero writes zeros there and counts them. A damaged record fails the
# export naming the block, leaving no OUT (and an OUT replaced with --force
# intact).
source "$(dirname "${BASH_SOURCE[0]}")/export_lib.sh"

BS=4096
python3 - <<'PY'
with open("raw.img", "wb") as f:
    for b in range(1024):                         # 4 MiB, every block distinct
        f.write((b"block %06d " % b) * (4096 // 13) + bytes(4096 - 13 * (4096 // 13)))
PY
vformat img --from raw.img >/dev/null
aid img bad 10 3
aid img bad 50 1
aid img bad 700 2
sum=$(checksum img)
expect_error img vexport img out.raw
[[ $LAST_RC -eq 1 ]] || fail "BAD blocks: exit $LAST_RC, expected 1"
grep -q '6 BAD blocks (10-12, 50, 700-701)' err.txt || fail "BAD blocks not listed: $(cat err.txt)"
grep -q -- '--bad zero' err.txt || fail "no hint about --bad zero: $(cat err.txt)"
[[ ! -e out.raw ]] || fail "failed export left out.raw"
no_leftovers .

# Many ranges: the line stays short.
for b in 100 102 104 106 108 110 112 114 116 118; do aid img bad $b 1; done
sum=$(checksum img)
expect_error img vexport img out.raw
grep -q 'and 5 more ranges' err.txt || fail "long list not cut: $(cat err.txt)"

vexport img out.raw --bad zero --json >out.json
cat out.json
[[ $(json_get out.json 'j["bad_blocks"]') == 16 ]] || fail "bad_blocks count"
[[ $(json_get out.json 'j["blocks"]["bad"]') == 16 ]] || fail "blocks.bad count"
python3 - <<'PY' || fail "BAD blocks do not read as zeros, or other blocks differ"
bs = 4096
bad = {10, 11, 12, 50, 700, 701} | set(range(100, 119, 2))
raw = open("raw.img", "rb").read()
out = open("out.raw", "rb").read()
assert len(out) == len(raw)
for b in range(len(raw) // bs):
    want = bytes(bs) if b in bad else raw[b * bs:(b + 1) * bs]
    assert out[b * bs:(b + 1) * bs] == want, b
PY
vexport img text.raw --bad zero >text.txt
grep -q '16 BAD blocks written as zeros' text.txt || fail "text summary: $(cat text.txt)"
expect_error --bad vexport img x.raw --bad maybe
[[ $LAST_RC -eq 2 ]] || fail "--bad maybe: exit $LAST_RC, expected 2"

# A damaged record: the read fails, the export names the block, no OUT.
vformat dmg.img --from raw.img >/dev/null
aid dmg.img corrupt 300
expect_error dmg.img vexport dmg.img dmg.raw
grep -Eq 'dmg.img: block [0-9]+: .*checksum' err.txt || fail "damaged block not named: $(cat err.txt)"
[[ ! -e dmg.raw ]] || fail "failed export left dmg.raw"
no_leftovers .
# ... and an existing OUT replaced with --force is left as it was.
echo "previous contents" >keep.raw
expect_error dmg.img vexport dmg.img keep.raw --force
[[ $(cat keep.raw) == "previous contents" ]] || fail "failed --force export changed keep.raw"
no_leftovers .
[[ $(checksum img) == "$sum" ]] || fail "vblk-export changed img"
echo PASS
