# Shared helpers for the vblk-export tests, on top of lib.sh. Sourced by each
# export test, which is run as:
#   bash TEST.sh VBLK_FORMAT VBLK_INSPECT VBLK_EXPORT EXPORT_AID VBLKFS
VBLK_EXPORT=$(realpath "$3")
EXPORT_AID=$(realpath "$4")
VBLKFS=$(realpath "$5")
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"  # changes to a fresh work directory

vexport() { timeout "$TOOL_TIMEOUT" "$VBLK_EXPORT" "$@"; }

# use_mountpoint: for a test that mounts images with vblkfs on ./mnt: needs
# root, /dev/fuse and fusermount3 (missing: a skip, or a failure with
# CI=true), and unmounts ./mnt when the test exits.
use_mountpoint() {
  local missing=
  [[ $(id -u) -eq 0 ]] || missing="not root"
  [[ -c /dev/fuse ]] || missing="no /dev/fuse"
  command -v fusermount3 >/dev/null || missing="no fusermount3"
  if [[ -n $missing ]]; then
    [[ ${CI:-} != true ]] || fail "prerequisite missing: $missing"
    echo "SKIP: $missing"
    exit 77
  fi
  mkdir mnt
  trap 'mountpoint -q mnt && timeout 30 "$VBLKFS" umount mnt >/dev/null 2>&1; rm -rf "$WORK"' EXIT
}
aid() { timeout "$TOOL_TIMEOUT" "$EXPORT_AID" "$@"; }

# data_map FILE: the file's data extents as "start-end" lines, found with
# SEEK_DATA/SEEK_HOLE (everything else is a hole), then its size.
data_map() {
  python3 - "$1" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
size = os.fstat(fd).st_size
off = 0
while off < size:
    try:
        start = os.lseek(fd, off, os.SEEK_DATA)
    except OSError:
        break  # ENXIO: only a hole remains
    end = os.lseek(fd, start, os.SEEK_HOLE)
    print(f"{start}-{end}")
    off = end
print(f"size {size}")
PY
}

# hole_bytes FILE: bytes of FILE that are holes.
hole_bytes() {
  data_map "$1" | python3 -c '
import sys
lines = sys.stdin.read().split("\n")
size = int([l for l in lines if l.startswith("size ")][0].split()[1])
data = sum(int(b) - int(a) for a, b in (l.split("-") for l in lines if "-" in l))
print(size - data)'
}

# no_leftovers DIR: fails if an export left a temporary file in DIR.
no_leftovers() {
  local left
  left=$(find "$1" -maxdepth 1 -name '.*.vblk-export-*' | head -1)
  [[ -z $left ]] || fail "a temporary export file was left behind: $left"
}
