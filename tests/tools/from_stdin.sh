# vblk-format IMAGE --from - --size SIZE: the raw disk from standard input,
# as vblk-export IMAGE - writes it. A round trip through a pipe gives the
# same disk; a stream shorter or longer than --size, a missing --size, a
# terminal on stdin and SIGINT on an idle pipe fail with one line naming
# "-" and leave no image behind.
source "$(dirname "${BASH_SOURCE[0]}")/export_lib.sh"

SIZE=$((8 << 20))
python3 - "$SIZE" <<'PY'
import random, sys
size = int(sys.argv[1])
r = random.Random(7)
with open("raw.img", "wb") as f:
    f.truncate(size)
    f.seek(0); f.write(b"first blocks of a piped disk\n" * 400)
    f.seek(4096 * 300); f.write(bytes(r.getrandbits(8) for _ in range(5 * 4096)))  # incompressible
    f.seek(4096 * 900); f.write(bytes(4096 * 3))                                     # written zeros
    f.seek(4096 * 1200); f.write(b"0123456789abcdef" * 4096)
    f.seek(size - 100); f.write(b"e" * 100)                                         # the last block
PY
vformat a --from raw.img --label piped >/dev/null

# The round trip: export to a pipe, import from it.
vexport a - 2>export.err | vformat b --from - --size "$SIZE" --label piped >fmt.txt 2>fmt.err ||
  fail "export | format failed: $(cat export.err fmt.err)"
cat fmt.txt
[[ ! -s fmt.err ]] || fail "stderr not empty when not a terminal: $(cat fmt.err)"
grep -q "^b: imported -: " fmt.txt || fail "summary does not name -: $(cat fmt.txt)"
vexport a a.raw >/dev/null 2>&1
vexport b b.raw >/dev/null 2>&1
cmp a.raw b.raw || fail "the disk exported from the piped import differs"
cmp a.raw raw.img || fail "the first import differs from the raw file"
vinspect a --json --no-map >a.json
vinspect b --json --no-map >b.json
[[ $(json_get b.json 'j["blocks"]["used"]') == $(json_get a.json 'j["blocks"]["used"]') ]] ||
  fail "used blocks differ: zero blocks of the stream were not left FREE"
vinspect b --check >/dev/null || fail "the piped import does not check clean"

# A named pipe given by its path is read the same way (its size, 0, is not
# taken for the disk's).
mkfifo disk.pipe
cat raw.img >disk.pipe &
vformat np --from disk.pipe --size "$SIZE" >fmt.txt 2>fmt.err || fail "import from a named pipe: $(cat fmt.err)"
wait
vexport np np.raw >/dev/null 2>&1
cmp a.raw np.raw || fail "the disk imported from a named pipe differs"

# Standard input may also be a regular file; it is read as a stream all the same.
vformat c --from - --size "$SIZE" <raw.img >/dev/null
vexport c c.raw >/dev/null 2>&1
cmp c.raw raw.img || fail "import from a redirected file differs"

# A short stream: the error says how far it got; nothing is left.
head -c $((SIZE - 12345)) raw.img >short.raw
expect_error - bash -c "'$VBLK_FORMAT' d --from - --size $SIZE <short.raw"
[[ $LAST_RC -eq 1 ]] || fail "short stream: exit $LAST_RC"
grep -q "standard input ended after $((SIZE - 12345)) bytes; --size is $SIZE" err.txt || fail "short: $(cat err.txt)"
[[ ! -e d ]] || fail "a short stream left d behind"
# An empty one.
expect_error - bash -c "'$VBLK_FORMAT' d --from - --size $SIZE </dev/null"
grep -q "ended after 0 bytes" err.txt || fail "empty: $(cat err.txt)"
[[ ! -e d ]] || fail "an empty stream left d behind"

# A long stream, from a pipe whose writer then gets EPIPE.
expect_error - bash -c "'$VBLK_EXPORT' a - 2>/dev/null | '$VBLK_FORMAT' d --from - --size $((SIZE / 2))"
[[ $LAST_RC -eq 1 ]] || fail "long stream: exit $LAST_RC"
grep -q "standard input holds more than the $((SIZE / 2)) bytes of --size" err.txt || fail "long: $(cat err.txt)"
[[ ! -e d ]] || fail "a long stream left d behind"
# One byte too many is enough.
{ cat raw.img; printf x; } >long.raw
expect_error - bash -c "'$VBLK_FORMAT' d --from - --size $SIZE <long.raw"
[[ ! -e d ]] || fail "a stream one byte long left d behind"
# With --force over an existing image, a failed import leaves no image
# either (the one replaced is gone, as for any failed --force).
cp a victim
expect_error - bash -c "'$VBLK_FORMAT' victim --force --from - --size $SIZE <short.raw"
[[ ! -e victim ]] || fail "a failed --force import left victim behind"

# No --size: a usage error naming -, before anything is written.
expect_error - bash -c "'$VBLK_FORMAT' d --from - <raw.img"
[[ $LAST_RC -eq 2 ]] || fail "--from - without --size: exit $LAST_RC"
grep -q -- "--size is required" err.txt || fail "no --size: $(cat err.txt)"
[[ ! -e d ]] || fail "--from - without --size left d behind"

# A terminal on standard input is refused.
rc=0
script -qec "'$VBLK_FORMAT' t --from - --size $SIZE" /dev/null >tty.txt 2>&1 || rc=$?
[[ $rc -eq 2 ]] || fail "stdin on a terminal: exit $rc: $(cat -v tty.txt)"
grep -q '^vblk-format: -: standard input is a terminal' tty.txt || fail "stdin on a terminal: $(cat -v tty.txt)"
[[ ! -e t ]] || fail "a refused terminal left t behind"

# SIGINT while the pipe stays open and idle: exit 1, nothing left behind.
mkfifo fifo
exec 3<>fifo
rc=0
"$VBLK_FORMAT" w --from - --size "$SIZE" <fifo >/dev/null 2>err.txt &
pid=$!
head -c 100000 raw.img >&3
sleep 0.5
kill -INT "$pid"
timeout 10 tail --pid="$pid" -f /dev/null || fail "vblk-format did not stop on SIGINT while reading an idle pipe"
wait "$pid" || rc=$?
exec 3>&-
[[ $rc -eq 1 ]] || fail "SIGINT on an idle pipe: exit $rc: $(cat err.txt)"
grep -q '^vblk-format: w: interrupted; the unfinished image was removed$' err.txt || fail "SIGINT: $(cat err.txt)"
[[ ! -e w ]] || fail "SIGINT left w behind"

# On a terminal, the progress bar names standard input.
script -qec "cat raw.img | '$VBLK_FORMAT' p --from - --size $SIZE" /dev/null >tty.txt </dev/null ||
  fail "import under a terminal: $(cat -v tty.txt)"
grep -q 'importing standard input' tty.txt || fail "no progress bar on a terminal: $(cat -v tty.txt)"
echo PASS
