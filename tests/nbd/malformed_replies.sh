# The tools given malformed JSON by a live server: a stand-in for nbdkit
# holds the image's lock (so the tools trust its control socket) and answers
# user.vblk.stats, .map and .faults with truncated documents, values of other
# types, numbers out of range, nesting far too deep, a NUL byte. Every tool
# (vblk-inspect --json / text / --check / --svg, vblk-inject list [--json]
# and a command that needs the block size) ends with exit 0 or 1, at most one
# line on stderr, and never a crash or an escaped exception; the broken
# documents are refused naming the attribute and the cause. vblk-inject
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
good_stats='{"server": "nbdkit", "block_size": 4096, "block_count": 256, "ops": {"reads": 1},
  "faults": {"bad_blocks": 0, "bad_range_count": 0, "bad_ranges": [], "rules": []},
  "scrub": {"state": "done", "id": 1, "records_checked": 1, "blocks_checked": 1, "problem_count": 0, "problems": []}}'
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

# Well-formed, with values of other types or out of range: read as 0 or
# empty (an older daemon leaves keys out), never a crash.
for doc in '{"block_size": "4096", "block_count": [], "ops": 5, "bytes": {"read": -1}, "latency_us": {"p50": "x"},
             "faults": {"bad_ranges": 7, "bad_range_count": {"a": 1}, "rules": {"command": "x"}}, "scrub": 3}' \
           '{"block_size": 4096, "block_count": 99999999999999999999999, "pid": -5, "uptime_s": 1e308,
             "faults": {"bad_ranges": [{"first": 1e300, "count": -1}, 3, null], "bad_range_count": 18446744073709551615}}' \
           '{"block_size": 4294967296, "block_count": 18446744073709551615}' \
           '{"block_size": 4096, "block_count": 256, "scrub": {"state": "done", "id": 1, "problem_count": 0,
             "problems": [{"block": "x", "file_offset": -3, "what": 5}, {"block": 1}]}}' \
           '{"block_size": 4096, "block_count": 256, "scrub": {"state": "failed", "id": 1, "error": ["x"]}}' \
           '{"block_size": 4096, "block_count": 256, "scrub": {"state": 7, "id": "1"}}'; do
  reset
  reply stats "$doc"
  every_tool "stats ${doc:0:40}"
done
reply stats '{"block_size": 4096, "block_count": 256, "scrub": {"state": "done", "id": 1, "problem_count": 0,
  "problems": [{"block": 7, "file_offset": 1, "what": "checksum"}]}}'
refused "fewer problems counted than listed" "check found 1 problem" "$VBLK_INSPECT" "$IMG" --check
reply stats '{"block_size": 4096, "block_count": 256, "scrub": 3}'
refused "no scrub object" "this vblkfs daemon cannot scrub" "$VBLK_INSPECT" "$IMG" --check
reply stats '{"block_size": 4294967296}'
refused "block size out of range" "unreadable user.vblk.stats" "$VBLK_INJECT" "$IMG" bad --offset 4096 --length 1
reply stats '{"server": "nbdkit", "block_size": 4096, "block_count": 256, "uptime_s": -5}'
run 30 "$VBLK_INSPECT" "$IMG" --no-map >out.txt || fail "negative uptime: $(cat out.txt)"
grep -q "^served: .*, up 0s)$" out.txt || fail "negative uptime: $(head -n 1 out.txt)"
echo "ok: values of other types or out of range read as 0 or empty"

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
