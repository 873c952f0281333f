#!/usr/bin/env bash
# Every tool over every hand-made hostile image (see hostile_images.h):
#   vblk-inspect IMAGE, vblk-inspect --check IMAGE, vblk-export IMAGE OUT
#   (when built) and vblkfs mount IMAGE MNT.
# For each run: no crash (exit < 128), no hang (a time limit), done within
# seconds; a failure says so in one line on stderr, "<tool>: ...", naming
# the image. Per the image's expectation in the manifest:
#   reject   every tool fails and nothing stays mounted;
#   damaged  --check and export fail, export --salvage exits 3 (unreadable
#            blocks written as zeros, named on stderr); inspect and mount
#            may succeed;
#   valid    inspect, --check and mount succeed (export may refuse BAD
#            blocks, cleanly); after mount and umount --check still passes.
# The mount part needs root and /dev/fuse: without them it is skipped, or
# fails with CI=true.
#
# usage: hostile.sh MAKE_HOSTILE VBLK_INSPECT VBLK_EXPORT VBLKFS
set -euo pipefail

MAKE_HOSTILE=$(realpath "$1")
VBLK_INSPECT=$(realpath "$2")
VBLK_EXPORT=$(realpath "$3")
VBLKFS=$(realpath "$4")
# Seconds a run may take before it counts as slow (a failure), and before
# it is killed as a hang.
SLOW=${HOSTILE_SLOW_SECONDS:-10}
HANG=${HOSTILE_HANG_SECONDS:-30}

WORK=$(mktemp -d /var/tmp/vblk-hostile.XXXXXX)
MNT=$WORK/mnt
mkdir -p "$MNT"
cleanup() {
  local rc=$?
  set +e
  if mountpoint -q "$MNT"; then
    timeout 30 "$VBLKFS" umount "$MNT" >/dev/null 2>&1 || timeout 10 fusermount3 -uz "$MNT" || umount -l "$MNT"
  fi
  mountpoint -q "$MNT" || rm -rf --one-file-system "$WORK"
  exit "$rc"
}
trap cleanup EXIT

failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

can_mount=1
why=""
if [[ $(id -u) -ne 0 ]]; then
  why="not running as root"
elif [[ ! -c /dev/fuse ]]; then
  why="no /dev/fuse"
elif ! command -v fusermount3 >/dev/null || ! command -v mountpoint >/dev/null; then
  why="fusermount3 or mountpoint missing"
fi
if [[ -n $why ]]; then
  if [[ ${CI:-} == true ]]; then
    echo "FAIL: prerequisite missing with CI=true: $why" >&2
    exit 1
  fi
  echo "NOTE: vblkfs mount part skipped: $why"
  can_mount=0
fi

"$MAKE_HOSTILE" "$WORK/images"

# tool_run NAME COMMAND...: runs one tool with the time limits; sets RC,
# ELAPSED and leaves its stderr (spdlog lines removed) in $WORK/err.
tool_run() {
  local t0 t1
  t0=$(date +%s%N)
  RC=0
  timeout -k 5 "$HANG" "$@" >"$WORK/out" 2>"$WORK/err.raw" </dev/null || RC=$?
  t1=$(date +%s%N)
  ELAPSED=$(((t1 - t0) / 1000000))
  grep -v '^\[[0-9-]* [0-9:.]*\] \[' "$WORK/err.raw" >"$WORK/err" || true
}

# check_run IMAGE WHAT EXPECT(fail|ok|any) TOOLNAME: judges the last run.
check_run() {
  local img=$1 what=$2 expect=$3 prog=$4 base
  base=$(basename "$img")
  if ((RC == 124 || RC == 137)); then
    fail "$what $base: hung (killed after ${HANG}s)"
    return
  fi
  ((RC < 128)) || { fail "$what $base: crashed (exit $RC): $(head -c 300 "$WORK/err.raw")"; return; }
  ((ELAPSED <= SLOW * 1000)) || fail "$what $base: took ${ELAPSED} ms"
  if ((RC != 0)); then
    [[ $expect != ok ]] || { fail "$what $base: failed (exit $RC) on a valid image: $(cat "$WORK/err")"; return; }
    local lines
    lines=$(wc -l <"$WORK/err")
    ((lines == 1)) || { fail "$what $base: $lines lines on stderr, expected one: $(head -c 500 "$WORK/err")"; return; }
    grep -q "^$prog: " "$WORK/err" || fail "$what $base: message does not start with '$prog: ': $(cat "$WORK/err")"
    grep -qF "$base" "$WORK/err" || fail "$what $base: message does not name the image: $(cat "$WORK/err")"
  else
    [[ $expect != fail ]] || fail "$what $base: succeeded on an image that must be refused"
  fi
}

count=0 runs=0 mounted=0 max_ms=0
declare -A by_expect=()
while IFS=$'\t' read -r name expect desc; do
  img=$WORK/images/$name.img
  count=$((count + 1))
  by_expect[$expect]=$((${by_expect[$expect]:-0} + 1))
  case $expect in
    reject) e_inspect=fail e_check=fail e_export=fail e_mount=fail ;;
    damaged) e_inspect=any e_check=fail e_export=fail e_mount=any ;;
    valid) e_inspect=ok e_check=ok e_export=any e_mount=ok ;;
    *) fail "$name: unknown expectation '$expect'"; continue ;;
  esac
  tool_run "$VBLK_INSPECT" "$img"
  check_run "$img" "vblk-inspect" $e_inspect vblk-inspect
  ((ELAPSED > max_ms)) && max_ms=$ELAPSED
  tool_run "$VBLK_INSPECT" --check "$img"
  check_run "$img" "vblk-inspect --check" $e_check vblk-inspect
  ((ELAPSED > max_ms)) && max_ms=$ELAPSED
  runs=$((runs + 2))
  if [[ -x $VBLK_EXPORT ]]; then
    rm -f "$WORK/out.raw"
    tool_run "$VBLK_EXPORT" "$img" "$WORK/out.raw"
    check_run "$img" "vblk-export" $e_export vblk-export
    ((ELAPSED > max_ms)) && max_ms=$ELAPSED
    rm -f "$WORK/out.raw"
    runs=$((runs + 1))
    if [[ $expect == damaged ]]; then
      tool_run "$VBLK_EXPORT" --salvage "$img" "$WORK/out.raw"
      ((ELAPSED <= SLOW * 1000)) || fail "vblk-export --salvage $name: took ${ELAPSED} ms"
      ((ELAPSED > max_ms)) && max_ms=$ELAPSED
      ((RC == 3)) || fail "vblk-export --salvage $name: exit $RC, expected 3: $(head -c 300 "$WORK/err")"
      grep -q "^vblk-export: .*$name.img: salvaged: [1-9][0-9]* unreadable blocks\? written as zeros$" "$WORK/err" ||
        fail "vblk-export --salvage $name: no count of salvaged blocks: $(tail -c 300 "$WORK/err")"
      rm -f "$WORK/out.raw"
      runs=$((runs + 1))
    fi
  fi
  # The mount goes last: a writable open writes to the image.
  if ((can_mount)); then
    tool_run "$VBLKFS" mount "$img" "$MNT" --log-file "$WORK/vblkfs.log"
    check_run "$img" "vblkfs mount" $e_mount vblkfs
    ((ELAPSED > max_ms)) && max_ms=$ELAPSED
    runs=$((runs + 1))
    if mountpoint -q "$MNT"; then
      if ((RC != 0)); then
        fail "vblkfs mount $name: exited $RC but left $MNT mounted"
      else
        mounted=$((mounted + 1))
        # The disk reads (EIO is allowed where the image is damaged).
        timeout "$HANG" dd if="$MNT/disk" of=/dev/null bs=1M count=8 status=none 2>/dev/null || true
      fi
      tool_run "$VBLKFS" umount "$MNT"
      check_run "$img" "vblkfs umount" ok vblkfs
      if mountpoint -q "$MNT"; then
        fail "vblkfs umount $name: still mounted"
        timeout 10 fusermount3 -uz "$MNT" || umount -l "$MNT"
      fi
      if [[ $expect == valid ]]; then
        tool_run "$VBLK_INSPECT" --check "$img"
        check_run "$img" "vblk-inspect --check after mount and umount" ok vblk-inspect
      fi
      if [[ $name == feature-autoclear-unknown ]]; then
        bits=$(od -An -tx8 -j32 -N8 "$img" | tr -d ' ')
        [[ $bits == 0000000000000000 ]] || fail "$name: unknown autoclear bits $bits still set after a writable mount"
      fi
    elif ((RC == 0)); then
      fail "vblkfs mount $name: exited 0 but nothing is mounted"
    fi
  fi
done <"$WORK/images/manifest.tsv"

summary=""
for k in "${!by_expect[@]}"; do summary+="${summary:+, }${by_expect[$k]} $k"; done
echo "hostile images: $count ($summary); $runs tool runs, $mounted mounts served; slowest run ${max_ms} ms"
if ((failures > 0)); then
  echo "FAIL: $failures problems" >&2
  exit 1
fi
echo PASS
