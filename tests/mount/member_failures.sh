# Member sets under a real workload, with every failure pattern.
#
# Two images of the --ha layout the brief names (18 data members in groups
# of 6, 3 local parity, 1 global parity, over 11 boxes: 22 member files)
# are written through vblkfs: R raw (scattered writes of mixed text and
# random data, through the FUSE disk file) and E as ext4 (losetup, mkfs,
# a mixed tree copied, sync, unmount). Then, on a copy of each per case,
# every pattern of the failure table, once failed offline with
# vblk-inject and once on the host (member files deleted, or cut short
# with their header intact):
#
#   one member; two of one group; one in every group; a whole box (box 8:
#   group 1's data member 8 and its local parity 19, which needs the
#   global parity); three of one group (beyond what one global parity
#   rebuilds).
#
# Recoverable: R exported with vblk-export has the sha256 of what was
# written; E through vblkfs passes fsck.ext4 -n and its files, mounted
# read-only, have their sha256. Beyond: vblk-export fails naming the
# members; vblkfs refuses the disk naming them when the checkpoint's
# metadata lies on lost chunks, else every 4 KiB block of R reads its
# bytes or fails with EIO (some do, never other bytes) with the cause in
# the daemon log, and E's files read back whole or fail with EIO.
#
# Last, the brief's full-size layout (38 data in groups of 13, 1 global
# parity, 2 spares, 11 boxes: 484 member files): formatted, written,
# read back; one member failed in every box still reads; a whole box
# failed is a whole stripe word lost (without --ha a box holds a word of
# its own, vblk(5)): the export fails naming that word's members; through
# vblkfs its blocks fail with EIO and every other block reads back (a box
# holding the checkpoint's metadata keeps the disk from opening: the next
# box is tried).
#
# MEMBER_TEST_MIB (default 256) is the size of each image's workload;
# MEMBER_TEST_PATTERNS (default all: one two-in-a-group one-per-group box)
# the recoverable patterns run.
# Run as: bash member_failures.sh VBLKFS VBLK_FORMAT VBLK_INSPECT VBLK_INJECT VBLK_EXPORT
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

VBLK_EXPORT=${EXTRA_ARGS[1]}
vexport() { run 120 "$VBLK_EXPORT" "$@"; }
WORKLOAD="python3 $MOUNT_LIB_DIR/member_workload.py"
MIB=${MEMBER_TEST_MIB:-256}
HA=(--data-members 18 --group-size 6 --global-parity 1 --boxes 11 --ha)
START=$(now_ns)
step() { echo "[$(elapsed_since "$START") s] $*"; }

# ---- the two written sets ----------------------------------------------------
mkdir -p sets
vformat sets/R.img --size 512M "${HA[@]}" >/dev/null
vmount sets/R.img "$WORK/mr"
run 120 $WORKLOAD write-raw "$WORK/mr/disk" expect.raw "$MIB" || fail "raw workload"
vumount "$WORK/mr"
sha_raw=$(sha256sum <expect.raw | cut -d' ' -f1)
vexport sets/R.img healthy.raw >/dev/null || fail "export of the healthy raw set"
[[ $(sha256sum <healthy.raw | cut -d' ' -f1) == "$sha_raw" ]] || fail "healthy raw set differs from what was written"
rm healthy.raw
step "raw set written: $MIB MiB, $(du -sm sets/R.img.members | cut -f1) MiB of member files"

run 60 $WORKLOAD make-tree tree "$MIB" || fail "tree"
(cd tree && find . -type f -print0 | sort -z | xargs -0 sha256sum) >tree.sums
vformat sets/E.img --size 512M "${HA[@]}" >/dev/null
vmount sets/E.img "$WORK/me"
loop=$(loop_attach "$WORK/me/disk" --direct-io=on)
run 120 mkfs.ext4 -q -F -b 4096 "$loop" || fail "mkfs.ext4"
mkdir -p fs
run 30 mount "$loop" fs || fail "mount ext4"
run 120 cp -a tree/. fs/ || fail "copy the tree"
run 60 sync
run 30 umount fs || fail "umount ext4"
loop_detach "$loop"
vumount "$WORK/me"
step "ext4 set written: $(wc -l <tree.sums) files, $(du -sm sets/E.img.members | cut -f1) MiB of member files"

# ---- failing members -----------------------------------------------------------
# copy_sets CASE: both written sets copied into a fresh CASE/.
copy_sets() {
  rm -rf "$1"
  mkdir -p "$1"
  cp -a sets/R.img sets/R.img.members sets/E.img sets/E.img.members "$1/"
}

# break_set IMAGE inject|files MEMBER...: fails the members offline with
# vblk-inject, or on the host: the first member file deleted, the others
# cut to half their size (their header kept).
break_set() {
  local img=$1 how=$2 m first=1
  shift 2
  for m in "$@"; do
    local f
    f=$img.members/$(printf 'm%03d' "$m")
    if [[ $how == inject ]]; then
      vinject "$img" member "$m" fail >/dev/null || fail "vblk-inject $img member $m fail"
    elif ((first)); then
      rm "$f"
    else
      truncate -s $(($(stat -c %s "$f") / 2)) "$f"
    fi
    first=0
  done
}

# check_raw CASE: vblk-export of CASE/R.img has the sha256 written.
check_raw() {
  vexport "$1/R.img" "$1/out.raw" >/dev/null 2>"$1/export.err" || fail "$1: export: $(cat "$1/export.err")"
  [[ $(sha256sum <"$1/out.raw" | cut -d' ' -f1) == "$sha_raw" ]] || fail "$1: exported raw set differs"
  rm "$1/out.raw"
}

# check_ext4 CASE: CASE/E.img through vblkfs (read-only): fsck.ext4 -n
# clean, the tree's sha256 mounted read-only.
check_ext4() {
  vmount "$1/E.img" "$WORK/$1/m" --read-only
  local dev
  dev=$(loop_attach "$WORK/$1/m/disk" --read-only)
  run 120 fsck.ext4 -fn "$dev" >"$1/fsck.out" 2>&1 || fail "$1: fsck.ext4 -n: $(tail -5 "$1/fsck.out")"
  mkdir -p "$1/fs"
  run 30 mount -o ro "$dev" "$1/fs" || fail "$1: mount ext4 read-only"
  (cd "$1/fs" && run 120 sha256sum -c --quiet "$WORK/tree.sums") || fail "$1: the tree differs"
  run 30 umount "$1/fs" || fail "$1: umount"
  loop_detach "$dev"
  vumount "$WORK/$1/m"
}

# The --ha layout: group g's data members 6g..6g+5, its local parity
# 18+g, the global parity 21; box b holds members b and b + 11.
declare -A PATTERN=(
  [one]="4"
  [two-in-a-group]="1 3"
  [one-per-group]="2 8 14"
  [box]="8 19"
)
for name in ${MEMBER_TEST_PATTERNS-one two-in-a-group one-per-group box}; do
  for how in inject files; do
    read -ra members <<<"${PATTERN[$name]}"
    c=case-$name-$how
    copy_sets "$c"
    if [[ $name == box && $how == inject ]]; then
      vinject "$c/R.img" box 8 fail >/dev/null || fail "vblk-inject box 8 fail"
      vinject "$c/E.img" box 8 fail >/dev/null || fail "vblk-inject box 8 fail"
    elif [[ $name == one && $how == files ]]; then
      # The lone member cut short rather than deleted: its header still valid.
      for img in "$c/R.img" "$c/E.img"; do
        f=$img.members/m004
        truncate -s $(($(stat -c %s "$f") / 2)) "$f"
      done
    else
      break_set "$c/R.img" "$how" "${members[@]}"
      break_set "$c/E.img" "$how" "${members[@]}"
    fi
    check_raw "$c"
    check_ext4 "$c"
    rm -rf "$c"
    step "$name ($how: members ${members[*]}): raw sha256 and ext4 tree intact"
  done
done

# ---- beyond the tolerance: three data members of one group ---------------------
# mount_beyond IMAGE MNT CAUSE: mounts IMAGE read-only and returns 0, or,
# when vblkfs refuses it, checks that its error names CAUSE and returns 1.
# The disk opens only if the checkpoint's metadata lies on chunks that
# can still be read; else the open fails, naming the members.
mount_beyond() {
  local log=$WORK/$(basename "$(dirname "$1")")-$(basename "$1").log rc=0
  mkdir -p "$2"
  run 30 "$VBLKFS" mount "$1" "$2" --read-only --log-file "$log" 2>"$log.err" || rc=$?
  if ((rc == 0)); then
    [[ $(fstype_at "$2") == fuse.vblkfs ]] || fail "$1: vblkfs mount returned but $2 is not mounted"
    return 0
  fi
  grep -q "$3" "$log.err" || fail "$1: mount refused without naming the cause: $(cat "$log.err")"
  echo "$1: refused: $(cat "$log.err")"
  return 1
}

# The cause named for three data members of one group ("0 1 2").
trio_cause() {
  local x y z
  read -r x y z <<<"$1"
  echo "members $x, $y and $z of group $((x / 6)) failed: beyond what the parity can rebuild"
}

# beyond_raw CASE TRIO: with TRIO failed, vblk-export of CASE/R.img fails
# naming them; mounted (returns 0), every 4 KiB block reads its bytes or
# fails with EIO, and the daemon log names the cause; else refused (1).
beyond_raw() {
  local c=$1 cause rc=0
  cause=$(trio_cause "$2")
  vexport "$c/R.img" "$c/out.raw" >/dev/null 2>"$c/export.err" || rc=$?
  ((rc != 0)) || fail "$c: export with members $2 failed succeeded"
  grep -q "$cause" "$c/export.err" || fail "$c: export error does not name the members: $(cat "$c/export.err")"
  [[ ! -e $c/out.raw ]] || fail "$c: a failed export left its output"
  mount_beyond "$c/R.img" "$WORK/$c/m" "$cause" || return 1
  counts=$(run 300 $WORKLOAD compare "$WORK/$c/m/disk" expect.raw) || fail "$c: compare"
  read -r _ good _ eio _ wrong <<<"$counts"
  echo "$c, members $2: $counts"
  ((wrong == 0)) || fail "$c: $wrong blocks read other bytes than were written"
  ((eio > 0 && good > 0)) || fail "$c: expected some blocks to fail with EIO and the others to read: $counts"
  grep -q "$cause" "$WORK/$c-R.img.log" || fail "$c: the daemon log does not name the cause"
  vumount "$WORK/$c/m"
}

# beyond_ext4 CASE TRIO: CASE/E.img mounted (returns 0): every file of the
# tree reads back whole or fails with EIO; else refused (1).
beyond_ext4() {
  local c=$1 cause
  cause=$(trio_cause "$2")
  mount_beyond "$c/E.img" "$WORK/$c/me" "$cause" || return 1
  local dev
  dev=$(loop_attach "$WORK/$c/me/disk" --read-only)
  mkdir -p "$c/fs"
  if run 30 mount -o ro "$dev" "$c/fs" 2>"$c/mount.err"; then
    read -r whole unreadable differ < <(cd "$c/fs" && python3 - "$WORK/tree.sums" <<'EOF_PY'
import hashlib, sys
whole = unreadable = differ = 0
for line in open(sys.argv[1]):
    digest, path = line.rstrip("\n").split("  ", 1)
    try:
        with open(path, "rb") as f:
            got = hashlib.sha256(f.read()).hexdigest()
    except OSError as e:
        if e.errno != 5:
            raise
        unreadable += 1
        continue
    if got == digest:
        whole += 1
    else:
        differ += 1
print(whole, unreadable, differ)
EOF_PY
    )
    echo "$c, members $2: ext4 files: $whole whole, $unreadable unreadable (EIO), $differ differ"
    ((differ == 0)) || fail "$c: $differ files read other bytes than were written"
    ((unreadable > 0)) || fail "$c: no file failed with EIO"
    run 30 umount "$c/fs" || fail "$c: umount"
  else
    echo "$c: ext4 does not mount: $(cat "$c/mount.err")"
  fi
  loop_detach "$dev"
  vumount "$WORK/$c/me"
  grep -q "$cause" "$WORK/$c-E.img.log" || fail "$c: the daemon log does not name the cause"
}

# Failed with vblk-inject: three data members of group 0, else (restored:
# nothing was written without them) of group 1, else of group 2, until
# the disk opens. Deleted: those of group 2.
c=case-beyond-inject
copy_sets "$c"
for kind in raw ext4; do
  img=$c/R.img
  [[ $kind == ext4 ]] && img=$c/E.img
  for trio in "0 1 2" "6 7 8" "12 13 14"; do
    break_set "$img" inject $trio
    "beyond_$kind" "$c" "$trio" && break
    for m in $trio; do vinject "$img" member "$m" restore >/dev/null || fail "restore member $m"; done
  done
done
rm -rf "$c"
step "beyond (inject): never other bytes; the export, the mount and reads of lost chunks name the members"
c=case-beyond-files
copy_sets "$c"
# Deleted, all three: a member cut short stays live, and past the
# tolerance its chunks read as the zeros past its end, which the records'
# checksums refuse (EIO) without naming the members.
rm "$c"/{R,E}.img.members/m01{2,3,4}
beyond_raw "$c" "12 13 14" || true
beyond_ext4 "$c" "12 13 14" || true
rm -rf "$c"
step "beyond (files): never other bytes; the export, the mount and reads of lost chunks name the members"
rm -rf sets

# ---- the brief's full-size layout: 11 boxes of 38 + 3 + 1 + 2 -------------------
FULL=(--data-members 38 --group-size 13 --global-parity 1 --spares 2 --boxes 11)
vformat F.img --size 256M "${FULL[@]}" >/dev/null
[[ $(ls F.img.members | wc -l) -eq 484 ]] || fail "expected 484 member files, found $(ls F.img.members | wc -l)"
vmount F.img "$WORK/mf"
run 60 $WORKLOAD write-raw "$WORK/mf/disk" expect-f.raw 64 || fail "full-size workload"
vumount "$WORK/mf"
vexport F.img out.raw >/dev/null || fail "export of the full-size layout"
cmp out.raw expect-f.raw || fail "full-size layout reads back other bytes"
rm out.raw
step "full-size layout: 484 members, 64 MiB written and read back"
# One member in every box (a data member of each word): everything reads.
mkdir full-one
cp -a F.img F.img.members full-one/
for b in $(seq 0 10); do vinject full-one/F.img member $((b + 11 * 5)) fail >/dev/null || fail "fail member"; done
vexport full-one/F.img full-one/out.raw >/dev/null || fail "export with a member of every box failed"
cmp full-one/out.raw expect-f.raw || fail "a member of every box failed: other bytes"
rm -rf full-one
# A whole box: without --ha it is a whole stripe word (38 data, 3 local
# and 1 global parity, 2 spares), beyond any parity: its stripes are lost,
# the other ten words' read. The export fails naming the word's members.
# A box holding the checkpoint's metadata keeps the disk from opening
# (refused, naming them); boxes are tried in turn (each restored: nothing
# was written without it) until one that does not, whose blocks read
# back or fail with EIO.
mounted=0
for box in $(seq 3 10) 0 1 2; do
  cause="of word $box group 0 failed; .*: beyond what the parity can rebuild"
  vinject F.img box "$box" fail >/dev/null || fail "vblk-inject box $box fail"
  rc=0
  vexport F.img out.raw >/dev/null 2>export.err || rc=$?
  ((rc != 0)) || fail "export with box $box failed succeeded"
  grep -q "$cause" export.err || fail "export error does not name word $box: $(cat export.err)"
  if mount_beyond "$WORK/F.img" "$WORK/mf" "$cause"; then
    counts=$(run 120 $WORKLOAD compare "$WORK/mf/disk" expect-f.raw) || fail "full-size compare"
    read -r _ good _ eio _ wrong <<<"$counts"
    echo "full-size layout, box $box failed: $counts"
    ((wrong == 0)) || fail "box $box failed: $wrong blocks read other bytes"
    ((eio > 0 && good > eio)) || fail "box $box failed: expected EIO on its word's blocks only: $counts"
    vumount "$WORK/mf"
    mounted=1
    break
  fi
  vinject F.img box "$box" restore >/dev/null || fail "vblk-inject box $box restore"
done
((mounted)) || fail "every box holds the checkpoint's metadata: no box failed lets the disk open"
step "full-size layout: a member of every box failed reads back; box $box failed loses its word only"
echo PASS
