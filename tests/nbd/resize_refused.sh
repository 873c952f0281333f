# An image served by nbdkit is not resized live (NBD clients keep the size
# they were given): vblk-format --resize IMAGE says to stop the server, and
# changes nothing; once nbdkit has exited, the offline resize works and the
# next serve exports the new size.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

IMG=$WORK/img
vformat "$IMG" --size 64M
serve s "$IMG"
rc=0
"$VBLK_FORMAT" --resize "$IMG" 128M >"$WORK/out" 2>"$WORK/err" || rc=$?
[[ $rc -eq 1 ]] || fail "--resize of a served image: exit $rc: $(cat "$WORK/err")"
[[ $(wc -l <"$WORK/err") -eq 1 ]] || fail "more than one line: $(cat "$WORK/err")"
grep -q "^vblk-format: $IMG: nbdkit cannot show its clients a new size: stop it, resize the image" "$WORK/err" ||
  fail "--resize of a served image: $(cat "$WORK/err")"
[[ $(run 30 nbdinfo --size "$(uri s)") == $((64 << 20)) ]] || fail "the export's size changed"
stop s
run 60 "$VBLK_FORMAT" --resize "$IMG" 128M >/dev/null || fail "offline --resize after nbdkit exited"
serve s "$IMG"
[[ $(run 30 nbdinfo --size "$(uri s)") == $((128 << 20)) ]] || fail "the next serve does not export the new size"
stop s
echo PASS
