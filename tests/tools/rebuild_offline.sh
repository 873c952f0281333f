# vblk-rebuild on an image at rest: a member failed offline with
# vblk-inject and written without is rebuilt onto the spare (the data
# compared through vblk-export with the member's file deleted), the --json
# document against vblk-rebuild(1), and each refusal's exit status and
# one line: nothing to rebuild (3), no free spare (4), a lost group (5),
# not a member set and a missing file (1), a wrong option (2).
# The data is written through a vblkfs mount (a member set takes no --from).
# Run as: bash rebuild_offline.sh VBLK_FORMAT VBLK_INSPECT VBLK_INJECT VBLK_REBUILD VBLK_EXPORT VBLKFS MANDIR
#         JSON_CHECK
set -euo pipefail
FORMAT=$(realpath "$1") INSPECT=$(realpath "$2") INJECT=$(realpath "$3") REBUILD=$(realpath "$4")
EXPORT=$(realpath "$5") VBLKFS=$(realpath "$6") MAN=$(realpath "$7") JSON_CHECK=$(realpath "$8")
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
missing=
[[ $(id -u) -eq 0 ]] || missing="not root"
[[ -c /dev/fuse ]] || missing="no /dev/fuse"
if [[ -n $missing ]]; then
  [[ ${CI:-} != true ]] || fail "prerequisite missing: $missing"
  echo "SKIP: $missing"
  exit 77
fi
WORK=$(mktemp -d)
trap 'mountpoint -q "$WORK/mnt" && timeout 30 "$VBLKFS" umount "$WORK/mnt" >/dev/null 2>&1; rm -rf "$WORK"' EXIT
cd "$WORK"
mkdir mnt
# put IMAGE: data.bin written to IMAGE's disk.
put() {
  timeout 30 "$VBLKFS" mount "$1" mnt --no-auto-rebuild
  dd if=data.bin of=mnt/disk bs=1M conv=notrunc,fsync status=none
  timeout 60 "$VBLKFS" umount mnt >/dev/null
}
# expect_exit CODE PATTERN ARGS...: vblk-rebuild exits CODE with one line on
# stderr matching PATTERN.
expect_exit() {
  local want=$1 pattern=$2 rc=0
  shift 2
  "$REBUILD" "$@" >out.txt 2>err.txt || rc=$?
  [[ $rc -eq $want ]] || fail "vblk-rebuild $*: exit $rc, expected $want: $(cat err.txt)"
  [[ $(wc -l <err.txt) -eq 1 ]] && grep -Eq "$pattern" err.txt || fail "vblk-rebuild $*: $(cat err.txt)"
}

"$FORMAT" img --size 64M --level 0 --data-members 4 --group-size 2 --global-parity 1 --spares 1 >/dev/null
expect_exit 3 "^vblk-rebuild: img: nothing to rebuild: every member is ok$" img
# Data, member 2 failed, data written without it (it is stale).
head -c $((6 << 20)) /dev/urandom >data.bin
put img
"$INJECT" img member 2 fail >/dev/null
"$REBUILD" img --json >rebuild.json || fail "vblk-rebuild img --json: exit $?"
python3 "$JSON_CHECK" "$MAN/vblk-rebuild.1" vblk-rebuild/1 rebuild.json \
  'j["live"] is False' 'j["image"] == "img"' 'len(j["rebuilt"]) == 1' 'j["rebuilt"][0]["member"] == 2' \
  'j["rebuilt"][0]["onto"] == 7' 'j["rebuilt"][0]["read_from"] == [3, 5]' 'j["refusal"] is None' \
  'j["rebuilt"][0]["member_state"] == "replaced"' 'j["rebuilt"][0]["bytes_written"] > 0'
rm img.members/m002
"$EXPORT" img out.raw >/dev/null || fail "export after the rebuild"
cmp -n $((6 << 20)) out.raw data.bin || fail "data differs after the rebuild with member 2's file gone"
"$INSPECT" img --check | grep -q '^check: clean' || fail "check not clean after the rebuild"
# The text output: one line naming what went where.
"$INJECT" img member 0 fail >/dev/null
rc=0
"$REBUILD" img >text.txt 2>text.err || rc=$?
[[ $rc -eq 4 ]] || fail "no spare: exit $rc: $(cat text.err)"
grep -q "^vblk-rebuild: img: member 0 (img.members/m000): no free spare" text.err || fail "no spare: $(cat text.err)"
"$REBUILD" img --json >nospare.json && fail "no spare --json: exit 0"
python3 "$JSON_CHECK" "$MAN/vblk-rebuild.1" vblk-rebuild/1 nospare.json 'j["refusal"] == "no_free_spare"' \
  'j["rebuilt"] == []'
# Three of group 0 gone: lost.
"$INJECT" img member 1 fail >/dev/null
"$INJECT" img member 4 fail >/dev/null
expect_exit 5 "^vblk-rebuild: img: cannot rebuild: members 0, 1 and 4 of group 0 failed: beyond what the parity can rebuild$" img
# No spare at all; a failed member that missed no writes comes back by
# a restore, and then there is nothing to rebuild.
"$FORMAT" img2 --size 64M --level 0 --data-members 4 --group-size 2 --global-parity 1 >/dev/null
put img2
"$INJECT" img2 member 3 fail >/dev/null
expect_exit 4 "^vblk-rebuild: img2: member 3 \(img2.members/m003\): no free spare" img2
"$INJECT" img2 member 3 restore >/dev/null
expect_exit 3 "nothing to rebuild" img2
"$FORMAT" img3 --size 64M >/dev/null
# Not a member set; a missing file; quiet prints nothing.
expect_exit 1 "^vblk-rebuild: img3: not a member set" img3
expect_exit 1 "^vblk-rebuild: nothere: " nothere
expect_exit 2 "" img --bogus
echo "ok: vblk-rebuild offline"
