#!/usr/bin/env bash
# The main job, end to end on a small default image: build vblk, make a raw
# disk with real files on it, import it as a compressed image, inspect it,
# scrub it, and show that a flipped byte is caught.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
[[ -f build/build.ninja ]] || meson setup build >/dev/null
ninja -C build >/dev/null

work=${VBLK_DEMO_DIR:-$(mktemp -d)}
trap 'rm -rf "$work"' EXIT
bin=build/tools
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "a 1 GiB image: every block FREE"
$bin/vblk-format "$work/empty.img" --size 1G --label demo
$bin/vblk-inspect --no-map "$work/empty.img" | sed -n '/^blocks:/,/^  bad:/p'

step "a 256 MiB raw ext4 disk holding a copy of /usr/share/doc"
truncate -s 256M "$work/disk.raw"
mkfs.ext4 -q -F -d /usr/share/doc "$work/disk.raw" 2>/dev/null ||
  { mkfs.ext4 -q -F "$work/disk.raw"; echo "(mkfs.ext4 -d unavailable: empty filesystem)"; }
ls -ls "$work/disk.raw"

step "import it: vblk-format --from"
$bin/vblk-format "$work/disk.img" --from "$work/disk.raw"
ls -ls "$work/disk.img"

step "inspect it"
$bin/vblk-inspect "$work/disk.img"

step "scrub every checksum"
$bin/vblk-inspect --check "$work/disk.img"

step "flip one stored byte and scrub again (must fail, naming the block)"
offset=$($bin/vblk-inspect --json --block 1 "$work/disk.img" | python3 -c \
  'import json,sys; b=json.load(sys.stdin); print(b["record_offset"] + 64 + 10)')
printf '\xff' | dd of="$work/disk.img" bs=1 seek="$offset" conv=notrunc status=none
if $bin/vblk-inspect --check "$work/disk.img"; then
  echo "demo: the damaged image passed the check" >&2
  exit 1
fi
echo
echo "demo: done"
