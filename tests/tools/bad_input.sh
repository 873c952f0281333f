# Bad input to vblk-format and vblk-inspect: one clear line on stderr naming
# the file, a non-zero exit that is not a crash, and no change to an
# existing image.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

vformat good.img --size 64M --label good >/dev/null
sum_good=$(checksum good.img)

# vblk-inspect on things that are not images.
expect_error missing.img vinspect missing.img
expect_error missing.img vinspect missing.img --check
mkdir dir.img
expect_error dir.img vinspect dir.img
head -c 1048576 /dev/urandom >random.img
expect_error random.img vinspect random.img
expect_error random.img vinspect random.img --check
expect_error random.img vinspect random.img --json
: >empty.img
expect_error empty.img vinspect empty.img
for len in 7 300 4096; do
  head -c "$len" good.img >"trunc$len.img"
  expect_error "trunc$len.img" vinspect "trunc$len.img"
done
# An image holding data, cut short inside its log: the checkpoint refers to
# records that are gone, so at least the scrub must fail.
head -c $((3 << 20)) /dev/urandom >data.raw
vformat full.img --from data.raw >/dev/null
vinspect full.img --check >/dev/null
size=$(stat -c %s full.img)
head -c $((size / 2)) full.img >trunchalf.img
expect_error trunchalf.img vinspect trunchalf.img --check
# A superblock whose bytes are damaged after the magic.
cp good.img damaged.img
printf '\xff\xff\xff\xff' | dd of=damaged.img bs=1 seek=40 conv=notrunc status=none
expect_error damaged.img vinspect damaged.img
expect_error good.img vinspect good.img --block 999999999
[[ $(checksum good.img) == "$sum_good" ]] || fail "vblk-inspect changed good.img"

# A place where no file can be made: the error names the image, not the
# temporary name it is built under.
expect_error /proc/vblk-test.img vformat /proc/vblk-test.img --size 64M
! grep -q "vblk-tmp" err.txt || fail "the temporary name leaked: $(cat err.txt)"

# vblk-format with bad values: nothing is touched, even with --force.
expect_error good.img vformat good.img --size 0 --force
expect_error good.img vformat good.img --size 1000 --force
expect_error good.img vformat good.img --size 12345678 --force
expect_error good.img vformat good.img --size 2P --force
expect_error good.img vformat good.img --size 20E --force
expect_error good.img vformat good.img --size -1G --force
expect_error good.img vformat good.img --size 8Q --force
expect_error good.img vformat good.img --size "" --force
expect_error good.img vformat good.img --size 1G --block-size 1000 --force
expect_error good.img vformat good.img --size 1G --block-size 131072 --force
expect_error good.img vformat good.img --size 1G --block-size 256 --force
expect_error good.img vformat good.img --size 1G --level 20 --force
expect_error good.img vformat good.img --size 1G --level -1 --force
expect_error good.img vformat good.img --size 1G --label "$(printf 'x%.0s' {1..64})" --force
expect_error missing.raw vformat good.img --from missing.raw --force
expect_error dir.img vformat dir.img --from random.img --force
expect_error good.img vformat good.img --from good.img --force
expect_error dir.img vformat dir.img --size 1G --force
[[ $(checksum good.img) == "$sum_good" ]] || fail "a failed vblk-format changed good.img"
[[ ! -e new.img ]] || fail "unexpected new.img"

# Values that fail must not leave a new file behind either.
expect_error new.img vformat new.img --size 0
expect_error new.img vformat new.img --size 2P
expect_error new.img vformat new.img --size 1G --block-size 1000
[[ ! -e new.img ]] || fail "a failed vblk-format left new.img behind"

# Usage errors exit 2.
expect_error good.img vformat good.img
[[ $LAST_RC -eq 2 ]] || fail "missing --size: exit $LAST_RC, expected 2"
expect_error "--bogus" vformat good.img --size 1G --bogus
[[ $LAST_RC -eq 2 ]] || fail "unknown option: exit $LAST_RC, expected 2"
expect_error "--bogus" vinspect good.img --bogus
[[ $LAST_RC -eq 2 ]] || fail "unknown option: exit $LAST_RC, expected 2"
[[ $(checksum good.img) == "$sum_good" ]] || fail "good.img changed"
echo PASS
