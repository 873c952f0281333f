# Round trip: vblk-export -> vblk-format --from -> vblk-export gives the same
# bytes (cmp) and the same holes (a SEEK_DATA/SEEK_HOLE map). FREE, TRIMMED
# and all-zero blocks are holes; everything else is data.
source "$(dirname "${BASH_SOURCE[0]}")/export_lib.sh"

BS=4096
# raw.img: 16 MiB with text, random, compressible data, written zeros, a
# region that gets trimmed after import, and holes.
python3 - <<'PY'
import random
rnd = random.Random(5)
bs = 4096
with open("raw.img", "wb") as f:
    f.truncate(16 << 20)
    def put(block, data):
        f.seek(block * bs); f.write(data)
    put(0, b"vblk export test\n" * 100)
    put(10, bytes(rnd.getrandbits(8) for _ in range(10 * bs)))       # 10..19 incompressible
    put(40, bytes(8 * bs))                                            # 40..47 written zeros
    put(100, (b"0123456789abcdef" * 256) * 200)                       # 100..299 compressible
    put(500, b"to be trimmed " * (10 * bs // 14))                     # 500..509, trimmed below
    put(1800, b"\x01")
    put(4095, b"\xff" * bs)                                           # the last block
PY
vformat img1 --from raw.img >/dev/null
aid img1 trim 500 10
vinspect img1 --json --no-map >insp1.json
[[ $(json_get insp1.json 'j["blocks"]["trimmed"]') == 10 ]] || fail "trim did not take"

# The disk as it must read: raw.img with blocks 500..509 zeroed.
cp raw.img expected.raw
dd if=/dev/zero of=expected.raw bs=$BS seek=500 count=10 conv=notrunc status=none
# Its data map: runs of non-zero blocks (the host block size is 4096 too).
python3 - <<'PY' >expected.map
data = open("expected.raw", "rb").read()
bs = 4096
runs, start = [], None
for i in range(0, len(data), bs):
    nz = any(data[i:i + bs])
    if nz and start is None: start = i
    if not nz and start is not None: runs.append((start, i)); start = None
if start is not None: runs.append((start, len(data)))
for a, b in runs: print(f"{a}-{b}")
print(f"size {len(data)}")
PY

vexport img1 e1.raw --json >e1.json
cat e1.json
cmp e1.raw expected.raw || fail "export differs from the disk"
data_map e1.raw >e1.map
diff expected.map e1.map || fail "export's holes are not the disk's zero blocks"
json_get e1.json 'j["bytes_written"] + j["holes_bytes"] == j["capacity_bytes"]' | grep -qx True || fail "json sums"
[[ $(json_get e1.json 'j["holes_bytes"]') == $(hole_bytes e1.raw) ]] || fail "json holes_bytes is not the file's holes"
[[ $(json_get e1.json 'j["blocks"]["trimmed"]') == 10 ]] || fail "json trimmed count"
[[ $(json_get e1.json 'j["sparse"]') == True ]] || fail "json sparse"
no_leftovers .

# Import the export and export again: same bytes, same holes.
vformat img2 --from e1.raw >/dev/null
vexport img2 e2.raw >e2.txt
grep -q '^img2 -> e2.raw: 16.0 MiB disk' e2.txt || fail "summary: $(cat e2.txt)"
cmp e1.raw e2.raw || fail "round trip changed the bytes"
data_map e2.raw >e2.map
diff e1.map e2.map || fail "round trip changed the holes"

# Other block sizes give the same disk; 512-byte blocks the same holes too.
vformat img3 --from e1.raw --block-size 512 >/dev/null
vexport img3 e3.raw >/dev/null
cmp e1.raw e3.raw || fail "512-byte blocks: bytes differ"
data_map e3.raw | diff e1.map - || fail "512-byte blocks: holes differ"
vformat img4 --from e1.raw --block-size 64K --level 0 >/dev/null
vexport img4 e4.raw >/dev/null
cmp e1.raw e4.raw || fail "64 KiB blocks, level 0: bytes differ"

# A mostly empty large disk costs almost nothing on the host.
vformat big.img --size 8G >/dev/null
vexport big.img big.raw --json >big.json
[[ $(stat -c %s big.raw) == $((8 << 30)) ]] || fail "8 GiB export has the wrong size"
(($(stat -c %b big.raw) == 0)) || fail "empty 8 GiB export allocated $(stat -c %b big.raw) blocks"
[[ $(json_get big.json 'j["bytes_written"]') == 0 ]] || fail "empty disk: bytes written"
echo PASS
