# Errors and exports:
#  - a BAD block (vblk-inject, offline) gives the client EIO for reads and
#    writes that touch it, and only those;
#  - dir= with three images (and a file that is not one) lists three
#    exports and serves the one asked for; the empty name is refused;
#  - readonly=true and nbdkit -r refuse writes; the image is unchanged;
#  - a second server of a served image fails at once, naming the holder.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BS=4096
IMG=$WORK/img
vformat "$IMG" --size 16M
serve s "$IMG"
U=$(uri s)
qio "$U" "write -P 0x55 0 $((20 * BS))" flush >/dev/null || fail "writing the pattern"
stop s
vinject "$IMG" bad --block 5 >/dev/null || fail "vblk-inject bad --block 5"

# --- BAD block: EIO -----------------------------------------------------
serve s "$IMG"
for cmd in "read $((5 * BS)) $BS" "read $((5 * BS + 17)) 1" "read $((3 * BS)) $((4 * BS))" \
           "write -P 1 $((5 * BS)) $BS" "write -P 1 $((5 * BS + 100)) 10"; do
  out=$(qio "$U" "$cmd" 2>&1) || true
  [[ $out == *"Input/output error"* ]] || fail "'$cmd' over BAD block 5: expected EIO, got: $out"
  echo "ok: $cmd -> EIO"
done
out=$(qio "$U" "read -P 0x55 $((4 * BS)) $BS" "read -P 0x55 $((6 * BS)) $BS" 2>&1) || fail "neighbours: $out"
[[ $out == *"Pattern verification failed"* || $out == *error* ]] && fail "neighbours of the BAD block: $out"
echo "ok: blocks 4 and 6 read fine"

# --- a second server of the same image ------------------------------------
PID=$(<"$WORK/s.pid")
start=$SECONDS
rc=0
run 20 nbdkit -f -U "$WORK/second.sock" "$PLUGIN" "$IMG" >"$WORK/second.out" 2>&1 || rc=$?
[[ $rc -ne 0 ]] || fail "a second server of a served image started"
((SECONDS - start < 10)) || fail "the second server took $((SECONDS - start)) s to fail"
grep -q "in use by process $PID" "$WORK/second.out" || fail "second server's error does not name $PID: $(cat "$WORK/second.out")"
echo "ok: second server refused: $(head -n 1 "$WORK/second.out")"
stop s

# --- read-only ------------------------------------------------------------
vexport "$IMG" "$WORK/before.raw" --bad zero >/dev/null || fail "vblk-export before"
for mode in "readonly=true" "-r"; do
  if [[ $mode == -r ]]; then serve ro -r -- "$IMG"; else serve ro "$IMG" readonly=true; fi
  run 30 nbdinfo "$(uri ro)" | grep -q "is_read_only: true" || fail "$mode: the export is not read-only"
  out=$(qio "$(uri ro)" "write -P 0x66 $((8 * BS)) $BS" 2>&1) && fail "$mode: a write succeeded: $out"
  echo "ok: $mode: write refused: $(echo "$out" | head -n 1)"
  qio "$(uri ro)" "read -P 0x55 0 $BS" | grep -q "Pattern verification failed" && fail "$mode: read"
  stop ro
done
vexport "$IMG" "$WORK/after.raw" --bad zero >/dev/null || fail "vblk-export after"
cmp "$WORK/before.raw" "$WORK/after.raw" || fail "a read-only serve changed the image"

# --- dir= ------------------------------------------------------------------
mkdir "$WORK/dir"
i=0
for name in alpha beta gamma; do
  i=$((i + 1))
  vformat "$WORK/dir/$name" --size $((i * 4))M
done
echo "not an image" >"$WORK/dir/notes.txt"
serve d dir="$WORK/dir"
i=0
for name in alpha beta gamma; do
  i=$((i + 1))
  qio "$(uri d "$name")" "write -P $((0x70 + i)) 0 $BS" flush >/dev/null || fail "write to export $name"
done
run 30 nbdinfo --list --json "$(uri d)" >"$WORK/list.json" || fail "nbdinfo --list"
names=$(json_get "$WORK/list.json" '" ".join(sorted(e["export-name"] for e in j["exports"]))')
[[ $names == "alpha beta gamma" ]] || fail "nbdinfo --list: '$names', expected 'alpha beta gamma'"
echo "ok: exports: $names"
i=0
for name in alpha beta gamma; do
  i=$((i + 1))
  size=$(run 30 nbdinfo --size "$(uri d "$name")") || fail "nbdinfo --size $name"
  [[ $size == $((i * 4 << 20)) ]] || fail "export $name: size $size, expected $((i * 4 << 20))"
  out=$(qio "$(uri d "$name")" "read -P $((0x70 + i)) 0 $BS") || fail "read $name"
  [[ $out == *"Pattern verification failed"* ]] && fail "export $name served another image's data"
done
echo "ok: each export serves its own image"
run 30 nbdinfo --size "$(uri d)" >/dev/null 2>&1 && fail "the empty export name was served with three images"
run 30 nbdinfo --size "$(uri d nosuch)" >/dev/null 2>&1 && fail "export 'nosuch' was served"
rc=0
run 20 nbdkit -f -U "$WORK/second.sock" "$PLUGIN" "$WORK/dir/beta" >"$WORK/second.out" 2>&1 || rc=$?
[[ $rc -ne 0 ]] && grep -q "in use by process" "$WORK/second.out" || fail "beta served twice: $(cat "$WORK/second.out")"
stop d
echo PASS
