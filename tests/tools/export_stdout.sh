# vblk-export IMAGE -: the raw disk on standard output. A pipe gets every
# byte (zeros included); a regular file gets holes; the summary goes to
# stderr. Also --help/--version and the progress bar on a terminal.
source "$(dirname "${BASH_SOURCE[0]}")/export_lib.sh"

vexport --version | grep -Eq '^vblk-export [0-9]+\.[0-9]+' || fail "--version"
vexport --help | grep -q -- '--bad' || fail "--help"

python3 - <<'PY'
with open("raw.img", "wb") as f:
    f.truncate(8 << 20)
    f.seek(4096 * 3); f.write(b"three" * 1000)
    f.seek(4096 * 1500); f.write(b"late" * 3000)
PY
vformat img --from raw.img >/dev/null

vexport img - 2>sum.txt | cmp - raw.img || fail "stdout through a pipe differs"
grep -q '^img -> -: 8.0 MiB disk (8388608 bytes), 8.0 MiB written, 0 B left as holes' sum.txt ||
  fail "pipe summary: $(cat sum.txt)"

vexport img - --json >file.raw 2>sum.json
cmp file.raw raw.img || fail "stdout to a file differs"
[[ $(json_get sum.json 'j["sparse"]') == True ]] || fail "regular-file stdout is not sparse"
[[ $(json_get sum.json 'j["holes_bytes"]') == $(hole_bytes file.raw) ]] || fail "holes on stdout file"
(($(hole_bytes file.raw) > 7 << 20)) || fail "stdout file has no holes"

# Appending to a file: every byte is written after what is there.
echo header >app.raw
vexport img - >>app.raw 2>/dev/null
tail -c +8 app.raw | cmp - raw.img || fail "append differs"
[[ $(head -1 app.raw) == header ]] || fail "append clobbered the header"

# A reader that goes away: one error line, exit 1, no crash.
set +o pipefail
vexport img - 2>err.txt | head -c 1000 >/dev/null
set -o pipefail
grep -q '^vblk-export: -: write at offset [0-9]*: Broken pipe$' err.txt || fail "closed pipe: $(cat err.txt)"

# SIGINT while blocked on a full pipe: exit 1, "interrupted".
mkfifo fifo
exec 3<>fifo
rc=0
"$VBLK_EXPORT" img - >fifo 2>err.txt &
pid=$!
sleep 0.5
kill -INT "$pid"
wait "$pid" || rc=$?
exec 3<&-
[[ $rc -eq 1 ]] || fail "SIGINT on a full pipe: exit $rc"
grep -q '^vblk-export: -: interrupted' err.txt || fail "SIGINT on a full pipe: $(cat err.txt)"

expect_error - vexport img - --force
[[ $LAST_RC -eq 2 ]] || fail "- with --force: exit $LAST_RC"

# On a terminal, a progress bar on stderr; not otherwise.
vexport img quiet.raw >/dev/null 2>quiet.err
[[ ! -s quiet.err ]] || fail "stderr not empty when not a terminal: $(cat quiet.err)"
script -qec "$VBLK_EXPORT img tty.raw" /dev/null >tty.txt </dev/null || fail "export under a terminal: $(cat tty.txt)"
grep -q 'exporting img' tty.txt || fail "no progress bar on a terminal: $(cat -v tty.txt)"
cmp tty.raw raw.img || fail "export under a terminal differs"
rc=0
script -qec "$VBLK_EXPORT img -" /dev/null >tty.txt </dev/null || rc=$?
[[ $rc -eq 2 ]] || fail "stdout on a terminal: exit $rc"
grep -q '^vblk-export: -: standard output is a terminal' tty.txt || fail "stdout on a terminal: $(cat -v tty.txt)"
echo PASS
