# SIGINT during vblk-format --from leaves no half-built image: either the
# import finished (and the image is clean) or the new file is gone.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

head -c $((64 << 20)) /dev/urandom >raw.img
rc=0
timeout "$TOOL_TIMEOUT" "$VBLK_FORMAT" img --from raw.img --level 19 >out.txt 2>err.txt &
pid=$!
sleep 0.3
kill -INT "$pid" 2>/dev/null || true
wait "$pid" || rc=$?
echo "exit $rc: $(cat err.txt)"
[[ $rc -ne 124 ]] || fail "timed out"
if [[ $rc -eq 0 ]]; then
  vinspect img --check >/dev/null || fail "finished image is not clean"
else
  [[ $rc -eq 1 ]] || fail "exit $rc, expected 1"
  [[ $(wc -l <err.txt) -eq 1 ]] && grep -q '^vblk-format: img: ' err.txt || fail "stderr: $(cat err.txt)"
  [[ ! -e img ]] || fail "interrupted import left img behind"
fi
echo PASS
