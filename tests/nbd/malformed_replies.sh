# The tools given malformed JSON by a live server: a stand-in for nbdkit
# holds the image's lock (so the tools trust its control socket) and answers
# user.vblk.stats, .map and .faults with truncated documents, values of other
# types, numbers out of range, nesting far too deep, a NUL byte. Every tool
# (vblk-inspect --json / text / --check / --svg, vblk-inject list [--json]
# and a command that needs the block size) ends with exit 0 or 1, at most one
# line on stderr, and never a crash or an escaped exception; the broken
# documents are refused naming the attribute and the cause: a value of
# another type or a missing key names the key (live/live_stats.h), while
# the keys added since the first daemons may be missing. vblk-inject
# --json refuses a server without user.vblk.control.json (an older one)
# before sending anything, and a malformed reply there in one line.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

IMG=$WORK/img
vformat "$IMG" --size 1M
mkdir replies

# The stand-in: answers "get user.vblk.NAME" with replies/NAME (any map.N
# with replies/map; ENODATA without the file), and any "set" with the reply
# to a scrub command; the values set are appended to ./sets.
python3 - "$IMG" "$IMG.ctl" "$WORK/replies" "$WORK/fake.pid" <<'EOF_PY' &
import fcntl, os, socket, struct, sys
img, ctl, replies, pidfile = sys.argv[1:5]
fd = os.open(img, os.O_RDONLY)
# The image lock (vblk(5), LOCKING): an OFD lock on byte 0, shared.
fcntl.fcntl(fd, fcntl.F_OFD_SETLK, struct.pack("hhqqi4x", fcntl.F_RDLCK, os.SEEK_SET, 0, 1, 0))
os.umask(0o077)
s = socket.socket(socket.AF_UNIX)
s.bind(ctl)
s.listen(8)
open(pidfile, "w").write(str(os.getpid()))
while True:
    c, _ = s.accept()
    request = b""
    while chunk := c.recv(65536):
        request += chunk
    verb, _, name = request.split(b"\n", 1)[0].decode().partition(" ")
    if verb == "set":
        with open(os.path.join(os.path.dirname(replies), "sets"), "ab") as sets:
            sets.write(request.split(b"\n", 1)[1] + b"\n")
        reply = b"0\nscrub 1 started: 1 blocks to check\n"
    else:
        key = "map" if name.startswith("user.vblk.map") else name.removeprefix("user.vblk.")
        try:
            reply = b"0\n" + open(os.path.join(replies, key), "rb").read()
        except FileNotFoundError:
            reply = b"61\n"
    c.sendall(reply)
    c.close()
EOF_PY
deadline=$((SECONDS + 30))
until [[ -S $IMG.ctl && -s $WORK/fake.pid ]]; do
  ((SECONDS < deadline)) || fail "the stand-in server did not start"
  sleep 0.1
done

# reply NAME TEXT: what the stand-in answers for user.vblk.NAME.
reply() { printf '%s' "$2" >"replies/$1"; }
# A whole user.vblk.stats, as a daemon writes it (vblk-inspect(1), JSON OUTPUT).
good_stats='{"image": "/img", "server": "nbdkit", "mountpoint": "", "pid": 7, "read_only": false, "powered_off": false,
  "uptime_s": 1.5, "block_size": 4096, "block_count": 256, "capacity_bytes": 1048576,
  "ops": {"reads": 1, "writes": 0, "trims": 0, "flushes": 0}, "bytes": {"read": 4096, "written": 0, "trimmed": 0},
  "writes_in_flight_peak": 0, "retries": 0, "failures": 0, "latency_us": {"p50": 12, "p90": 20, "p99": 30, "max": 31.5},
  "cache": {"hits": 0, "misses": 1, "hit_rate": 0}, "compression_ratio": null,
  "blocks": {"free": 255, "used": 1, "zero": 0, "trimmed": 0, "bad": 0}, "stored_bytes": 100,
  "recompression": {"pending_bytes": 0, "scanned": true}, "host_file_bytes": 65536, "host_file_size": 65536,
  "reuse_pool_bytes": 0, "faults": {"bad_blocks": 0, "bad_range_count": 0, "bad_ranges": [], "rules": []},
  "scrub": {"state": "done", "id": 1, "max_rate": null, "started_unix": 1.5, "finished_unix": 2.5,
    "index_pages_checked": 1, "index_pages_total": 1, "records_checked": 1, "blocks_checked": 1, "blocks_to_check": 1,
    "bytes_read": 100, "problem_count": 0, "damaged_blocks": 0, "problems": []}}'
# stats_with PYTHON: the good statistics after the statements PYTHON run on j.
stats_with() {
  python3 -c 'import json, sys; j = json.loads(sys.argv[1]); exec(sys.argv[2]); print(json.dumps(j))' "$good_stats" "$1"
}
good_map='{"block_count": 256, "block_size": 4096, "blocks_per_cell": 128, "cells": 2, "states": "#.", "mixed": [], "ratios": [2.5, 0]}'
good_faults='{"bad_blocks": 0, "bad_range_count": 0, "bad_ranges": [], "rules": []}'
reset() { reply stats "$good_stats"; reply map "$good_map"; reply faults "$good_faults"; }

# every_tool CASE: runs each tool on the image; none may crash.
every_tool() {
  local cmd rc
  for cmd in "$VBLK_INSPECT $IMG --json" "$VBLK_INSPECT $IMG" "$VBLK_INSPECT $IMG --check" \
             "$VBLK_INSPECT $IMG --svg $WORK/map.svg" "$VBLK_INJECT $IMG list" "$VBLK_INJECT $IMG list --json" \
             "$VBLK_INJECT $IMG bad --offset 4096 --length 1"; do
    rc=0
    # shellcheck disable=SC2086
    run 30 $cmd >out.txt 2>err.txt || rc=$?
    ((rc <= 1)) || fail "$1: $cmd: exit $rc: $(cat err.txt)"
    (($(wc -l <err.txt) <= 1)) || fail "$1: $cmd: more than one line on stderr: $(cat err.txt)"
    ! grep -q "json.exception\|terminate\|Sanitizer" err.txt || fail "$1: $cmd: $(cat err.txt)"
  done
}

# refused CASE WANT TOOL ARGS...: exit 1 with WANT on stderr.
refused() {
  local what=$1 want=$2 rc=0
  shift 2
  run 30 "$@" >out.txt 2>err.txt || rc=$?
  ((rc == 1)) && grep -qF -- "$want" err.txt || fail "$what: $*: exit $rc, stderr: $(cat err.txt); expected: $want"
}

reset
run 30 "$VBLK_INSPECT" "$IMG" --json >good.json || fail "the stand-in's good answers: $(cat err.txt)"
[[ $(json_get good.json "j['live'], j['server'], j['ops']['reads']") == "(True, 'nbdkit', 1)" ]] ||
  fail "the stand-in's good answers: $(cat good.json)"
every_tool good
echo "ok: the stand-in's well-formed answers are read"

deep=$(python3 -c 'print("[" * 30000 + "]" * 30000)')  # within one attribute (64 KiB)
nested_objects=$(python3 -c 'print("{\"a\": " * 5000 + "1" + "}" * 5000)')
for doc in "" "{" '{"block_size": 4096, ' '{"block_size": 4096}}' '{"block_size": 1e400}' '[1, 2]' '"stats"' 'null' \
           "$deep" "$nested_objects" $'{"block_size": 4096}\x01' '{"block_size": 4096, "a": "\ud800"}'; do
  reset
  reply stats "$doc"
  every_tool "stats ${doc:0:30}"
done
printf '{"block_size": 4096}\0{' >replies/stats
every_tool "stats with a NUL byte"
reply stats "{"
refused "truncated stats" "unreadable user.vblk.stats: JSON: parse error at line 1, column 2" "$VBLK_INSPECT" "$IMG" --json
refused "truncated stats" "unreadable user.vblk.stats" "$VBLK_INJECT" "$IMG" bad --offset 4096 --length 1
reply stats "$deep"
refused "deep stats" "unreadable user.vblk.stats: JSON: nested deeper than 64 levels" "$VBLK_INSPECT" "$IMG"
reply stats '[1, 2]'
refused "stats not an object" "unreadable user.vblk.stats: not a JSON object" "$VBLK_INSPECT" "$IMG" --json
reply stats '{"block_size": 1e400}'
refused "huge number" "number overflow" "$VBLK_INSPECT" "$IMG" --check
printf '{"block_size": 4096}\0{' >replies/stats
refused "NUL byte" "JSON: a NUL byte at offset 20" "$VBLK_INSPECT" "$IMG"
echo "ok: malformed statistics are refused in one line by every tool"

# Well-formed, with a missing key or a value of another type or out of
# range: refused naming the key, never a crash.
# mistyped EDIT WANT: the good statistics after EDIT are refused with WANT.
mistyped() {
  reset
  reply stats "$(stats_with "$1")"
  every_tool "stats: $1"
  refused "stats: $1" "unreadable user.vblk.stats: $2" "$VBLK_INSPECT" "$IMG" --json
}
mistyped 'del j["block_count"]' 'key "block_count" is missing'
mistyped 'j["ops"]["reads"] = "1"' 'key "ops/reads" is a JSON string, not a whole number from 0 to 2^64-1'
mistyped 'j["ops"] = 5' 'key "ops" is 5, not an object'
mistyped 'j["bytes"]["read"] = -1' 'key "bytes/read" is -1, not a whole number'
mistyped 'j["pid"] = 1.5' 'key "pid" is 1.5, not a whole number'
mistyped 'j["block_count"] = 99999999999999999999999' 'key "block_count" is 9.999999999999999e+22, not a whole number'
mistyped 'j["block_size"] = 4294967296' 'key "block_size" is 4294967296, not a whole number from 0 to 2^32-1'
mistyped 'j["latency_us"]["p50"] = "x"' 'key "latency_us/p50" is a JSON string, not a number'
mistyped 'j["faults"]["bad_ranges"] = [{"first": 1, "count": 1}, 3]' 'key "faults/bad_ranges/1" is a JSON number, not an object'
mistyped 'j["faults"]["rules"] = [{"kind": "gremlin", "first": 0, "count": 1, "command": "x"}]' \
  'key "faults/rules/0/kind" is "gremlin", not one of flaky-write'
mistyped 'j["scrub"] = 3' 'key "scrub" is 3, not an object'
mistyped 'j["scrub"]["state"] = 7' 'key "scrub/state" is 7, not a string'
mistyped 'j["scrub"]["state"] = "failed"' 'key "scrub/error" is missing'
mistyped 'j["scrub"]["problems"] = [{"block": "x", "file_offset": 0, "what": "w"}]' \
  'key "scrub/problems/0/block" is a JSON string, not a whole number'
reply stats "$(stats_with 'j["uptime_s"] = 1e308; j["latency_us"]["max"] = -3')"
every_tool "stats: uptime 1e308"
echo "ok: a missing key or a value of another type or out of range is refused, naming the key"

# A daemon from before the keys added since leaves them out: it is read,
# and --check says it cannot scrub.
reset
reply stats "$(stats_with 'for k in ["server", "powered_off", "writes_in_flight_peak", "recompression", "reuse_pool_bytes", "scrub"]: del j[k]')"
every_tool "stats of an older daemon"
run 30 "$VBLK_INSPECT" "$IMG" --no-map >out.txt || fail "stats of an older daemon: $(cat out.txt)"
grep -q "^mountpoint: " out.txt || fail "stats of an older daemon: not shown as a vblkfs mount: $(head -n 1 out.txt)"
! grep -q "^in parallel:\|^recompression:" out.txt || fail "stats of an older daemon: lines of keys it left out"
refused "no scrub object" "this vblkfs daemon cannot scrub" "$VBLK_INSPECT" "$IMG" --check
echo "ok: the keys added since the first daemons may be missing"

reply stats "$(stats_with 'j["scrub"]["problems"] = [{"block": 7, "file_offset": 1, "what": "checksum"}]')"
refused "fewer problems counted than listed" "check found 1 problem" "$VBLK_INSPECT" "$IMG" --check
reply stats "$(stats_with 'j["block_size"] = 0')"
refused "block size 0" "unreadable user.vblk.stats" "$VBLK_INJECT" "$IMG" bad --offset 4096 --length 1
reply stats "$(stats_with 'j["uptime_s"] = -5')"
run 30 "$VBLK_INSPECT" "$IMG" --no-map >out.txt || fail "negative uptime: $(cat out.txt)"
grep -q "^served: .*, up 0s)$" out.txt || fail "negative uptime: $(head -n 1 out.txt)"
echo "ok: values in range but odd are shown, clamped"

for doc in "" '{"block_count": 256' "$deep" '{"block_count": 256, "block_size": 4096, "blocks_per_cell": 0}' \
           '{"block_count": 256, "block_size": 4096, "blocks_per_cell": 128, "states": "#.", "ratios": [1, 2],
             "mixed": [[99999999999999999999, 1, 1, 1, 1]]}' \
           '{"block_count": 256, "block_size": 4096, "blocks_per_cell": 128, "states": "#.", "ratios": {"a": 1}}'; do
  reset
  reply map "$doc"
  every_tool "map ${doc:0:40}"
  refused "map ${doc:0:40}" "vblk-inspect: $IMG: " "$VBLK_INSPECT" "$IMG" --svg "$WORK/map.svg"
done
echo "ok: malformed maps are refused"

for doc in "" '{"rules": [' "$deep" '[]' '{"bad_ranges": {"first": 1}, "rules": [{"command": 5}, 7]}'; do
  reset
  reply faults "$doc"
  every_tool "faults ${doc:0:40}"
done
reply faults '{"rules": ['
refused "truncated faults" "unreadable fault list: JSON: " "$VBLK_INJECT" "$IMG" list --json
reply faults '{"bad_blocks": 0, "bad_range_count": 0, "bad_ranges": {"first": 1}, "rules": []}'
refused "mistyped faults" 'unreadable fault list: key "bad_ranges" is a JSON object, not an array' "$VBLK_INJECT" "$IMG" list
echo "ok: malformed fault lists are refused"

# vblk-inject --json reads the reply to its command as user.vblk.control.json.
reset
rm -f sets
refused "a server without JSON replies" "replies only in text (it is older than this tool): nothing was done" \
  "$VBLK_INJECT" "$IMG" bad --block 1 --json
[[ ! -e sets ]] || fail "a command was sent to a server that cannot reply in JSON: $(cat sets)"
for doc in "" "{" '[1]' '{"error": "no command yet"}' "$deep"; do
  reply control.json "$doc"
  refused "control.json ${doc:0:30}" "is not its report" "$VBLK_INJECT" "$IMG" bad --block 1 --json
  [[ ! -s out.txt ]] || fail "control.json ${doc:0:30}: printed $(cat out.txt)"
done
reply control.json '{"image": "'"$IMG"'", "action": "bad", "command": "bad 1 fail", "message": "m"}'
run 30 "$VBLK_INJECT" "$IMG" bad --block 1 --json >out.json || fail "a well-formed JSON reply"
[[ $(json_get out.json "list(j)[:5], j['live'], j['command']") == "(['schema', 'target', 'live', 'image', 'action'], True, 'bad 1 fail')" ]] ||
  fail "the JSON reply as printed: $(cat out.json)"
echo "ok: vblk-inject --json refuses a server without JSON replies, and malformed replies"
