# vblk-format --resize IMAGE NEWSIZE, offline: growing keeps every block,
# the label, the UUID, BAD blocks and fault rules, and adds FREE blocks;
# shrinking refuses while blocks past the new end are USED (naming the
# first and how many) and changes nothing; --force drops them, with the BAD
# marks and fault rules past the end. Bad sizes are usage errors. The live
# path (a mounted disk) is tested in tests/mount/resize_ext4.sh.
# Run as: bash resize.sh VBLK_FORMAT VBLK_INSPECT VBLK_EXPORT EXPORT_AID VBLKFS VBLK_INJECT
VBLK_INJECT=$(realpath "$6")  # before lib.sh changes directory
source "$(dirname "${BASH_SOURCE[0]}")/export_lib.sh"
vinject() { timeout "$TOOL_TIMEOUT" "$VBLK_INJECT" "$@"; }

MIB=$((1 << 20))
# 16 MiB of data with a hole; blocks 3000-3099 (12 MiB on) hold data.
python3 - <<'PY'
import random
r = random.Random(11)
with open("raw.img", "wb") as f:
    f.truncate(16 << 20)
    f.seek(0); f.write(b"the start of a disk\n" * 5000)
    f.seek(3000 * 4096); f.write(r.randbytes(100 * 4096))
PY
vformat img --from raw.img --label growing >/dev/null
vinject img bad --block 10-11 >/dev/null
vinject img latency --ms 1 --block 2000-3999 >/dev/null
vinspect img --json --no-map >before.json
uuid=$(json_get before.json 'j["uuid"]')
vinspect img --no-map | grep -q '^features: .*resizable' || fail "a new image lacks the resizable feature"

# Grow.
vformat --resize img 64M >out.txt || fail "--resize img 64M"
grep -qx "img: resized from 16.0 MiB (16777216 bytes) to 64.0 MiB (67108864 bytes)" out.txt || fail "$(cat out.txt)"
vinspect img --json --no-map >grown.json
[[ $(json_get grown.json 'j["capacity_bytes"]') == $((64 * MIB)) ]] || fail "capacity after growing"
[[ $(json_get grown.json 'j["uuid"]') == "$uuid" ]] || fail "uuid changed"
[[ $(json_get grown.json 'j["label"]') == growing ]] || fail "label changed"
[[ $(json_get grown.json 'j["blocks"]["used"]') == $(json_get before.json 'j["blocks"]["used"]') ]] || fail "used blocks"
[[ $(json_get grown.json 'j["blocks"]["free"]') == $(($(json_get before.json 'j["blocks"]["free"]') + 12288)) ]] ||
  fail "the new blocks are not FREE"
[[ $(json_get grown.json 'j["bad_ranges"]') == "[{'first': 10, 'count': 2}]" ]] || fail "BAD blocks: $(cat grown.json)"
[[ $(json_get grown.json '[r["command"] for r in j["fault_rules"]]') == "['latency 1ms 2000-3999']" ]] ||
  fail "fault rules: $(json_get grown.json 'j["fault_rules"]')"
vinspect img --check >/dev/null || fail "check after growing"
vexport img out.raw --bad zero >/dev/null 2>&1 || fail "export after growing"
python3 - <<'PY' || fail "the grown disk does not hold the raw disk, then zeros"
raw = bytearray(open("raw.img", "rb").read())
raw[10 * 4096:12 * 4096] = bytes(2 * 4096)  # BAD blocks exported as zeros
out = open("out.raw", "rb").read()
assert len(out) == 64 << 20, len(out)
assert out[:len(raw)] == raw
assert out[len(raw):] == bytes(len(out) - len(raw))
PY

# The same size: nothing to do, nothing written.
sum=$(checksum img)
vformat --resize img 64M >out.txt
grep -qx "img: already 64.0 MiB (67108864 bytes): nothing to do" out.txt || fail "$(cat out.txt)"
[[ $(checksum img) == "$sum" ]] || fail "resizing to the same size changed the image"

# Shrinking below used blocks is refused, with the first and how many.
expect_error img vformat --resize img 8M
[[ $LAST_RC -eq 1 ]] || fail "refused shrink: exit $LAST_RC"
grep -q "cannot shrink to 2048 blocks: 100 blocks at or beyond the new end are USED, the first is block 3000; --force discards them" err.txt ||
  fail "refused shrink: $(cat err.txt)"
[[ $(checksum img) == "$sum" ]] || fail "a refused shrink changed the image"
# Down to the last used block is fine without --force.
vformat --resize img 12400K >out.txt || fail "shrinking to the used blocks' end"
vinspect img --json --no-map >cut.json
[[ $(json_get cut.json 'j["capacity_bytes"]') == $((3100 * 4096)) ]] || fail "12400K"
[[ $(json_get cut.json '[r["command"] for r in j["fault_rules"]]') == "['latency 1ms 2000-3099']" ]] ||
  fail "fault rules cut at 12400K: $(json_get cut.json 'j["fault_rules"]')"

# --force drops them, with the fault rules and BAD marks past the end.
vinject img bad --block 3050-3060 >/dev/null
vformat --resize img 8M --force >out.txt || fail "--force"
grep -qx "img: resized from 12.1 MiB (12697600 bytes) to 8.0 MiB (8388608 bytes); 89 USED blocks from block 3000 on discarded; 11 BAD blocks past the end dropped; 1 fault rule cut at the new end" out.txt ||
  fail "forced shrink: $(cat out.txt)"
vinspect img --json --no-map >shrunk.json
[[ $(json_get shrunk.json '[r["command"] for r in j["fault_rules"]]') == "['latency 1ms 2000-2047']" ]] ||
  fail "fault rules after the shrink: $(json_get shrunk.json 'j["fault_rules"]')"
grep -qx "latency 1ms 2000-2047" img.faults || fail "the rules file was not saved cut: $(cat img.faults)"
[[ $(json_get shrunk.json 'j["bad_ranges"]') == "[{'first': 10, 'count': 2}]" ]] || fail "BAD after the shrink"
vinspect img --check >/dev/null || fail "check after the shrink"
# Grown back, the dropped blocks read zeros.
vformat --resize img 16M >/dev/null
vexport img back.raw --bad zero >/dev/null 2>&1
python3 - <<'PY' || fail "grown back: the dropped blocks do not read zeros, or the rest changed"
raw = bytearray(open("raw.img", "rb").read())
raw[10 * 4096:12 * 4096] = bytes(2 * 4096)
raw[2048 * 4096:] = bytes(len(raw) - 2048 * 4096)
assert open("back.raw", "rb").read() == raw
PY

# Sizes the image cannot take, and command lines that make no sense.
for bad in 0 12345 2P x1G; do
  expect_error img vformat --resize img "$bad"
  [[ $LAST_RC -eq 2 ]] || fail "--resize img $bad: exit $LAST_RC"
done
grep -q "exceeds the format's 1 PiB limit" <(vformat --resize img 2P 2>&1) || fail "2P message"
grep -q "not a whole number of 4096-byte blocks (try 12288 or 16384)" <(vformat --resize img 12345 2>&1) ||
  fail "12345 message"
expect_error img vformat --resize img
[[ $LAST_RC -eq 2 ]] || fail "--resize without NEWSIZE: exit $LAST_RC"
expect_error "'64M'" vformat img 64M --size 8M
[[ $LAST_RC -eq 2 ]] || fail "NEWSIZE without --resize: exit $LAST_RC"
rc=0
vformat --resize img 64M --level 9 >out.txt 2>err.txt || rc=$?
[[ $rc -eq 2 ]] || fail "--resize with --level: exit $rc"
expect_error nosuch vformat --resize nosuch 64M
[[ $LAST_RC -eq 1 ]] || fail "--resize of a missing file: exit $LAST_RC"
mkdir dir
expect_error dir vformat --resize dir 64M
echo "not an image" >junk
expect_error junk vformat --resize junk 64M
echo PASS
