# vblk-export refuses to overwrite OUT without --force; a failed or
# interrupted export leaves nothing under OUT's name.
source "$(dirname "${BASH_SOURCE[0]}")/export_lib.sh"

head -c $((2 << 20)) /dev/urandom >raw.img
vformat img --from raw.img >/dev/null
img_sum=$(checksum img)

echo "not a disk" >out.raw
expect_error out.raw vexport img out.raw
[[ $LAST_RC -eq 1 ]] || fail "existing OUT: exit $LAST_RC, expected 1"
grep -q -- --force err.txt || fail "message does not mention --force: $(cat err.txt)"
[[ $(cat out.raw) == "not a disk" ]] || fail "out.raw changed without --force"

vexport img out.raw --force >/dev/null
cmp out.raw raw.img || fail "--force did not replace out.raw"
[[ $(stat -c %a out.raw) == $(printf '%o' $((0666 & ~$(umask)))) ]] ||
  fail "mode $(stat -c %a out.raw) does not follow the umask"

# Never a directory, the image itself, a missing directory or a device.
mkdir sub
expect_error sub vexport img sub
expect_error img vexport img img --force
grep -q 'is the image itself' err.txt || fail "exporting over the image: $(cat err.txt)"
[[ $(checksum img) == "$img_sum" ]] || fail "img changed"
expect_error nodir/out.raw vexport img nodir/out.raw
expect_error /dev/null vexport img /dev/null --force

# A write failure half-way (the file size limit) leaves nothing behind.
rc=0
(trap '' XFSZ; ulimit -f 512; "$VBLK_EXPORT" img small.raw >out.txt 2>err.txt) || rc=$?
echo "exit $rc: $(cat err.txt)"
[[ $rc -eq 1 ]] || fail "size limit: exit $rc, expected 1"
grep -q '^vblk-export: small.raw: .*File too large' err.txt || fail "size limit: $(cat err.txt)"
[[ ! -e small.raw ]] || fail "a failed export left small.raw"
no_leftovers .
# ... and with --force the old file stays.
echo "old" >old.raw
rc=0
(trap '' XFSZ; ulimit -f 512; "$VBLK_EXPORT" img old.raw --force >out.txt 2>err.txt) || rc=$?
[[ $rc -eq 1 && $(cat old.raw) == old ]] || fail "failed --force export: exit $rc, old.raw: $(head -c 20 old.raw)"
no_leftovers .

# SIGINT during an export: either it finished (and is right) or nothing is left.
python3 -c '
import sys
with open("big.raw", "wb") as f:
    for b in range(32768):
        f.write((b"%08d" % b) * 512)'
vformat bigimg --from big.raw --level 1 >/dev/null
for delay in 0.05 0.2; do
  rm -f bigout.raw
  rc=0
  timeout "$TOOL_TIMEOUT" "$VBLK_EXPORT" bigimg bigout.raw >out.txt 2>err.txt &
  pid=$!
  sleep "$delay"
  kill -INT "$pid" 2>/dev/null || true
  wait "$pid" || rc=$?
  echo "SIGINT after ${delay}s: exit $rc $(cat err.txt)"
  [[ $rc -ne 124 ]] || fail "timed out"
  if [[ $rc -eq 0 ]]; then
    cmp bigout.raw big.raw || fail "finished export differs"
  else
    [[ $rc -eq 1 ]] || fail "exit $rc, expected 1"
    grep -q '^vblk-export: bigout.raw: interrupted' err.txt || fail "stderr: $(cat err.txt)"
    [[ ! -e bigout.raw ]] || fail "interrupted export left bigout.raw"
  fi
  no_leftovers .
done
echo PASS
