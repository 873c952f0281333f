# The rules file (IMAGE.faults) belongs to its image: it names the image's
# UUID, a rules file of another image is not applied (offline or mounted)
# and a warning names both, vblk-format --force starts without rules, and
# vblk-inspect IMAGE shows the rules in force (text and --json).
# Run as: bash rules_owner.sh VBLK_FORMAT VBLK_INSPECT VBLK_EXPORT EXPORT_AID VBLKFS VBLK_INJECT
VBLK_INJECT=$(realpath "$6")  # before lib.sh changes directory
source "$(dirname "${BASH_SOURCE[0]}")/export_lib.sh"
vinject() { timeout "$TOOL_TIMEOUT" "$VBLK_INJECT" "$@"; }

use_mountpoint

uuid_of() { vinspect --json --no-map "$1" >u.json && json_get u.json 'j["uuid"]'; }
vformat a --size 1M >/dev/null
vformat b --size 1M >/dev/null
uuid_a=$(uuid_of a)
uuid_b=$(uuid_of b)

# The rules file names its image; vblk-inspect shows the rules in force.
vinject a flaky --block 5 --fail-writes 9 >/dev/null
grep -qx "uuid $uuid_a" a.faults || fail "a.faults does not name a's uuid: $(cat a.faults)"
vinspect --no-map a >a.txt
grep -qx "fault rules:  flaky 5 9 (from $WORK/a.faults)" a.txt || fail "inspect a: $(grep 'fault rules' a.txt)"
vinspect --json --no-map a >a.json
[[ $(json_get a.json '[r["command"] for r in j["fault_rules"]]') == "['flaky 5 9']" ]] || fail "json rules: $(cat a.json)"
[[ $(json_get a.json 'j["fault_rules"][0]["remaining"]') == 9 ]] || fail "json remaining: $(cat a.json)"
[[ $(json_get a.json 'j["fault_rules_file"]') == "{'path': '$WORK/a.faults', 'uuid': '$uuid_a', 'applied': True, 'problem': None}" ]] ||
  fail "json rules file: $(json_get a.json 'j["fault_rules_file"]')"

# a's rules file beside b is not applied, and says why.
cp a.faults b.faults
warning="$WORK/b.faults: fault rules of image $uuid_a, not of $WORK/b (uuid $uuid_b): not applied"
vinspect --no-map b >b.txt
grep -qxF "fault rules:  none ($warning)" b.txt || fail "inspect b: $(grep 'fault rules' b.txt)"
vinspect --json --no-map b >b.json
[[ $(json_get b.json 'j["fault_rules"]') == "[]" ]] || fail "b json rules: $(cat b.json)"
[[ $(json_get b.json 'j["fault_rules_file"]["applied"]') == False ]] || fail "b json applied"
[[ $(json_get b.json 'j["fault_rules_file"]["problem"]') == "$warning" ]] || fail "b json problem: $(cat b.json)"
vinject b list --json >l.json
[[ $(json_get l.json 'j["rules"]') == "[]" ]] || fail "vblk-inject list b shows a's rules: $(cat l.json)"

# Mounted: a's rules make block 5 fail writes, b's copy of them does not,
# and the daemon logs the warning.
write_block5() {
  python3 -c '
import os, sys
fd = os.open("mnt/disk", os.O_RDWR)
try:
    os.pwrite(fd, b"x" * 4096, 5 * 4096)
    print("ok")
except OSError as e:
    print(e.strerror)' 
}
timeout 30 "$VBLKFS" mount a mnt
[[ $(write_block5) == "Input/output error" ]] || fail "a's own flaky rule not applied at mount"
timeout 60 "$VBLKFS" umount mnt
timeout 30 "$VBLKFS" mount --log-file b.log b mnt
[[ $(write_block5) == ok ]] || fail "a's rules were applied to b"
timeout 60 "$VBLKFS" umount mnt
grep -qF "$warning" b.log || fail "the daemon did not log the warning: $(cat b.log)"

# vblk-format --force starts without rules.
vformat a --size 1M --force >/dev/null
[[ ! -e a.faults ]] || fail "vblk-format --force kept a.faults: $(cat a.faults)"
vinspect --no-map a | grep -qx "fault rules:  none" || fail "new a has rules: $(vinspect --no-map a | grep 'fault rules')"

# A rules file without a uuid line (older vblk) is applied, and gets the
# line when next saved.
printf '# vblk fault rules for a\nflaky 5 2\n' >a.faults
vinspect --no-map a >a.txt
grep -qx "fault rules:  flaky 5 2 (from $WORK/a.faults, which names no image uuid)" a.txt ||
  fail "old rules file: $(grep 'fault rules' a.txt)"
vinject a latency --ms 1 --block 0 >/dev/null
grep -qx "uuid $(uuid_of a)" a.faults && grep -qx "flaky 5 2" a.faults || fail "old file not stamped: $(cat a.faults)"

# A broken rules file is shown, and inspect still reports the image.
printf 'uuid %s\nbad 3\n' "$(uuid_of a)" >a.faults
vinspect --no-map a >a.txt || fail "inspect failed over a broken rules file"
grep -q "^fault rules:  none ($WORK/a.faults: line 2: .*vblkfs mount refuses the image until it is fixed or removed)" a.txt ||
  fail "broken rules file: $(grep 'fault rules' a.txt)"
echo PASS
