# Shared helpers for the tool tests. Sourced by each test script, which is
# run as: bash TEST.sh VBLK_FORMAT VBLK_INSPECT
set -euo pipefail

VBLK_FORMAT=$(realpath "$1")
VBLK_INSPECT=$(realpath "$2")
# Seconds any single tool run may take before it counts as a hang.
TOOL_TIMEOUT=${TOOL_TIMEOUT:-60}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/vblk-tools-test.XXXXXX")
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT
cd "$WORK"

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

vformat() { timeout "$TOOL_TIMEOUT" "$VBLK_FORMAT" "$@"; }
vinspect() { timeout "$TOOL_TIMEOUT" "$VBLK_INSPECT" "$@"; }

checksum() { sha256sum "$1" | cut -d' ' -f1; }

# expect_error FILE PROG [ARGS...]
# Runs PROG (vformat or vinspect) and requires: a non-zero exit that is not
# a crash (< 128) nor a timeout (124), and exactly one line on stderr of the
# form "vblk-xxx: ...FILE...". Stdout and stderr are left in out.txt/err.txt.
expect_error() {
  local file=$1
  shift
  local rc=0
  "$@" >out.txt 2>err.txt || rc=$?
  local what="'$*'"
  [[ $rc -ne 0 ]] || fail "$what succeeded; expected an error"
  [[ $rc -ne 124 ]] || fail "$what timed out"
  [[ $rc -lt 128 ]] || fail "$what crashed (exit $rc): $(cat err.txt)"
  local lines
  lines=$(wc -l <err.txt)
  [[ $lines -eq 1 ]] || fail "$what: expected one line on stderr, got $lines: $(cat err.txt)"
  grep -q '^vblk-[a-z]*: ' err.txt || fail "$what: stderr does not start with the program name: $(cat err.txt)"
  grep -qF -- "$file" err.txt || fail "$what: stderr does not name $file: $(cat err.txt)"
  echo "ok (exit $rc): $what -> $(cat err.txt)"
  LAST_RC=$rc
}

# json_get FILE EXPR: evaluates the Python expression EXPR over the JSON
# document in FILE bound to `j`, printing the result.
json_get() {
  python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}
