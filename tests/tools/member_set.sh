# vblk-format's member-set options (vblk(5), MEMBER SETS): the member files
# under IMAGE.members/ or round-robin over --member-dir, wrong layouts
# refused before anything is written, a mounted disk written and read back
# through vblk-export with a member file deleted, --check clean, and a
# member file of another image refused by name.
source "$(dirname "${BASH_SOURCE[0]}")/export_lib.sh"

use_mountpoint

# Wrong command lines: exit 2, one line, nothing written.
for args in "--group-size 4" "--data-members 4 --group-size 0" "--data-members 0" \
            "--data-members 4 --global-parity 17" "--data-members 12 --group-size 4 --boxes 3 --ha" \
            "--data-members 4 --boxes 2 --member-dir ."; do
  rc=0
  vformat bad --size 64M $args >out.txt 2>err.txt || rc=$?
  [[ $rc -eq 2 ]] || fail "'$args': exit $rc, expected 2: $(cat err.txt)"
  [[ $(wc -l <err.txt) -eq 1 ]] || fail "'$args': more than one line: $(cat err.txt)"
  [[ ! -e bad && ! -e bad.members ]] || fail "'$args' left files behind"
done
grep -q "needs at least 8 boxes" <(vformat bad --size 64M --data-members 12 --group-size 4 --boxes 3 --ha 2>&1) ||
  fail "--ha refusal does not say why"

vformat img --size 256M --data-members 4 --group-size 2 --global-parity 1 --spares 1 --level 0 >fmt.txt
[[ $(ls img.members | wc -l) -eq 8 ]] || fail "expected 8 member files: $(ls img.members)"
vinspect img | grep -q 'member_set' || fail "feature not shown"

mkdir box0 box1
vformat boxed --size 64M --data-members 2 --global-parity 1 --boxes 2 --member-dir box0 --member-dir box1 >/dev/null
[[ -e box0/boxed.m000 && -e box1/boxed.m001 ]] || fail "members not round-robin over the boxes: $(ls box0 box1)"

head -c $((24 << 20)) /dev/urandom >data.bin
timeout 30 "$VBLKFS" mount img mnt
dd if=data.bin of=mnt/disk bs=1M conv=notrunc,fsync status=none
timeout 60 "$VBLKFS" umount mnt

rm img.members/m001
vexport img out.raw >/dev/null 2>export.err || fail "export with a member deleted: $(cat export.err)"
cmp -n $((24 << 20)) out.raw data.bin || fail "data differs with a member deleted"
vinspect img --check 2>/dev/null | grep -q '^check: clean' || fail "check not clean with a member deleted"

# vblk-inject: a member and a box failed and restored offline; a member
# that missed writes cannot come back.
VBLK_INJECT=$(realpath "$(dirname "$VBLK_FORMAT")/vblk-inject")
vinject() { timeout "$TOOL_TIMEOUT" "$VBLK_INJECT" "$@"; }
vinject img member 2 fail | grep -q '^member 2 of img: failed' || fail "member fail"
vexport img out2.raw >/dev/null 2>&1 || fail "export with members 1 and 2 failed"
cmp -n $((24 << 20)) out2.raw data.bin || fail "data differs with members 1 and 2 failed"
vinject img member 2 restore | grep -q '^member 2 of img: restored' || fail "member restore"
expect_error img vinject img member 1 restore
grep -q 'could not be opened' err.txt || fail "restoring a deleted member: $(cat err.txt)"
vinject boxed box 1 fail >/dev/null || fail "box fail"
expect_error boxed vinject boxed box 2 fail
rc=0
vinject img member 2 maybe >/dev/null 2>&1 || rc=$?
[[ $rc -eq 2 ]] || fail "member 2 maybe: exit $rc"

# Another image's member in its place.
vformat other --size 256M --data-members 4 --group-size 2 --global-parity 1 --spares 1 >/dev/null
cp other.members/m002 img.members/m002
expect_error img.members/m002 vinspect img
grep -q 'is a member of image' err.txt || fail "foreign member: $(cat err.txt)"
echo PASS
