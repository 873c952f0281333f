# Writing more than the machine's dirty-page limit through ext4 on a loop
# device on the vblkfs disk must not stall (the FUSE-block-file writeback
# deadlock, libfuse#56). The limit is lowered for the test (restored on exit)
# so that exceeding it takes a few hundred MiB of highly compressible data;
# everything is then read back and checked.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require sysctl dd yes head

IMG=$WORK/img
MNT=$WORK/m
EXT=$WORK/ext4
mkdir -p "$EXT"

avail=$(($(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo) * 1024))
limit_now() {
  local b
  b=$(sysctl -n vm.dirty_bytes)
  if [[ $b != 0 ]]; then echo "$b"; else echo $((avail * $(sysctl -n vm.dirty_ratio) / 100)); fi
}
echo "dirty limit before: $(mib "$(limit_now)") (dirty_bytes $(sysctl -n vm.dirty_bytes), dirty_ratio $(sysctl -n vm.dirty_ratio), MemAvailable $(mib "$avail"))"
WANT_LIMIT=$((256 << 20))
if (($(limit_now) > WANT_LIMIT)); then
  set_sysctl vm.dirty_background_bytes $((64 << 20))
  set_sysctl vm.dirty_bytes "$WANT_LIMIT"
fi
LIMIT=$(limit_now)
TOTAL=$((4 * LIMIT))
((TOTAL <= 3 << 30)) || TOTAL=$((3 << 30))
TOTAL=$((TOTAL >> 21 << 21))  # whole MiB per writer
echo "dirty limit for the test: $(mib "$LIMIT"); writing $(mib "$TOTAL") in two files"

vformat "$IMG" --size 4G
vmount "$IMG" "$MNT"
grep -h 'IO_FLUSHER' "$WORK"/vblkfs-*.log | sed 's/^/note: daemon log: /' || true
DEV=$(loop_attach "$MNT/disk")
run 120 mkfs.ext4 -q -F "$DEV" || fail "mkfs.ext4 $DEV"
run 30 mount "$DEV" "$EXT" || fail "mount $DEV"

# Highly compressible, not all zero (zero blocks are special-cased).
# (yes dies of SIGPIPE when head has enough: not a failure.)
gen() { (set +o pipefail; yes "vblk dirty-limit test $1: a highly compressible line of text" | head -c $((TOTAL / 2))); }

# Peak Dirty + Writeback while writing.
(while :; do awk '/^(Dirty|Writeback):/ { s += $2 } END { print s }' /proc/meminfo; sleep 0.25; done) >"$WORK/dirty.samples" &
BG_PIDS+=($!)

t0=$(now_ns)
for i in 1 2; do
  (gen "$i" | dd of="$EXT/f$i" bs=1M iflag=fullblock status=none) &
  BG_PIDS+=($!)
done
rc=0
# Both writers and the final sync share one deadline: a stall fails here.
deadline=$((SECONDS + 180))
for pid in "${BG_PIDS[@]:1}"; do
  while alive "$pid"; do
    ((SECONDS < deadline)) || fail "writing $(mib "$TOTAL") stalled: not done after 180 s (see Dirty/Writeback below)"
    sleep 0.2
  done
  wait "$pid" || rc=$?
done
[[ $rc -eq 0 ]] || fail "a writer failed (exit $rc)"
tw=$(elapsed_since "$t0")
run $((deadline - SECONDS > 10 ? deadline - SECONDS : 10)) sync -f "$EXT" || fail "sync stalled"
ts=$(elapsed_since "$t0")
kill "${BG_PIDS[0]}" 2>/dev/null || true
peak=$(($(sort -n "$WORK/dirty.samples" | tail -n 1) * 1024))
echo "wrote $(mib "$TOTAL") in $tw s, synced after $ts s; peak Dirty+Writeback $(mib "$peak") (limit $(mib "$LIMIT"))"
((peak > LIMIT / 2)) || echo "note: the peak of dirty pages stayed well below the limit"

# Everything reads back after a remount (no page cache left).
run 60 umount "$EXT" || fail "umount $EXT"
run 60 e2fsck -fn "$DEV" >/dev/null 2>&1 || fail "e2fsck -fn $DEV"
run 30 mount -o ro "$DEV" "$EXT" || fail "mount $DEV again"
for i in 1 2; do
  want=$(gen "$i" | sha256sum | cut -d' ' -f1)
  got=$(run 120 sha256sum "$EXT/f$i" | cut -d' ' -f1)
  [[ $want == "$got" ]] || fail "f$i reads back differently"
done
echo "ok: both files read back"
run 60 umount "$EXT" || fail "umount $EXT"
loop_detach "$DEV"
vumount "$MNT"
inspect_json "$IMG" "$WORK/inspect.json"
echo "image: $(mib "$(host_bytes "$IMG")") on the host for $(mib "$TOTAL") written"
check_clean "$IMG"
echo PASS
