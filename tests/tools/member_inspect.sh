# vblk-inspect on a member set: --members as text and JSON (every key
# documented) after vblk-inject fails a member, --svg to a file and to
# stdout, --member N --offset X dumps a member file's bytes, wrong members
# refused; --check finds a garbled parity chunk and --repair rewrites it.
# Run as: bash member_inspect.sh VBLK_FORMAT VBLK_INSPECT VBLK_EXPORT EXPORT_AID VBLKFS VBLK_INJECT MANDIR JSON_CHECK
VBLK_INJECT=$(realpath "$6")  # before lib.sh changes directory
MAN=$(realpath "$7")
JSON_CHECK=$(realpath "$8")
source "$(dirname "${BASH_SOURCE[0]}")/export_lib.sh"
vinject() { timeout "$TOOL_TIMEOUT" "$VBLK_INJECT" "$@"; }
jcheck() { python3 "$JSON_CHECK" "$MAN/vblk-inspect.1" vblk-inspect/1 "$@" || fail "$1 (above)"; }

use_mountpoint

# 4 data in groups of 2 + 2 local + 1 global parity + 1 spare: members 0-3
# data, 4-5 local parity, 6 global parity, 7 spare.
vformat img --size 64M --data-members 4 --group-size 2 --global-parity 1 --spares 1 --level 0 >/dev/null
head -c $((4 << 20)) /dev/urandom >data.bin
timeout 30 "$VBLKFS" mount img mnt
dd if=data.bin of=mnt/disk bs=1M conv=notrunc,fsync status=none
timeout 60 "$VBLKFS" umount mnt

# Live: the daemon's view of its members.
timeout 30 "$VBLKFS" mount img mnt 2>/dev/null
rc=0
vinspect mnt --members --json >live.json 2>live.err || rc=$?
expect_error mnt vinspect mnt --member 0 --offset 0
timeout 60 "$VBLKFS" umount mnt
[[ $rc -eq 0 ]] || fail "live --members: $(cat live.err)"
jcheck live.json 'j["image"] == "mnt"' 'j["verdict"]["recoverable"] is True' 'len(j["members"]) == 8' \
  'all(m["state"] in ("online", "spare") for m in j["members"])' 'j["members"][0]["first_bytes"] != "00000000"'

vinspect img --members >healthy.txt || fail "--members: $(cat healthy.txt)"
grep -q '^verdict: recoverable; 0 members failed' healthy.txt || fail "healthy verdict: $(cat healthy.txt)"
grep -Eq '^ +7 +0 +0 +spare +- +spare ' healthy.txt || fail "spare line: $(cat healthy.txt)"

vinject img member 2 fail >/dev/null
vinspect img --members >members.txt
grep -Eq '^ +2 +0 +0 +data +1 +failed ' members.txt || fail "member 2 not shown failed: $(cat members.txt)"
grep -Eq '^ +0 +0 +0 +data +0 +online ' members.txt || fail "member 0 not online: $(cat members.txt)"
grep -q '^verdict: recoverable; 1 member failed' members.txt || fail "verdict: $(cat members.txt)"
grep -q 'group 1: 1 missing, rebuilt from its local parity; can take 1 more' members.txt ||
  fail "degraded group: $(cat members.txt)"
vinspect img --members --json >members.json
jcheck members.json 'j["image"] == "img"' 'j["members"][2]["state"] == "failed"' \
  'j["members"][0]["state"] == "online"' 'j["members"][7]["state"] == "spare"' \
  'j["members"][6]["role"] == "global-parity"' 'j["members"][0]["bytes"] > 196608' \
  'j["members"][0]["first_bytes"] != "00000000"' 'j["verdict"]["recoverable"] is True' \
  'j["verdict"]["failed_members"] == 1' 'j["verdict"]["words"][0]["degraded_groups"] == [1]' \
  'j["verdict"]["more_failures"] == 1' 'j["layout"]["data_members"] == 4'

vinspect img --members --svg members.svg >svg.txt
grep -q '^wrote members.svg: 8 members' svg.txt || fail "--svg: $(cat svg.txt)"
python3 - members.svg <<'PY' || fail "the SVG does not show the members' states"
import sys, xml.etree.ElementTree as ET
ns = {"s": "http://www.w3.org/2000/svg"}
g = {e.get("data-index"): e for e in ET.parse(sys.argv[1]).getroot().iter("{http://www.w3.org/2000/svg}g")
     if e.get("class") == "member"}
assert len(g) == 8, len(g)
assert g["2"].get("data-state") == "failed", g["2"].attrib
assert g["0"].get("data-state") == "online" and g["7"].get("data-state") == "spare"
PY
vinspect img --members --svg - >stdout.svg
python3 -c 'import sys, xml.etree.ElementTree as ET; ET.parse(sys.argv[1])' stdout.svg || fail "--svg - is not SVG"

# A member file's bytes: the header's magic at 0, JSON the same.
vinspect img --member 0 --offset 0 --length 16 >dump.txt
grep -q '^00000000: 5642 4c4b 4d45 4d42 .* VBLKMEMB' dump.txt || fail "--member dump: $(cat dump.txt)"
vinspect img --member 6 --offset 196608 --length 8 --json >dump.json
jcheck dump.json 'j["member"] == 6' 'j["offset"] == 196608' 'j["length"] == 8' 'len(j["hex"]) == 16' \
  'j["file"].endswith("m006")'
expect_error img vinspect img --member 99 --offset 0
rc=0
vinspect img --member 1 >/dev/null 2>&1 || rc=$?
[[ $rc -eq 2 ]] || fail "--member without --offset: exit $rc"
vformat plain.img --size 8M >/dev/null
expect_error plain.img vinspect plain.img --members

# Parity: the global parity's first chunk (stripe 0) garbled.
vinject img member 2 restore >/dev/null
vinspect img --check >check.txt || fail "check before garbling: $(cat check.txt)"
python3 - <<'PY'
with open("img.members/m006", "r+b") as f:
    f.seek(196608 + 100)
    b = f.read(16)
    f.seek(196608 + 100)
    f.write(bytes(x ^ 0xff for x in b))
PY
rc=0
vinspect img --check >check.txt 2>err.txt || rc=$?
[[ $rc -eq 1 ]] || fail "--check on garbled parity: exit $rc"
grep -q '^member 6 offset 196608: stripe 0 (segment 0 row 0): global parity differs from the data' check.txt ||
  fail "parity problem not reported: $(cat check.txt)"
vinspect img --check --json >check.json 2>/dev/null || true
jcheck check.json 'j["clean"] is False' 'any("member 6" in p["what"] for p in j["problems"])'
vinspect img --check --repair >repair.txt || fail "--repair: $(cat repair.txt)"
grep -q '^repair: member 6 offset 196608: .*rewritten from the data' repair.txt || fail "repair: $(cat repair.txt)"
grep -q '^check: clean' repair.txt || fail "not clean after repair: $(cat repair.txt)"
vexport img out.raw >/dev/null
cmp -n $((4 << 20)) out.raw data.bin || fail "data differs after the parity repair"
echo PASS
