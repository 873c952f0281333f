# nbdkit killed with -9 after flushed writes: every acknowledged write is
# there on the next serve, and the image checks clean; flush and FUA reach
# the driver.
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
# kill -9 loses nothing the host's page cache holds, so the flushes
# themselves are checked too: a FUA write and a flush reach the driver (the
# session summary counts them, beside the flush at close).
qio "$U" "write -f -P 0x44 $((30 << 20)) 4k" flush >/dev/null || fail "FUA write + flush"
stop s
flushes=$(sed -n 's/.*served .* \([0-9]*\) flushes;.*/\1/p' "$WORK/s.log" | tail -n 1)
[[ -n $flushes ]] || fail "no session summary in the log"
((flushes >= 3)) || fail "the driver saw $flushes flushes, expected the FUA write's, the flush and the final one"
vinspect --check "$IMG" >/dev/null || fail "vblk-inspect --check after kill -9"
echo PASS
