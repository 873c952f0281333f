# Block status and copies of a served image:
#  - nbdinfo --map equals the block-state map of vblk-inspect --json, block
#    for block (FREE/TRIMMED are holes reading zeros, USED all-zero blocks
#    zeros without the hole flag, the rest data);
#  - qemu-img convert (raw, and qcow2 and back) and nbdcopy give the bytes
#    vblk-export gives, sparse where the image is empty;
#  - a copy INTO a served image (qemu-img convert -n) reads back the same.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BS=4096
IMG=$WORK/img
# 4 MiB of 4 KiB blocks: vblk-inspect's map (1024 cells) has one cell per block.
vformat "$IMG" --size 4M
head -c $((1 << 20)) /dev/urandom >"$WORK/random.bin"
serve s "$IMG"
U=$(uri s)
qio "$U" "write -P 0x41 $((10 * BS)) $((2 * BS))" \
  "write -z $((20 * BS)) $((10 * BS))" \
  "write -P 0x42 $((40 * BS)) $((10 * BS))" \
  "write -z -u $((40 * BS)) $((10 * BS))" \
  "write -P 0x43 $((100 * BS + 1000)) 100" \
  "write -P 0x44 $((1023 * BS)) $BS" \
  "write -s $WORK/random.bin $((600 * BS)) $((1 << 20))" \
  flush >/dev/null || fail "qemu-io writes"
stop s

vinspect --json "$IMG" >"$WORK/inspect.json" || fail "vblk-inspect --json"
[[ $(json_get "$WORK/inspect.json" 'j["map"]["blocks_per_cell"]') == 1 ]] || fail "the map is not one cell per block"
serve s "$IMG"
run 60 nbdinfo --map --json "$U" >"$WORK/map.json" || fail "nbdinfo --map"
python3 - "$WORK/inspect.json" "$WORK/map.json" <<'EOF_PY' || fail "nbdinfo --map differs from vblk-inspect's map"
import json, sys
BS = 4096
inspect = json.load(open(sys.argv[1]))
cells = "".join(inspect["map"]["rows"])
nbd = [None] * len(cells)
for e in json.load(open(sys.argv[2])):
    assert e["offset"] % BS == 0 and e["length"] % BS == 0, e
    for b in range(e["offset"] // BS, (e["offset"] + e["length"]) // BS):
        nbd[b] = e["type"]
bad = []
zero_used = 0
for b, (c, t) in enumerate(zip(cells, nbd)):
    hole = c in ".-"
    if t is None or bool(t & 1) != hole or (hole and not t & 2):
        bad.append(f"block {b}: state {c!r}, NBD type {t}")
    if c == "#" and t == 2:
        zero_used += 1
want = {10: "#0", 11: "#0", 20: "#2", 29: "#2", 40: "-3", 49: "-3", 100: "#0", 600: "#0", 855: "#0", 1023: "#0", 0: ".3", 50: ".3"}
for b, w in want.items():
    if cells[b] + str(nbd[b]) != w:
        bad.append(f"block {b}: state {cells[b]!r}, NBD type {nbd[b]}, expected {w}")
if zero_used != inspect["blocks"]["zero"]:
    bad.append(f"{zero_used} USED blocks reported zero, vblk-inspect counts {inspect['blocks']['zero']} zero blocks")
if bad:
    print("\n".join(bad[:20]), file=sys.stderr)
    sys.exit(1)
print(f"ok: {len(cells)} blocks, map equal, {zero_used} zero USED blocks")
EOF_PY

# Copies out: the bytes vblk-export writes, sparse.
run 120 qemu-img convert -f raw -O raw "$U" "$WORK/qemu.raw" || fail "qemu-img convert to raw"
run 120 qemu-img convert -f raw -O qcow2 "$U" "$WORK/qemu.qcow2" || fail "qemu-img convert to qcow2"
run 120 qemu-img convert -f qcow2 -O raw "$WORK/qemu.qcow2" "$WORK/qcow2-back.raw" || fail "qemu-img convert from qcow2"
run 120 nbdcopy "$U" "$WORK/nbdcopy.raw" || fail "nbdcopy to raw"
stop s
vexport "$IMG" "$WORK/export.raw" >/dev/null || fail "vblk-export"
for f in qemu.raw qcow2-back.raw nbdcopy.raw; do
  cmp "$WORK/export.raw" "$WORK/$f" || fail "$f differs from vblk-export's output"
  alloc=$(host_bytes "$WORK/$f")
  echo "$f: equal to vblk-export's output, $alloc bytes allocated of $(stat -c %s "$WORK/$f")"
  ((alloc < 2 << 20)) || fail "$f is not sparse: $alloc bytes allocated for ~1.1 MiB of data"
done

# Copy back into a fresh served image, then read it out two ways.
IMG2=$WORK/img2
vformat "$IMG2" --size 4M
serve t "$IMG2"
run 120 qemu-img convert -n -f raw -O raw "$WORK/export.raw" "$(uri t)" || fail "qemu-img convert -n into the export"
run 120 nbdcopy "$(uri t)" "$WORK/back.raw" || fail "nbdcopy of the copy"
cmp "$WORK/export.raw" "$WORK/back.raw" || fail "the image copied into reads back different over NBD"
stop t
vexport "$IMG2" "$WORK/back-export.raw" >/dev/null || fail "vblk-export of the copy"
cmp "$WORK/export.raw" "$WORK/back-export.raw" || fail "the image copied into exports different bytes"
vinspect --check "$IMG2" >/dev/null || fail "vblk-inspect --check of the copy"
echo PASS
