# vblk-inspect --svg: valid XML; one cell per block on a small image, whose
# cells counted by state match vblk-inspect's block counts; on a larger
# image the per-cell counts add up to the same totals.
# Run as: bash inject_svg.sh VBLK_FORMAT VBLK_INSPECT VBLK_INJECT
VBLK_INJECT=$(realpath "$3")  # before lib.sh changes directory
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# 1024 blocks: zeros, compressible text, random bytes, and a hole.
python3 -c '
import os
with open("raw", "wb") as f:
    for b in range(1024):
        if b < 100: f.write(bytes(4096))
        elif b < 500: f.write(((b"vblk %d " % b) * 512)[:4096])
        elif b < 700: f.write(os.urandom(4096))
        else: f.write(bytes(4096))
'
vformat small.img --from raw >/dev/null
timeout 60 "$VBLK_INJECT" small.img bad --block 300-309 >/dev/null
timeout 60 "$VBLK_INJECT" small.img bad --block 1000 >/dev/null

check_svg() {  # IMAGE SVG EXPECT_ONE_PER_BLOCK
  vinspect --json --no-map "$1" >i.json
  python3 - "$2" i.json "$3" <<'EOF_PY'
import json, sys, xml.etree.ElementTree as ET
svg, info, one = sys.argv[1], json.load(open(sys.argv[2])), sys.argv[3] == "1"
root = ET.parse(svg).getroot()                      # raises on invalid XML
ns = "{http://www.w3.org/2000/svg}"
assert root.tag == ns + "svg", root.tag
cells = [r for r in root.iter(ns + "rect") if "cell" in (r.get("class") or "").split()]
want = {k: info["blocks"][k] for k in ("free", "used", "trimmed", "bad")}
sums = {k: sum(int(c.get("data-" + k)) for c in cells) for k in want}
assert sums == want, f"per-cell counts {sums} != {want}"
assert sum(int(c.get("data-blocks")) for c in cells) == info["block_count"]
if one:
    by_state = {k: sum(1 for c in cells if c.get("data-state") == k.upper()) for k in want}
    assert by_state == want, f"cells by state {by_state} != {want}"
    assert len(cells) == info["block_count"]
ratios = [float(c.get("data-ratio")) for c in cells if c.get("data-state") == "USED" and float(c.get("data-ratio")) > 0]
assert ratios, "no USED cell carries a compression ratio"
legend = [t.text for t in root.iter(ns + "text") if t.text]
for word in ("FREE", "USED", "TRIMMED", "BAD"):
    assert word in legend, f"legend lacks {word}"
print(f"ok: {svg}: {len(cells)} cells, {want}, ratios {min(ratios):.2f}..{max(ratios):.2f}")
EOF_PY
}

vinspect small.img --svg small.svg | grep -q "^wrote small.svg: 1024 cells of 1 block" || fail "--svg summary"
check_svg small.img small.svg 1 || fail "small.svg"

# 16384 blocks: 4 blocks per cell.
head -c $((64 << 20)) /dev/zero >big.raw
dd if=raw of=big.raw conv=notrunc bs=4096 seek=5000 status=none
vformat big.img --from big.raw >/dev/null
timeout 60 "$VBLK_INJECT" big.img bad --block 5002-5003 >/dev/null
vinspect big.img --svg big.svg | grep -q "4096 cells of 4 blocks" || fail "big --svg summary"
check_svg big.img big.svg 0 || fail "big.svg"

# Errors: an unwritable file.
expect_error nodir/x.svg vinspect small.img --svg nodir/x.svg
echo PASS
