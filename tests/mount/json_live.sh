# --json on a running vblkfs disk: vblk-inspect MOUNTPOINT (the daemon's
# statistics, powered_off included, and --check as a scrub), every vblk-inject action through the
# daemon (its user.vblk.control.json reply), vblk-format --resize
# MOUNTPOINT and vblkfs umount. Each object starts with its "schema", holds
# what was done (the blocks named, what the daemon counted, the mountpoint
# unmounted) and has every key documented in its man page's JSON OUTPUT
# section (tests/tools/json_check.py). A failure prints no object.
# Run as: bash json_live.sh VBLKFS VBLK_FORMAT VBLK_INSPECT VBLK_INJECT MANDIR JSON_CHECK
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
MAN=${EXTRA_ARGS[1]}
JSON_CHECK=${EXTRA_ARGS[2]}

# jcheck PAGE SCHEMA FILE [EXPR...]: see tests/tools/json_output.sh.
jcheck() {
  local page=$1
  shift
  python3 "$JSON_CHECK" "$MAN/$page" "$@" || fail "$2 does not hold what was done (above)"
}
# json_fails COMMAND...: fails with exit 1, one line on stderr, nothing on stdout.
json_fails() {
  local rc=0
  "$@" >out.txt 2>err.txt || rc=$?
  [[ $rc -eq 1 && $(wc -l <err.txt) -eq 1 && ! -s out.txt ]] ||
    fail "'$*': exit $rc, stdout '$(cat out.txt)', stderr '$(cat err.txt)'"
  echo "ok (exit 1): $* -> $(cat err.txt)"
}

IMG=$WORK/img
MNT=$WORK/m
MIB=$((1 << 20))
vformat "$IMG" --size 64M
vmount "$IMG" "$MNT"
# 64 blocks of data, made durable; then 4 more blocks, not flushed.
run 60 python3 - "$MNT/disk" <<'PY' || fail "writing the disk"
import os, random, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
os.pwrite(fd, random.Random(5).randbytes(64 * 4096), 0)
os.fsync(fd)
os.close(fd)
PY

vinspect "$MNT" --json >stats.json || fail "vblk-inspect MOUNTPOINT --json"
jcheck vblk-inspect.1 vblk-inspect/1 stats.json 'j["live"] is True' 'j["server"] == "vblkfs"' \
  "j['mountpoint'] == '$MNT'" "j['image'] == '$IMG'" 'j["powered_off"] is False' 'j["read_only"] is False' \
  'j["blocks"]["used"] == 64' 'j["ops"]["writes"] >= 1' 'j["ops"]["flushes"] >= 1' "j['capacity_bytes'] == 64 * $MIB" \
  'j["map"]["cells"] >= 1' 'j["scrub"]["state"] == "none"'
vinspect "$MNT" --check --json >scrub.json || fail "vblk-inspect MOUNTPOINT --check --json"
jcheck vblk-inspect.1 vblk-inspect/1 scrub.json 'j["clean"] is True' 'j["blocks_checked"] == 64'
vinspect "$MNT" --json --no-map >scrubbed.json || fail "vblk-inspect after the scrub"
jcheck vblk-inspect.1 vblk-inspect/1 scrubbed.json 'j["scrub"]["state"] == "done"' 'j["scrub"]["blocks_checked"] == 64' \
  'j["scrub"]["finished_unix"] >= j["scrub"]["started_unix"] > 0'

# --- every action, live --------------------------------------------------------------
vinject "$MNT" bad --block 5-9 --json >bad.json || fail "live bad --json"
jcheck vblk-inject.1 vblk-inject/1 bad.json "j['target'] == '$MNT'" 'j["live"] is True' "j['image'] == '$IMG'" \
  'j["action"] == "bad"' 'j["blocks"] == {"first": 5, "count": 5}' 'j["state_after"] == "BAD"' \
  "j['message'] == 'injecting BAD into blocks 5-9 of $MNT (reads fail; writes fail)'"
rc=0
err=$(run 30 dd if="$MNT/disk" of=/dev/null bs=4096 skip=7 count=1 iflag=direct 2>&1) || rc=$?
[[ $rc -ne 0 && $err == *"Input/output error"* ]] || fail "a read of block 7 after the live bad: $err"
vinject "$MNT/disk" flaky --block 20 --fail-writes 1 -j >flaky.json || fail "live flaky -j (the disk file)"
jcheck vblk-inject.1 vblk-inject/1 flaky.json "j['target'] == '$MNT/disk'" 'j["fail_writes"] == 1' \
  'j["blocks"] == {"first": 20, "count": 1}'
vinject "$MNT" corrupt --block 30 --json >corrupt.json || fail "live corrupt --json"
jcheck vblk-inject.1 vblk-inject/1 corrupt.json 'j["action"] == "corrupt"' 'j["record_offset"] > 0'
vinject "$MNT" latency --ms 0.5 --json >latency.json || fail "live latency --json"
jcheck vblk-inject.1 vblk-inject/1 latency.json 'j["latency_us"] == 500' 'j["blocks"] == {"first": 0, "count": 16384}'
vinject "$MNT" list --json >list.json || fail "live list --json"
jcheck vblk-inject.1 vblk-inject/1 list.json 'j["bad_blocks"] == 5' 'j["bad_ranges"] == [{"first": 5, "count": 5}]' \
  'sorted(r["kind"] for r in j["rules"]) == ["flaky-write", "latency"]'
vinspect "$MNT" --json --no-map >faults.json || fail "vblk-inspect after the injections"
jcheck vblk-inspect.1 vblk-inspect/1 faults.json 'j["blocks"]["bad"] == 5' 'j["faults"]["bad_blocks"] == 5' \
  'len(j["faults"]["rules"]) == 2' '"map" not in j'
vinject "$MNT" clear --all --json >clear.json || fail "live clear --all --json"
jcheck vblk-inject.1 vblk-inject/1 clear.json 'j["command"] == "clear all"' 'j["bad_blocks_cleared"] == 5' \
  'j["state_after"] == "TRIMMED"' 'j["rules_removed"] == 2'
json_fails "$VBLK_INJECT" "$MNT" bad --block 99999 --json
json_fails "$VBLK_INJECT" "$MNT" corrupt --block 9000 --json
echo "ok: live bad, flaky, corrupt, latency, list, clear with --json"

# --- resize, live ----------------------------------------------------------------------
vformat --resize "$MNT" 128M --json >resize.json || fail "vblk-format --resize MOUNTPOINT --json"
jcheck vblk-format.1 vblk-format/1 resize.json "j['target'] == '$MNT'" 'j["live"] is True' "j['image'] == '$IMG'" \
  "j['old_capacity_bytes'] == 64 * $MIB" "j['capacity_bytes'] == 128 * $MIB" 'j["block_count"] == 32768' \
  'j["message"].startswith("resized from 64.0 MiB")' 'j["seconds"] >= 0'
[[ $(stat -c %s "$MNT/disk") == $((128 * MIB)) ]] || fail "the disk file after the live resize: $(stat -c %s "$MNT/disk")"
echo "ok: vblk-format --resize MOUNTPOINT --json"

# --- powercut: writes not flushed are dropped; powered_off before and after ----------------
run 60 python3 - "$MNT/disk" <<'PY' || fail "unflushed writes"
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
os.pwrite(fd, b"x" * 4 * 4096, 100 * 4096)
os.close(fd)
PY
vinject "$MNT" powercut --continue --json >continue.json || fail "powercut --continue --json"
jcheck vblk-inject.1 vblk-inject/1 continue.json 'j["action"] == "powercut"' 'j["command"] == "powercut continue"' \
  '"blocks" not in j' 'j["already_powered_off"] is False' 'j["dropped_writes"] >= 1' 'j["dropped_blocks"] == 4' \
  'j["powered_off"] is False'
vinject "$MNT" powercut --json >cut.json || fail "powercut --json"
jcheck vblk-inject.1 vblk-inject/1 cut.json 'j["already_powered_off"] is False' 'j["dropped_writes"] == 0' \
  'j["powered_off"] is True'
vinspect "$MNT" --json --no-map >off.json || fail "vblk-inspect while powered off"
jcheck vblk-inspect.1 vblk-inspect/1 off.json 'j["powered_off"] is True'
vinject "$MNT" powercut --json >again.json || fail "a second powercut --json"
jcheck vblk-inject.1 vblk-inject/1 again.json 'j["already_powered_off"] is True' 'j["powered_off"] is True'
echo "ok: powercut --json: dropped writes, powered_off before and after"

# --- vblkfs umount --json ----------------------------------------------------------------
run 90 "$VBLKFS" umount "$MNT" --json >umount.json || fail "vblkfs umount --json"
jcheck vblkfs.1 vblkfs-umount/1 umount.json "j['mountpoint'] == '$MNT'" "j['image'] == '$IMG'" \
  'j["fusermount"] is False' 'j["seconds"] >= 0'
is_mounted "$MNT" && fail "still mounted after vblkfs umount --json"
json_fails "$VBLKFS" umount "$MNT" --json
echo "ok: vblkfs umount --json names the mountpoint and the image; a second one fails with no object"
