#!/usr/bin/env bash
# meson install into a temporary DESTDIR, then use what was installed: every
# command, the man pages, the public headers and the pkg-config file
# (building the library example of doc/library.md),
# bash completion, the systemd unit, and mounting through mount(8) and an fstab line.
# usage: install.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$(realpath "$1") src=$(realpath "$2")
fail() { echo "FAIL: $*" >&2; exit 1; }
require() {
  if [[ $(id -u) -ne 0 || ! -e /dev/fuse ]]; then
    [[ ${CI:-} == true ]] && fail "needs root and /dev/fuse"
    echo "SKIP: needs root and /dev/fuse"; exit 77
  fi
  for c in pkg-config c++ mount umount nbdkit; do
    command -v "$c" >/dev/null || { [[ ${CI:-} == true ]] && fail "missing $c"; echo "SKIP: missing $c"; exit 77; }
  done
  [[ -f /usr/share/bash-completion/bash_completion ]] ||
    { [[ ${CI:-} == true ]] && fail "missing bash-completion"; echo "SKIP: missing bash-completion"; exit 77; }
}
require

work=$(mktemp -d /var/tmp/vblk-install.XXXXXX)
dest=$work/dest
mnt=$work/mnt
link=
cleanup() {
  mountpoint -q "$mnt" 2>/dev/null && { umount "$mnt" || umount -l "$mnt"; }
  [[ -n $link ]] && rm -f "$link"
  rm -rf "$work"
}
trap cleanup EXIT

echo "== meson install into $dest"
DESTDIR=$dest meson install -C "$build" --no-rebuild --quiet
prefix=$(meson introspect "$build" --buildoptions | python3 -c \
  'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"))')
root=$dest$prefix
bin=$root/bin
for cmd in vblkfs vblk-format vblk-inspect vblk-inject vblk-export; do
  [[ -x $bin/$cmd ]] || fail "$cmd not installed"
  "$bin/$cmd" --version | grep -q "$cmd" || fail "$cmd --version"
  man_page=$(find "$root/share/man/man1" -name "$cmd.1*" | head -1)
  [[ -n $man_page ]] || fail "man page $cmd.1 not installed"
  man -l "$man_page" >/dev/null 2>&1 || fail "man page $cmd.1 does not render"
  find "$root/share/bash-completion/completions" -name "$cmd" | grep -q . || fail "completion for $cmd not installed"
done
find "$root/share/man/man5" -name 'vblk.5*' | grep -q . || fail "vblk.5 not installed"
[[ -f $root/include/vblk/driver.h ]] || fail "headers not installed"

echo "== vblkfs@.service, in systemd's unit directory, running the installed vblkfs"
# (systemd_service in the mount suite verifies the unit and runs its commands.)
unit_dir=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null || echo /lib/systemd/system)
unit=$dest$unit_dir/vblkfs@.service
[[ -f $unit ]] || fail "vblkfs@.service not installed at $unit"
[[ $(grep -c "^Exec[A-Za-z]*=$prefix/bin/vblkfs " "$unit") -eq 2 ]] ||
  fail "$unit: ExecStart/ExecStop do not run $prefix/bin/vblkfs: $(grep ^Exec "$unit")"

echo "== the nbdkit plugin, in nbdkit's plugin directory"
plugin=$dest$(pkg-config --variable=plugindir nbdkit)/nbdkit-vblk-plugin.so
[[ -f $plugin ]] || fail "nbdkit plugin not installed at $plugin"
nbdkit --dump-plugin "$plugin" | grep -q '^name=vblk$' || fail "nbdkit cannot load $plugin"
man_page=$(find "$root/share/man/man1" -name "nbdkit-vblk-plugin.1*" | head -1)
[[ -n $man_page ]] && man -l "$man_page" >/dev/null 2>&1 || fail "man page nbdkit-vblk-plugin.1 not installed"

echo "== build the library example (doc/library.md) against the installed pkg-config file"
pcdir=$(dirname "$(find "$root" -name vblk.pc | head -1)")
[[ -d $pcdir ]] || fail "vblk.pc not installed"
export PKG_CONFIG_PATH=$pcdir PKG_CONFIG_SYSROOT_DIR=$dest
# Each installed header on its own: one that includes a header of the
# source tree (src/) compiles in the build and fails here.
cflags=$(pkg-config --cflags vblk)
for h in "$root"/include/vblk/*.h; do
  # shellcheck disable=SC2086
  printf '#include <vblk/%s>\n' "${h##*/}" | c++ -std=c++20 -fsyntax-only $cflags -x c++ - ||
    fail "installed header vblk/${h##*/} does not compile on its own"
done
flags=$(pkg-config --cflags --libs vblk)
# shellcheck disable=SC2086
c++ -std=c++20 "$src/tests/install/example.cc" $flags -o "$work/example"
libdir=$(dirname "$pcdir")  # the pkgconfig directory sits in libdir
"$bin/vblk-format" "$work/img" --size 64M >/dev/null
printf 'hello, disk' | dd of="$work/raw" bs=1 conv=notrunc status=none
truncate -s 64M "$work/raw"
"$bin/vblk-format" "$work/img2" --from "$work/raw" >/dev/null
out=$(LD_LIBRARY_PATH=$libdir "$work/example" "$work/img2")
echo "$out"
[[ $out == *"block 0 is USED, starts with: 68 65 6c 6c 6f 2c 20 64"* ]] || fail "example output: $out"

echo "== bash completion"
comp=$(bash -c "source /usr/share/bash-completion/bash_completion; source '$root/share/bash-completion/completions/vblk-format'
  COMP_WORDS=(vblk-format x.img --block-s); COMP_CWORD=2; COMP_LINE='vblk-format x.img --block-s'; COMP_POINT=\${#COMP_LINE}
  _vblk_format; echo \"\${COMPREPLY[*]}\"
  COMP_WORDS=(vblk-format x.img --block-size ''); COMP_CWORD=3; COMP_LINE='vblk-format x.img --block-size '; COMP_POINT=\${#COMP_LINE}
  _vblk_format; echo \"\${COMPREPLY[*]}\"
  source '$root/share/bash-completion/completions/vblkfs'
  COMP_WORDS=(vblkfs m); COMP_CWORD=1; COMP_LINE='vblkfs m'; COMP_POINT=\${#COMP_LINE}
  _vblkfs; echo \"\${COMPREPLY[*]}\"")
echo "$comp"
grep -q -- "--block-size" <<<"$comp" || fail "completion of --block-s"
grep -q "4096" <<<"$comp" || fail "completion of block sizes"
grep -q "mount" <<<"$comp" || fail "completion of vblkfs subcommands"

echo "== mount -t fuse.vblkfs and an fstab line"
# mount.fuse3 runs the helper from the standard PATH, so the installed
# vblkfs has to be found there.
mkdir -p "$mnt"
if ! command -v vblkfs >/dev/null; then
  link=/usr/local/bin/vblkfs
  ln -s "$bin/vblkfs" "$link"
fi
mount -t fuse.vblkfs "$work/img" "$mnt" -o ro,cache-size=128M
[[ -r $mnt/disk && ! -w $mnt/disk ]] || fail "read-only mount via mount -t"
[[ $(stat -c %s "$mnt/disk") == 67108864 ]] || fail "disk size via mount -t"
umount "$mnt"
for _ in $(seq 100); do "$bin/vblk-inspect" --no-map "$work/img" >/dev/null 2>&1 && break; sleep 0.1; done
"$bin/vblk-inspect" --no-map "$work/img" >/dev/null || fail "daemon did not release the image after umount"

printf '%s %s fuse.vblkfs nofail,x-systemd.requires=local-fs.target,cache-size=32M,name=vda 0 0\n' \
  "$work/img" "$mnt" >"$work/fstab"
mount -T "$work/fstab" "$mnt"
[[ -w $mnt/vda ]] || fail "fstab mount: $mnt/vda"
printf 'fstab' | dd of="$mnt/vda" bs=1 seek=4096 conv=notrunc status=none
umount "$mnt"
for _ in $(seq 100); do "$bin/vblk-inspect" --no-map "$work/img" >/dev/null 2>&1 && break; sleep 0.1; done
"$bin/vblk-inspect" --block 1 "$work/img" | grep -q "fstab" || fail "write through the fstab mount not in the image"
echo "install: ok"
