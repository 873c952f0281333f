# Shared helpers for the mount tests. Sourced by each test script, which is
# run as: bash TEST.sh VBLKFS VBLK_FORMAT VBLK_INSPECT [EXTRA...]
#
# On sourcing: checks the prerequisites (see require), makes a private work
# directory under /var/tmp and installs a cleanup trap that, whatever
# happens, unmounts every mount under the work directory (innermost first),
# detaches every loop device backed by a file under it, unmounts vblkfs
# (vblkfs umount, then fusermount3 -u, then umount -l), kills any vblkfs
# daemon still serving from it, restores changed sysctls and removes it.
set -euo pipefail

VBLKFS=$(realpath "$1")
VBLK_FORMAT=$(realpath "$2")
VBLK_INSPECT=$(realpath "$3")
shift 3
# Further arguments (test aids), made absolute before the cd below.
EXTRA_ARGS=()
for a in "$@"; do
  if [[ -e $a ]]; then EXTRA_ARGS+=("$(realpath "$a")"); else EXTRA_ARGS+=("$a"); fi
done
MOUNT_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$(dirname "${BASH_SOURCE[0]}")/../prereq.sh"


# require [COMMAND...]: root, /dev/fuse, loop devices and the commands every
# mount test uses (plus any given). A missing one is a failure with CI=true
# and a meson skip (exit 77) otherwise.
require() {
  local why=""
  if [[ $(id -u) -ne 0 ]]; then
    why="not running as root"
  elif [[ ! -c /dev/fuse ]]; then
    why="no /dev/fuse"
  elif ! timeout 10 losetup -f >/dev/null 2>&1; then
    why="no loop device support (losetup -f fails)"
  else
    local c
    for c in mkfs.ext4 e2fsck fstrim losetup python3 sha256sum fusermount3 mountpoint timeout "$@"; do
      if ! command -v "$c" >/dev/null 2>&1; then
        why="missing command: $c"
        break
      fi
    done
  fi
  [[ -z $why ]] || missing_prerequisite "$why"
}
require

# Everything goes to /var/tmp: /tmp may be a small tmpfs.
WORK=$(mktemp -d /var/tmp/vblk-mount-test.XXXXXX)
cd "$WORK"
echo "work directory: $WORK"

SAVED_SYSCTLS=()   # "key=value" to write back on exit
BG_PIDS=()         # background processes this test started

# mountinfo writes a space in a path as \040 (octal escapes): awk's mp
# is field 5 unescaped.
MOUNTINFO_AWK='function unesc(s,  out, c) {
    out = ""
    while (match(s, /\\[0-7][0-7][0-7]/)) {
      c = substr(s, RSTART + 1, 3)
      out = out substr(s, 1, RSTART - 1) sprintf("%c", substr(c, 1, 1) * 64 + substr(c, 2, 1) * 8 + substr(c, 3, 1))
      s = substr(s, RSTART + 4)
    }
    return out s
  }
  { mp = unesc($5) }'

# The mountpoints in /proc/self/mountinfo at or under DIR, innermost
# (most recently mounted) first.
mounts_under() {
  awk -v d="$1" "$MOUNTINFO_AWK"' mp == d || index(mp, d "/") == 1 { print mp }' /proc/self/mountinfo | tac
}

# is_mounted DIR: something is mounted exactly at DIR.
is_mounted() { awk -v d="$1" "$MOUNTINFO_AWK"' mp == d { f = 1 } END { exit !f }' /proc/self/mountinfo; }

# fstype_at DIR: the filesystem type mounted at DIR (the last one).
fstype_at() {
  awk -v d="$1" "$MOUNTINFO_AWK"' mp == d { for (i = 7; $i != "-"; i++); t = $(i + 1) } END { print t }' \
    /proc/self/mountinfo
}

# Loop devices whose backing file is at or under DIR.
loops_under() {
  losetup -l -n -O NAME,BACK-FILE 2>/dev/null | awk -v d="$1" '{ n = $1; $1 = ""; sub(/^ /, ""); if (index($0, d "/") == 1) print n }'
}

# Pids of vblkfs processes (daemons) whose command line mentions DIR.
vblkfs_pids_under() {
  local p
  for p in /proc/[0-9]*; do
    [[ $(readlink "$p/exe" 2>/dev/null) == "$VBLKFS" ]] || continue
    alive "${p#/proc/}" || continue
    local args=() a
    mapfile -d '' args <"$p/cmdline" 2>/dev/null || continue
    for a in "${args[@]}"; do
      if [[ $a == "$1" || $a == "$1"/* ]]; then
        echo "${p#/proc/}"
        break
      fi
    done
  done
  return 0
}

cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  local pid m dev k
  for pid in "${BG_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null; done
  for pid in "${BG_PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  # Filesystems stacked on our loop devices first, then the loop devices,
  # then vblkfs itself.
  for m in $(mounts_under "$WORK"); do
    [[ $(fstype_at "$m") == fuse.vblkfs ]] && continue
    timeout 30 umount "$m" 2>/dev/null || timeout 10 umount -l "$m"
  done
  for dev in $(loops_under "$WORK"); do timeout 30 losetup -d "$dev"; done
  for m in $(mounts_under "$WORK"); do
    timeout 60 "$VBLKFS" umount --timeout 30 "$m" >/dev/null 2>&1 ||
      timeout 10 fusermount3 -u "$m" 2>/dev/null || timeout 10 umount -l "$m"
  done
  for pid in $(vblkfs_pids_under "$WORK"); do
    echo "cleanup: killing leftover vblkfs daemon $pid" >&2
    kill -KILL "$pid" 2>/dev/null
  done
  for k in "${SAVED_SYSCTLS[@]}"; do sysctl -q -w "$k" >/dev/null; done
  if [[ $rc -ne 0 && $rc -ne 77 ]]; then
    local log
    for log in "$WORK"/*.log; do
      [[ -s $log ]] || continue
      echo "---- last lines of $log ----" >&2
      tail -n 20 "$log" >&2
    done
  fi
  if [[ -n $(mounts_under "$WORK") ]]; then
    echo "cleanup: still mounted under $WORK, not removing it:" >&2
    mounts_under "$WORK" >&2
    [[ $rc -eq 0 ]] && rc=1
  else
    rm -rf --one-file-system "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# set_sysctl KEY VALUE: changes a sysctl for this test; restored on exit.
# The four vm.dirty_{,background_}{bytes,ratio} knobs are saved together,
# before the first change to any of them (setting *_bytes zeroes *_ratio and
# vice versa, so the one that was non-zero is written back).
set_sysctl() {
  local key=$1 value=$2 k v
  if [[ $key == vm.dirty_* ]]; then
    [[ " ${SAVED_SYSCTLS[*]} " == *" vm.dirty_"* ]] ||
    for k in vm.dirty_bytes vm.dirty_ratio vm.dirty_background_bytes vm.dirty_background_ratio; do
      v=$(sysctl -n "$k")
      [[ $v != 0 ]] && SAVED_SYSCTLS+=("$k=$v")
    done
  else
    SAVED_SYSCTLS+=("$key=$(sysctl -n "$key")")
  fi
  sysctl -q -w "$key=$value" >/dev/null
}

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

vformat() { run 60 "$VBLK_FORMAT" "$@"; }
vinspect() { run 120 "$VBLK_INSPECT" "$@"; }
# The fault-injection scripts get vblk-inject as their first extra argument.
VBLK_INJECT=${EXTRA_ARGS[0]:-}
vinject() { run 60 "$VBLK_INJECT" "$@"; }

# vmount IMAGE MOUNTPOINT [OPTIONS...]: mounts with a log file beside the
# work directory's other files; the mountpoint is created if needed.
vmount() {
  local img=$1 mnt=$2
  shift 2
  mkdir -p "$mnt"
  run 30 "$VBLKFS" mount "$img" "$mnt" --log-file "${VMOUNT_LOG:-$WORK/vblkfs-$(basename "$mnt").log}" "$@" ||
    fail "vblkfs mount $img $mnt failed"
  [[ $(fstype_at "$mnt") == fuse.vblkfs ]] || fail "vblkfs mount returned but $mnt is not a vblkfs mount"
}

# vumount MOUNTPOINT: vblkfs umount, which waits for the daemon to flush and
# release the image.
vumount() { run 90 "$VBLKFS" umount "$1" || fail "vblkfs umount $1 failed"; }

# loop_attach FILE [LOSETUP OPTIONS...]: prints the new loop device.
loop_attach() {
  local file=$1
  shift
  run 30 losetup -f --show "$@" "$file" || fail "losetup $file failed"
}

loop_detach() { run 30 losetup -d "$1" || fail "losetup -d $1 failed"; }

# ext4_on_vblk SIZE: a fresh image of SIZE at $WORK/img mounted at $WORK/m,
# a direct-I/O loop device on its disk file, and ext4 (4 KiB blocks, so
# file-system block N is disk block N) on it mounted at $WORK/fs. Sets IMG,
# MNT, FS and LOOP.
ext4_on_vblk() {
  IMG=$WORK/img
  MNT=$WORK/m
  FS=$WORK/fs
  mkdir -p "$FS"
  vformat "$IMG" --size "$1"
  vmount "$IMG" "$MNT"
  LOOP=$(loop_attach "$MNT/disk" --direct-io=on)
  run 120 mkfs.ext4 -q -F -b 4096 "$LOOP" || fail "mkfs.ext4"
  run 30 mount "$LOOP" "$FS" || fail "mount $LOOP"
}

# alive PID: the process exists and is not a zombie (a daemonized vblkfs is
# reparented to init, which may reap it only later).
alive() {
  local st
  st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n $st && $st != Z && $st != X ]]
}

# The pid of the vblkfs daemon serving MOUNTPOINT (empty if none).
daemon_pid() { vblkfs_pids_under "$1" | head -n 1; }

# image_free IMAGE: no process holds the image's write lock (vblk-inspect,
# which takes a shared lock, can open it).
image_free() { timeout 30 "$VBLK_INSPECT" --json "$1" >/dev/null 2>&1; }

# wait_until SECONDS COMMAND...: polls COMMAND every 0.1 s; fails the
# caller's check (returns 1) if it never succeeds in time.
wait_until() {
  local secs=$1
  shift
  local deadline=$((SECONDS + secs))
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

# inspect_json IMAGE OUT: vblk-inspect --json into OUT.
inspect_json() { vinspect --json "$1" >"$2" || fail "vblk-inspect --json $1 failed"; }

# check_clean IMAGE: vblk-inspect --check passes.
check_clean() {
  local out
  out=$(vinspect --check "$1" 2>&1) || fail "vblk-inspect --check $1: $out"
  echo "$out"
}

# json_get FILE EXPR: evaluates the Python expression EXPR over the JSON
# document in FILE bound to `j`, printing the result.
json_get() {
  python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# Bytes the host filesystem really allocates for FILE.
host_bytes() { echo $(($(stat -c '%b * %B' "$1"))); }

mib() { python3 -c 'import sys; print(f"{int(sys.argv[1]) / 1048576:.1f} MiB")' "$1"; }

# elapsed_since START_NS: seconds since a `date +%s%N` stamp, 2 decimals.
now_ns() { date +%s%N; }
elapsed_since() { python3 -c 'import sys,time; print(f"{(time.time_ns() - int(sys.argv[1])) / 1e9:.2f}")' "$1"; }
