# A member set served by nbdkit (vblk(5), MEMBER SETS): a member failed
# live with vblk-inject IMAGE member N fail while a client reads and writes;
#  - served with auto_rebuild=false it stays failed, the spare stays a
#    spare, and the client reads back what it wrote (rebuilt from parity);
#  - served again without it, the plugin rebuilds the member onto the spare
#    by itself; vblk-inspect --members shows the spare online for it and
#    nothing failed or degraded; the client still reads back what it wrote,
#    with the failed member's file gone;
#  - auto_rebuild=maybe is refused (nbdkit names the value).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require nbdcopy

IMG=$WORK/img
# 4 data members in groups of 2, 2 local parity, 1 global parity, 1 spare:
# members 0-3 data, 4-5 local parity, 6 global parity, 7 spare.
vformat "$IMG" --size 64M --level 0 --data-members 4 --group-size 2 --global-parity 1 --spares 1
head -c 24M /dev/urandom >"$WORK/data"
want=$(sha256sum <"$WORK/data" | cut -d' ' -f1)

# state N: member N's live state (vblk-inspect --members --json).
state() {
  vinspect "$IMG" --members --json >"$WORK/members.json" || fail "vblk-inspect $IMG --members"
  json_get "$WORK/members.json" "j['members'][$1]['state']"
}
# served_sha NAME: sha256 of the first 24 MiB a client reads.
served_sha() {
  run 120 nbdcopy "$(uri "$1")" "$WORK/back" || fail "nbdcopy from $(uri "$1")"
  head -c 24M "$WORK/back" | sha256sum | cut -d' ' -f1
}

# ---- auto_rebuild=false: the failure waits -----------------------------------
serve s "$IMG" auto_rebuild=false
run 120 nbdcopy "$WORK/data" "$(uri s)" || fail "nbdcopy to $(uri s)"
vinject "$IMG" member 1 fail >/dev/null || fail "live member 1 fail"
[[ $(served_sha s) == "$want" ]] || fail "auto_rebuild=false: the client reads other bytes with member 1 failed"
# Long enough for a rebuild of 64 MiB to have started had it been allowed.
sleep 3
[[ $(state 1) == failed && $(state 7) == spare ]] ||
  fail "auto_rebuild=false: member 1 $(state 1), spare 7 $(state 7) (expected failed and spare)"
stop s
grep -q "auto-rebuild" "$WORK/s.log" && fail "auto_rebuild=false: the log speaks of an auto-rebuild: $(grep auto-rebuild "$WORK/s.log")"
echo "ok: auto_rebuild=false: member 1 stays failed, the spare stays free, the data reads back"

# ---- the default: rebuilt onto the spare by itself ---------------------------
serve s "$IMG"
for _ in $(seq 300); do
  [[ $(state 7) == online ]] && break
  sleep 0.1
done
[[ $(state 7) == online ]] || fail "member 1 was not rebuilt onto spare 7 by itself: spare 7 $(state 7)"
# The spare holds member 1's place: nothing is failed or degraded any more.
[[ $(json_get "$WORK/members.json" "j['members'][7]['stands_for']") == 1 &&
   $(json_get "$WORK/members.json" "j['verdict']['failed_members']") == 0 &&
   $(json_get "$WORK/members.json" "j['verdict']['words'][0]['missing']") == 0 ]] ||
  fail "after the rebuild: $(cat "$WORK/members.json")"
vinspect "$IMG" --members | grep -q "online (for 1)" || fail "vblk-inspect --members does not say spare 7 is online for member 1"
stop s
grep -q "member 1 rebuilt onto member 7" "$WORK/s.log" || fail "the log does not say what was rebuilt: $(tail -5 "$WORK/s.log")"
rm "$IMG.members/m001"
serve s "$IMG" readonly=true
[[ $(served_sha s) == "$want" ]] || fail "after the rebuild, with member 1's file gone, the client reads other bytes"
stop s
echo "ok: served again, member 1 is rebuilt onto spare 7 by itself; the data reads back without its file"

# ---- a bad value ------------------------------------------------------------
if nbdkit -U "$WORK/bad.sock" "$PLUGIN" "$IMG" auto_rebuild=maybe --run true >"$WORK/bad.log" 2>&1; then
  fail "auto_rebuild=maybe was accepted"
fi
grep -q "auto_rebuild" "$WORK/bad.log" || grep -q "maybe" "$WORK/bad.log" ||
  fail "auto_rebuild=maybe refused without naming it: $(cat "$WORK/bad.log")"
echo "ok: auto_rebuild=maybe is refused: $(tail -n 1 "$WORK/bad.log")"
echo PASS
