# Shared helpers for the NBD tests. Sourced by each test script, which is
# run as: bash TEST.sh PLUGIN VBLK_FORMAT VBLK_INSPECT VBLK_INJECT VBLK_EXPORT
#
# On sourcing: checks the prerequisites (nbdkit, nbdinfo, nbdcopy, qemu-img,
# qemu-io; a missing one fails with CI=true and skips otherwise), makes a
# private work directory under /var/tmp and installs a cleanup trap that
# kills every nbdkit this test started (by its pidfile) and removes the
# directory.
set -euo pipefail

PLUGIN=$(realpath "$1")
VBLK_FORMAT=$(realpath "$2")
VBLK_INSPECT=$(realpath "$3")
VBLK_INJECT=$(realpath "$4")
VBLK_EXPORT=$(realpath "$5")
source "$(dirname "${BASH_SOURCE[0]}")/../prereq.sh"

require() {
  local why="" c
  for c in nbdkit nbdinfo nbdcopy qemu-img qemu-io python3 timeout cmp "$@"; do
    if ! command -v "$c" >/dev/null 2>&1; then
      why="missing command: $c (scripts/install-deps.sh installs it)"
      break
    fi
  done
  [[ -z $why ]] || missing_prerequisite "$why"
}
require

WORK=$(mktemp -d /var/tmp/vblk-nbd-test.XXXXXX)
cd "$WORK"
echo "work directory: $WORK"

cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  local pidfile pid
  for pidfile in "$WORK"/*.pid; do
    [[ -s $pidfile ]] || continue
    pid=$(<"$pidfile")
    kill -KILL "$pid" 2>/dev/null
  done
  if [[ $rc -ne 0 && $rc -ne 77 ]]; then
    local log
    for log in "$WORK"/*.log; do
      [[ -s $log ]] || continue
      echo "---- last lines of $log ----" >&2
      tail -n 20 "$log" >&2
    done
  fi
  rm -rf --one-file-system "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# run SECONDS COMMAND...: every step is bounded; a timeout is a failure
# that says which step hung.
run() {
  local secs=$1
  shift
  local rc=0
  timeout -k 5 "$secs" "$@" || rc=$?
  [[ $rc -eq 124 || $rc -eq 137 ]] && fail "timed out after ${secs}s: $*"
  return "$rc"
}

vformat() { run 60 "$VBLK_FORMAT" "$@" >/dev/null; }
vinspect() { run 120 "$VBLK_INSPECT" "$@"; }
vinject() { run 60 "$VBLK_INJECT" "$@"; }
vexport() { run 120 "$VBLK_EXPORT" "$@"; }

# serve NAME [NBDKIT_OPTIONS... --] PARAMS...: starts nbdkit with the plugin
# and PARAMS on the unix socket $WORK/NAME.sock (pidfile NAME.pid, log
# NAME.log) and waits until it answers. Options before a "--" go to nbdkit
# itself (e.g. -r). Prints nothing; the URI is uri NAME [EXPORT].
serve() {
  local name=$1
  shift
  local opts=() a
  for a in "$@"; do
    if [[ $a == -- ]]; then
      shift $((${#opts[@]} + 1))
      break
    fi
    opts+=("$a")
  done
  [[ $a == -- ]] || opts=()
  rm -f "$WORK/$name.sock" "$WORK/$name.pid"
  nbdkit -f -v "${opts[@]}" -U "$WORK/$name.sock" --pidfile "$WORK/$name.pid" "$PLUGIN" "$@" >"$WORK/$name.log" 2>&1 &
  local deadline=$((SECONDS + 30))
  until [[ -s $WORK/$name.pid ]]; do
    kill -0 $! 2>/dev/null || fail "nbdkit $* exited: $(tail -n 5 "$WORK/$name.log")"
    ((SECONDS < deadline)) || fail "nbdkit $* did not start in 30 s"
    sleep 0.1
  done
  # nbdkit writes its pid file before the plugin's after_fork opens the
  # images and binds their control sockets, and accepts connections only
  # after it: an answer to a listing means every image is open and its
  # IMAGE.ctl bound (a tool run earlier finds the image held by nbdkit
  # without a control socket).
  run 30 nbdinfo --list "$(uri "$name")" >/dev/null ||
    fail "nbdkit $* does not answer: $(tail -n 5 "$WORK/$name.log")"
}

# stop NAME: SIGTERM, and waits until the server has closed its images.
stop() {
  local pid
  pid=$(<"$WORK/$1.pid")
  kill -TERM "$pid"
  local deadline=$((SECONDS + 60))
  while kill -0 "$pid" 2>/dev/null; do
    ((SECONDS < deadline)) || fail "nbdkit $1 did not exit in 60 s"
    sleep 0.1
  done
  rm -f "$WORK/$1.pid"
}

# kill9 NAME: SIGKILL, no chance to flush or close.
kill9() {
  local pid
  pid=$(<"$WORK/$1.pid")
  kill -KILL "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  rm -f "$WORK/$1.pid"
}

# uri NAME [EXPORT]
uri() { echo "nbd+unix:///${2:-}?socket=$WORK/$1.sock"; }

# qio URI COMMAND...: qemu-io on the raw NBD export, one -c per command.
qio() {
  local u=$1 c args=()
  shift
  for c in "$@"; do args+=(-c "$c"); done
  run 60 qemu-io -f raw "${args[@]}" "$u"
}

# json_get FILE EXPR: evaluates the Python expression EXPR over the JSON
# document in FILE bound to `j`, printing the result.
json_get() {
  python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# Bytes the host filesystem really allocates for FILE.
host_bytes() { echo $(($(stat -c '%b * %B' "$1"))); }

# nbd_python: prints a python3 that has libnbd's Python binding
# (python3-libnbd installs it for Debian's /usr/bin/python3, which need not
# be the first python3 in PATH); missing, it fails with CI=true and skips
# otherwise, like require.
nbd_python() {
  local py
  for py in python3 /usr/bin/python3; do
    if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import nbd' 2>/dev/null; then
      command -v "$py"
      return 0
    fi
  done
  local why="no python3 with the nbd module (python3-libnbd; scripts/install-deps.sh installs it)"
  [[ ${CI:-} == true ]] && fail "prerequisite missing with CI=true: $why"
  echo "SKIP: $why" >&2
  exit 77
}
