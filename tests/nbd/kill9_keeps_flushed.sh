# nbdkit killed with -9 after flushed writes: every acknowledged write is
# there on the next serve (flush and FUA through the plugin reach the
# image), and the image checks clean.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

IMG=$WORK/img
vformat "$IMG" --size 64M
head -c $((3 << 20)) /dev/urandom >"$WORK/random.bin"
serve s "$IMG"
U=$(uri s)
# Plain writes then a flush; FUA writes with no flush after them; a copy
# that ends with a flush (nbdcopy --flush).
qio "$U" "write -P 0x11 0 1M" "write -P 0x12 $((5 << 20)) 12345" flush >/dev/null || fail "writes + flush"
qio "$U" "write -f -P 0x22 $((8 << 20)) 64k" "write -f -P 0x23 $((9 << 20 | 4093)) 5000" >/dev/null ||
  fail "FUA writes"
run 60 nbdcopy --flush "$WORK/random.bin" "$U" || fail "nbdcopy --flush into the export"
# Unflushed writes after the flushed ones may or may not survive; they
# must not disturb what was flushed.
qio "$U" "write -P 0x33 $((20 << 20)) 1M" >/dev/null || fail "unflushed write"
kill9 s

serve s "$IMG"
qio "$U" "read -P 0x12 $((5 << 20)) 12345" "read -P 0x22 $((8 << 20)) 64k" \
  "read -P 0x23 $((9 << 20 | 4093)) 5000" >"$WORK/read.out" || fail "reads after the restart"
grep -q "Pattern verification failed" "$WORK/read.out" && fail "lost writes: $(cat "$WORK/read.out")"
run 60 nbdcopy "$U" "$WORK/after.raw" || fail "nbdcopy out"
cmp -n $((3 << 20)) "$WORK/random.bin" "$WORK/after.raw" || fail "the flushed nbdcopy data was lost"
stop s
vinspect --check "$IMG" >/dev/null || fail "vblk-inspect --check after kill -9"
echo PASS
