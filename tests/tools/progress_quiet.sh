# -p/--progress and -q/--quiet on the long operations: vblk-format --from,
# vblk-export, vblk-inspect --check (and --repair).
#   default, no terminal: nothing on stderr, the summary on stdout
#   -p, no terminal:      plain progress lines on stderr, no control characters
#   -p, a terminal:       the bar redrawn in place (\r)
#   -q:                   nothing on stdout or stderr; the work is done
source "$(dirname "${BASH_SOURCE[0]}")/export_lib.sh"

head -c $((8 << 20)) /dev/urandom >raw.img
ESC=$'\033' CR=$'\r'

# no_controls FILE: FILE has no escape or carriage-return characters.
no_controls() { ! grep -q "[$ESC$CR]" "$1" || fail "$1 has control characters: $(od -c "$1" | head -3)"; }

# vblk-format --from
vformat a.vblk --from raw.img >out.txt 2>err.txt || fail "format --from: $(cat err.txt)"
[[ ! -s err.txt ]] || fail "format --from without a terminal wrote to stderr: $(cat err.txt)"
grep -q 'imported raw.img' out.txt || fail "format --from: no summary: $(cat out.txt)"
vformat b.vblk --from raw.img -p >out.txt 2>err.txt || fail "format --from -p: $(cat err.txt)"
grep -q '^importing raw.img .*100%' err.txt || fail "format -p: no progress line: $(cat err.txt)"
no_controls err.txt
grep -q 'imported raw.img' out.txt || fail "format -p dropped the summary"
vformat c.vblk --from raw.img -q >out.txt 2>err.txt || fail "format --from -q: $(cat err.txt)"
[[ ! -s out.txt && ! -s err.txt ]] || fail "format -q printed: $(cat out.txt err.txt)"
vformat d.vblk --size 1M --quiet >out.txt 2>err.txt || fail "format --size -q: $(cat err.txt)"
[[ ! -s out.txt ]] || fail "format -q (empty image) printed: $(cat out.txt)"
vexport c.vblk c.raw -q || fail "export of the -q image"
cmp c.raw raw.img || fail "the image made with -q does not hold the raw disk"

# vblk-export
vexport a.vblk o.raw -p >out.txt 2>err.txt || fail "export -p: $(cat err.txt)"
grep -q '^exporting a.vblk .*100%' err.txt || fail "export -p: no progress line: $(cat err.txt)"
no_controls err.txt
grep -q 'a.vblk -> o.raw' out.txt || fail "export -p dropped the summary"
vexport a.vblk q.raw -q >out.txt 2>err.txt || fail "export -q: $(cat err.txt)"
[[ ! -s out.txt && ! -s err.txt ]] || fail "export -q printed: $(cat out.txt err.txt)"
cmp q.raw raw.img || fail "export -q wrote the wrong bytes"
vexport a.vblk j.raw -q --json >out.txt 2>err.txt || fail "export -q --json: $(cat err.txt)"
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' out.txt || fail "export -q --json: not JSON: $(cat out.txt)"
expect_error "" vexport a.vblk x.raw -p -q
grep -q -- '--progress excludes --quiet' err.txt || fail "-p -q: $(cat err.txt)"
[[ $LAST_RC -eq 2 ]] || fail "-p -q: exit $LAST_RC, expected 2"

# vblk-inspect --check
"$VBLK_INSPECT" a.vblk --check -p >out.txt 2>err.txt || fail "check -p: $(cat err.txt)"
grep -q '^checking a.vblk .*100%' err.txt || fail "check -p: no progress line: $(cat err.txt)"
no_controls err.txt
grep -q 'check: clean' out.txt || fail "check -p dropped the summary"
"$VBLK_INSPECT" a.vblk --check -q >out.txt 2>err.txt || fail "check -q on a clean image: $(cat err.txt)"
[[ ! -s out.txt && ! -s err.txt ]] || fail "check -q printed: $(cat out.txt err.txt)"
"$VBLK_INSPECT" a.vblk --check --repair -q >out.txt 2>err.txt || fail "repair -q: $(cat err.txt)"
[[ ! -s out.txt && ! -s err.txt ]] || fail "repair -q printed: $(cat out.txt err.txt)"
# Damage still speaks under -q: the problems and the one-line error.
aid a.vblk corrupt 5 >/dev/null || fail "export_aid corrupt"
rc=0; "$VBLK_INSPECT" a.vblk --check -q >out.txt 2>err.txt || rc=$?
[[ $rc -eq 1 ]] || fail "check -q of a damaged image: exit $rc, expected 1"
grep -q 'check found' err.txt || fail "check -q of a damaged image: no error line: $(cat err.txt)"
expect_error "" "$VBLK_INSPECT" a.vblk -q
grep -q -- '--quiet requires --check' err.txt || fail "-q without --check: $(cat err.txt)"

# On a terminal, the default is the bar redrawn in place.
command -v script >/dev/null || fail "script(1) missing (util-linux)"
script -qec "$VBLK_FORMAT e.vblk --from raw.img" /dev/null >tty.txt || fail "format on a terminal"
grep -q $'\r' tty.txt || fail "format on a terminal drew no bar: $(od -c tty.txt | head -3)"
echo PASS
