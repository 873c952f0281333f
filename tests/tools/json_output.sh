# --json of vblk-format (create, import from a file and from a pipe,
# --resize), every vblk-inject action, vblk-inspect (image, --block,
# --check, --repair, --svg) and vblk-export, offline: each prints one
# object that starts with its "schema", holds what was done (the sizes
# given, the blocks named, the counts the image then shows), and has every
# key documented in its man page's JSON OUTPUT section (json_check.py). A
# failure with --json prints no object: one line on stderr, nothing on
# stdout. The live documents are tested in tests/mount/json_live.sh.
# Run as: bash json_output.sh VBLK_FORMAT VBLK_INSPECT VBLK_EXPORT EXPORT_AID VBLKFS VBLK_INJECT MANDIR JSON_CHECK
VBLK_INJECT=$(realpath "$6")  # before lib.sh changes directory
MAN=$(realpath "$7")
JSON_CHECK=$(realpath "$8")
source "$(dirname "${BASH_SOURCE[0]}")/export_lib.sh"
vinject() { timeout "$TOOL_TIMEOUT" "$VBLK_INJECT" "$@"; }

# jcheck PAGE SCHEMA FILE [EXPR...]: FILE is one SCHEMA object documented in
# man/PAGE, and every EXPR (Python, the object bound to j) holds.
jcheck() {
  local page=$1
  shift
  python3 "$JSON_CHECK" "$MAN/$page" "$@" || fail "$2 does not hold what was done (above)"
}

# json_fails FILE COMMAND...: COMMAND (run with --json) fails with one line
# naming FILE on stderr and prints nothing on stdout.
json_fails() {
  expect_error "$@"
  [[ ! -s out.txt ]] || fail "'${*:2}' failed but printed on stdout: $(cat out.txt)"
}

BS=4096
MIB=$((1 << 20))
# 1 MiB raw disk: blocks 0-9 hold data, 100-109 written zeros, the rest a hole.
python3 - <<'PY'
import random
r = random.Random(3)
with open("raw.img", "wb") as f:
    f.truncate(1 << 20)
    f.write(r.randbytes(10 * 4096))
    f.seek(100 * 4096)
    f.write(bytes(10 * 4096))
PY

# --- vblk-format ---------------------------------------------------------------
vformat new.img --size 8M --block-size 8K --level 0 --label tag --json >f.json || fail "vblk-format --json"
vinspect new.img --json --no-map >new.json
jcheck vblk-format.1 vblk-format/1 f.json 'j["image"] == "new.img"' "j['capacity_bytes'] == $((8 * MIB))" \
  'j["block_size"] == 8192' 'j["block_count"] == 1024' 'j["compression_level"] == 0' 'j["label"] == "tag"' \
  'j["capacity_human"] == "8.0 MiB"' 'j["import"] is None' 'j["seconds"] >= 0' \
  "j['uuid'] == '$(json_get new.json 'j["uuid"]')'"
vformat short.img --size 1M -j >short.json || fail "vblk-format -j"
jcheck vblk-format.1 vblk-format/1 short.json 'j["block_size"] == 4096' "j['capacity_bytes'] == $MIB"

# --quiet leaves out the text, not the object --json asks for.
vformat quiet.img --size 1M --quiet --json >quiet.json || fail "vblk-format --quiet --json"
jcheck vblk-format.1 vblk-format/1 quiet.json 'j["image"] == "quiet.img"'
vformat --resize quiet.img 2M --quiet --json >quiet_resize.json || fail "vblk-format --resize --quiet --json"
jcheck vblk-format.1 vblk-format/1 quiet_resize.json "j['capacity_bytes'] == $((2 * MIB))"

vformat imp.img --from raw.img --json >imp.json || fail "vblk-format --from --json"
vinspect imp.img --json --no-map >imp_inspect.json
jcheck vblk-format.1 vblk-format/1 imp.json 'j["import"]["from"] == "raw.img"' 'j["import"]["stored_blocks"] == 10' \
  'j["import"]["zero_blocks"] == 246' "j['capacity_bytes'] == $MIB" \
  "j['import']['stored_blocks'] == $(json_get imp_inspect.json 'j["blocks"]["used"]')"
vformat pipe.img --from - --size 1M --json <raw.img >pipe.json || fail "vblk-format --from - --json"
jcheck vblk-format.1 vblk-format/1 pipe.json 'j["import"]["from"] == "-"' 'j["import"]["stored_blocks"] == 10'

# Resizing: grow, then shrink over USED blocks, BAD blocks and a rule with --force.
vformat --resize imp.img 2M --json >grow.json || fail "vblk-format --resize --json"
jcheck vblk-format.1 vblk-format/1 grow.json 'j["target"] == "imp.img"' 'j["live"] is False' \
  'j["image"] == "imp.img"' "j['old_capacity_bytes'] == $MIB" "j['capacity_bytes'] == $((2 * MIB))" \
  'j["old_block_count"] == 256' 'j["block_count"] == 512' 'j["discarded_used_blocks"] == 0' \
  'j["first_discarded_block"] is None' 'j["message"].startswith("resized from 1.0 MiB")'
vinject imp.img bad --block 300-301 >/dev/null
vinject imp.img latency --ms 1 --block 200-399 >/dev/null
vformat --resize imp.img 20K --force --json >shrink.json || fail "vblk-format --resize --force --json"
jcheck vblk-format.1 vblk-format/1 shrink.json 'j["block_count"] == 5' 'j["discarded_used_blocks"] == 5' \
  'j["first_discarded_block"] == 5' 'j["dropped_bad_blocks"] == 2' 'j["fault_rules_cut"] == 1'
vformat --resize imp.img 20K --json >same.json || fail "vblk-format --resize to the same size"
jcheck vblk-format.1 vblk-format/1 same.json 'j["old_capacity_bytes"] == j["capacity_bytes"] == 20480' \
  'j["message"].endswith("nothing to do")'
json_fails new.img vformat new.img --size 8M --json
json_fails imp.img vformat --resize imp.img 3K --json
[[ $LAST_RC -eq 2 ]] || fail "--resize to a size that is no whole number of blocks: exit $LAST_RC"
echo "ok: vblk-format --json: create, import (file, pipe), resize"

# --- vblk-inject, every action ---------------------------------------------------
cp pipe.img img
vinject img bad --block 5-9 --json >bad.json || fail "vblk-inject bad --json"
jcheck vblk-inject.1 vblk-inject/1 bad.json 'j["target"] == "img"' 'j["live"] is False' 'j["image"] == "img"' \
  'j["action"] == "bad"' 'j["command"] == "bad 5-9 fail"' 'j["blocks"] == {"first": 5, "count": 5}' \
  'j["on_write"] == "fail"' 'j["state_after"] == "BAD"' 'j["message"].startswith("injecting BAD into blocks 5-9 of img")'
vinject img bad --offset 40K --length 8K --on-write remap -j >offset.json || fail "vblk-inject bad --offset -j"
jcheck vblk-inject.1 vblk-inject/1 offset.json 'j["blocks"] == {"first": 10, "count": 2}' 'j["on_write"] == "remap"'
vinject img +12-13 --json >nullblk.json || fail "vblk-inject +12-13 --json"
jcheck vblk-inject.1 vblk-inject/1 nullblk.json 'j["action"] == "bad"' 'j["blocks"] == {"first": 12, "count": 2}'
vinspect img --json --no-map >after_bad.json
[[ $(json_get after_bad.json 'j["blocks"]["bad"]') == 9 ]] || fail "BAD blocks after 5+2+2: $(json_get after_bad.json 'j["blocks"]')"
vinject img flaky --block 20 --fail-writes 2 --json >flaky.json || fail "vblk-inject flaky --json"
jcheck vblk-inject.1 vblk-inject/1 flaky.json 'j["action"] == "flaky"' 'j["fail_writes"] == 2' \
  'j["blocks"] == {"first": 20, "count": 1}'
vinject img corrupt --block 0 --json >corrupt.json || fail "vblk-inject corrupt --json"
vinspect img --block 0 --json >b0.json 2>/dev/null || true
jcheck vblk-inject.1 vblk-inject/1 corrupt.json 'j["action"] == "corrupt"' 'j["blocks"] == {"first": 0, "count": 1}' \
  "j['record_offset'] == $(json_get b0.json 'j["record_offset"]')"
vinject img latency --ms 1.5 --json >latency.json || fail "vblk-inject latency --json"
jcheck vblk-inject.1 vblk-inject/1 latency.json 'j["latency_us"] == 1500' 'j["blocks"] == {"first": 0, "count": 256}' \
  'j["command"] == "latency 1500us"'
vinject img latency --ms 2 --block 30-39 --json >latency2.json || fail "vblk-inject latency --block --json"
jcheck vblk-inject.1 vblk-inject/1 latency2.json 'j["blocks"] == {"first": 30, "count": 10}'
vinject img list --json >list.json || fail "vblk-inject list --json"
jcheck vblk-inject.1 vblk-inject/1 list.json 'j["bad_blocks"] == 9' 'j["bad_range_count"] == 1' \
  'j["bad_ranges"] == [{"first": 5, "count": 9}]' 'len(j["rules"]) == 4' \
  '[r["remaining"] for r in j["rules"] if r["kind"] == "flaky-write"] == [2]'
vinject img clear --block 0-9 --json >clear.json || fail "vblk-inject clear --json"
# Of the rules (remap 10-11, flaky 20, latency on every block, latency
# 30-39) only the whole-disk latency reaches into 0-9: it is cut back.
jcheck vblk-inject.1 vblk-inject/1 clear.json 'j["action"] == "clear"' 'j["blocks"] == {"first": 0, "count": 10}' \
  'j["bad_blocks_cleared"] == 5' 'j["state_after"] == "TRIMMED"' 'j["rules_removed"] == 1'
vinspect img --json --no-map >after_clear.json
[[ $(json_get after_clear.json 'j["blocks"]["bad"]') == 4 ]] || fail "BAD blocks after clear 0-9"
vinject img -12-13 --json >nullclear.json || fail "vblk-inject -12-13 --json"
# The whole-disk latency rule, now 10-255, is cut in two around 12-13.
jcheck vblk-inject.1 vblk-inject/1 nullclear.json 'j["command"] == "clear 12-13"' 'j["bad_blocks_cleared"] == 2' \
  'j["rules_removed"] == 1'
vinject img clear --all --json >all.json || fail "vblk-inject clear --all --json"
jcheck vblk-inject.1 vblk-inject/1 all.json 'j["command"] == "clear all"' 'j["blocks"] == {"first": 0, "count": 256}' \
  'j["bad_blocks_cleared"] == 2' 'j["rules_removed"] == 5'
json_fails img vinject img powercut --json
json_fails img vinject img bad --block 9999 --json
json_fails img vinject img corrupt --block 200 --json
echo "ok: vblk-inject --json: bad, +N-M, flaky, corrupt, latency, list, clear, -N-M; failures print no object"

# --- vblk-inspect ---------------------------------------------------------------------
# Blocks 5-13, BAD until cleared, are TRIMMED.
vinspect img --json >inspect.json || fail "vblk-inspect --json"
jcheck vblk-inspect.1 vblk-inspect/1 inspect.json 'j["image"] == "img"' '"resizable" in j["features"]' \
  'j["blocks"]["used"] == 5' 'j["blocks"]["trimmed"] == 9' 'j["map"]["cells"] == 256' 'j["recompression"]["pending_bytes"] == 0'
vinspect img -j --no-map >nomap.json || fail "vblk-inspect -j --no-map"
jcheck vblk-inspect.1 vblk-inspect/1 nomap.json '"map" not in j'
vinspect img --block 3 --json >block.json || fail "vblk-inspect --block --json"
jcheck vblk-inspect.1 vblk-inspect/1 block.json 'j["block"] == 3' 'j["state"] == "USED"' 'j["provisional"] is False' \
  'len(j["data_hex"]) == 2 * 4096'
vinspect short.img --check --json >clean.json || fail "vblk-inspect --check --json on a clean image"
jcheck vblk-inspect.1 vblk-inspect/1 clean.json 'j["clean"] is True' 'j["problems"] == []'
# Damage found (blocks 0 and 1 corrupted): the object, then the failure (exit 1).
vinject img corrupt --block 1 >/dev/null
rc=0
vinspect img --check --json >damage.json 2>err.txt || rc=$?
[[ $rc -eq 1 && $(wc -l <err.txt) -eq 1 ]] || fail "--check --json on damage: exit $rc, stderr: $(cat err.txt)"
jcheck vblk-inspect.1 vblk-inspect/1 damage.json 'j["clean"] is False' 'sorted(p["block"] for p in j["problems"]) == [0, 1]'
vinspect img --check --repair --json >repair.json || fail "vblk-inspect --check --repair --json"
jcheck vblk-inspect.1 vblk-inspect/1 repair.json 'j["clean"] is True' 'sorted(j["bad_blocks"]) == [0, 1]' 'len(j["actions"]) >= 1'
vinspect img --svg map.svg --json >svg.json || fail "vblk-inspect --svg --json"
jcheck vblk-inspect.1 vblk-inspect/1 svg.json 'j["svg"] == "map.svg"' 'j["cells"] == 256' 'j["blocks_per_cell"] == 1'
json_fails img vinspect img --block 999 --json
echo "ok: vblk-inspect --json: image, --block, --check (clean, damaged), --repair, --svg"

# --- vblk-export -----------------------------------------------------------------------
vexport pipe.img out.raw --json >export.json || fail "vblk-export --json"
jcheck vblk-export.1 vblk-export/1 export.json 'j["image"] == "pipe.img"' 'j["output"] == "out.raw"' \
  "j['capacity_bytes'] == $MIB" "j['bytes_written'] == 10 * $BS" 'j["bytes_written"] + j["holes_bytes"] == j["capacity_bytes"]' \
  'j["blocks"]["used"] == 10' 'j["sparse"] is True' 'j["unreadable_blocks"] == 0'
cmp -n $MIB out.raw raw.img || fail "the export differs from the raw disk"
vexport pipe.img - -j >stdout.raw 2>stderr.json || fail "vblk-export - -j"
jcheck vblk-export.1 vblk-export/1 stderr.json 'j["output"] == "-"' "j['capacity_bytes'] == $MIB"
aid pipe.img bad 3 1
rc=0
vexport pipe.img salvaged.raw --salvage --json >salvage.json 2>err.txt || rc=$?
[[ $rc -eq 3 ]] || fail "--salvage --json: exit $rc, expected 3: $(cat err.txt)"
jcheck vblk-export.1 vblk-export/1 salvage.json 'j["unreadable_blocks"] == 1' 'j["bad_blocks"] == 1'
json_fails out.raw vexport pipe.img out.raw --json
echo "ok: vblk-export --json: to a file, to stdout (the object on stderr), --salvage (exit 3)"
