# Live control of a served image through its control socket IMAGE.ctl:
#  - the socket appears, mode 0600, owned by the server's user;
#  - vblk-inspect IMAGE --json shows live counters that grow with client I/O;
#  - vblk-inject IMAGE bad --block N makes a client read of N fail with EIO
#    at once, and vblk-inject IMAGE clear --all --json ends it and reports it; --check scrubs live; --svg draws it;
#    --block and --repair, which open the image, say to stop nbdkit;
#  - another user (nobody) can neither use the tools on it nor connect;
#  - a socket answered by a process that does not hold the image is not
#    trusted; without a socket the tools say the image is served by nbdkit;
#  - malformed requests and unknown names are answered with an errno;
#  - the socket is gone after the server exits; one left by kill -9 does not
#    stop offline use and is replaced by the next server;
#  - served read-only: statistics are live, injection is refused.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require runuser

BS=4096
IMG=$WORK/img
CTL=$IMG.ctl
vformat "$IMG" --size 16M

# wait_ctl: until the server has bound its control socket.
wait_ctl() {
  local deadline=$((SECONDS + 30))
  until [[ -S $CTL ]]; do
    ((SECONDS < deadline)) || fail "no control socket $CTL after 30 s: $(tail -n 5 "$WORK/s.log")"
    sleep 0.1
  done
}

# counter FILE KEY...: a number from a saved --json.
counter() { json_get "$1" "j$(printf "['%s']" "${@:2}")"; }

serve s "$IMG"
wait_ctl
U=$(uri s)
[[ $(stat -c '%a %U' "$CTL") == "600 $(id -un)" ]] || fail "control socket: $(stat -c '%a %U' "$CTL")"
echo "ok: $CTL is a socket, mode 600, owned by $(id -un)"

# --- live statistics --------------------------------------------------------
vinspect "$IMG" --json >before.json || fail "vblk-inspect IMAGE --json while served"
[[ $(json_get before.json "j['live']") == True && $(json_get before.json "j['server']") == nbdkit ]] ||
  fail "not a live answer from nbdkit: $(head -c 300 before.json)"
qio "$U" "write -P 0x55 0 $((64 * BS))" "read 0 $((16 * BS))" flush >/dev/null || fail "client I/O"
vinspect "$IMG" --json >after.json || fail "vblk-inspect IMAGE --json after I/O"
for key in "ops writes" "ops reads" "ops flushes" "bytes written" "bytes read"; do
  # shellcheck disable=SC2086
  b=$(counter before.json $key)
  # shellcheck disable=SC2086
  a=$(counter after.json $key)
  ((a > b)) || fail "$key did not grow with client I/O: $b -> $a"
done
(($(counter after.json bytes written) >= 64 * BS)) || fail "bytes written: $(counter after.json bytes written)"
vinspect "$IMG" --no-map | grep -q "^served: *over NBD (live: nbdkit pid $(<"$WORK/s.pid")" ||
  fail "text output does not say it is served over NBD: $(vinspect "$IMG" --no-map | head -n 2)"
echo "ok: live counters grow: writes $(counter before.json ops writes) -> $(counter after.json ops writes)"

# --- live fault injection -----------------------------------------------------
vinject "$IMG" bad --block 5 >inject.out || fail "vblk-inject IMAGE bad --block 5 while served: $(cat inject.out)"
out=$(qio "$U" "read $((5 * BS)) $BS" 2>&1) || true
[[ $out == *"Input/output error"* ]] || fail "read of block 5 after a live bad: expected EIO, got: $out"
qio "$U" "read -P 0x55 $((4 * BS)) $BS" >/dev/null || fail "block 4 beside the BAD block"
vinject "$IMG" list --json >faults.json || fail "vblk-inject IMAGE list"
[[ $(json_get faults.json "j['bad_blocks']") == 1 ]] || fail "list: $(cat faults.json)"
vinject "$IMG" clear --all --json >clear.json || fail "vblk-inject IMAGE clear --all --json"
[[ $(json_get clear.json "j['schema'], j['live'], j['image'], j['bad_blocks_cleared']") == "('vblk-inject/1', True, '$IMG', 1)" ]] ||
  fail "clear --all --json through the control socket: $(cat clear.json)"
out=$(qio "$U" "read $((5 * BS)) $BS" 2>&1) || fail "read of block 5 after clear: $out"
echo "ok: bad --block 5 -> EIO live; clear --all --json ends it, reported by the plugin"
vinspect "$IMG" --check >check.out || fail "vblk-inspect IMAGE --check while served: $(cat check.out)"
grep -q "^check: clean" check.out || fail "--check: $(cat check.out)"
echo "ok: --check scrubs the served image: $(head -n 1 check.out)"
vinspect "$IMG" --svg map.svg >svg.out || fail "vblk-inspect IMAGE --svg while served: $(cat svg.out)"
grep -q "<svg" map.svg && grep -q "$(basename "$IMG") (served over NBD)" map.svg || fail "--svg title: $(grep -o '<title>[^<]*' map.svg)"
echo "ok: --svg draws the served image"
for opt in "--block 1" "--check --repair"; do
  rc=0
  # shellcheck disable=SC2086
  out=$(vinspect "$IMG" $opt 2>&1) || rc=$?
  ((rc != 0)) && [[ $out == *"stop the nbdkit that serves it first"* ]] || fail "vblk-inspect IMAGE $opt while served: $out"
done
echo "ok: --block and --repair say to stop nbdkit"

# --- another user -------------------------------------------------------------
chmod 755 "$WORK"
chmod 644 "$IMG"
for cmd in "$VBLK_INSPECT $IMG --json" "$VBLK_INJECT $IMG bad --block 7"; do
  rc=0
  # shellcheck disable=SC2086
  out=$(run 30 runuser -u nobody -- $cmd 2>&1) || rc=$?
  ((rc != 0)) || fail "nobody ran '$cmd' on a root-served image: $out"
  [[ $out == *"only the user who serves the image, or root, may use its control socket"* ]] ||
    fail "nobody's '$cmd': unexpected message: $out"
done
rc=0
out=$(run 30 runuser -u nobody -- python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b"get user.vblk.stats"); s.shutdown(socket.SHUT_WR); print(s.recv(100))' "$CTL" 2>&1) || rc=$?
((rc != 0)) && [[ $out == *PermissionError* ]] || fail "nobody connected to $CTL: $out"
vinject "$IMG" list --json >faults.json
[[ $(json_get faults.json "j['bad_blocks']") == 0 ]] || fail "nobody's command took effect: $(cat faults.json)"
echo "ok: nobody is refused"

# --- a socket that the image's holder does not answer -------------------------
mv "$CTL" "$CTL.real"
python3 -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX); os.umask(0o077); s.bind(sys.argv[1]); s.listen(4)
open(sys.argv[2], "w").write(str(os.getpid()))
while True:
    c, _ = s.accept(); c.sendall(b"0\n{\"live\": true}\n"); c.close()
' "$CTL" "$WORK/fake.pid" &
until [[ -S $CTL && -s $WORK/fake.pid ]]; do sleep 0.1; done
rc=0
out=$(vinspect "$IMG" --json 2>&1) || rc=$?
((rc != 0)) && [[ $out == *"which does not hold $IMG; not trusting it"* ]] || fail "a fake server was trusted: $out"
kill "$(<"$WORK/fake.pid")"
rm -f "$WORK/fake.pid" "$CTL"
echo "ok: a socket not answered by the image's holder is refused"

# --- no socket: the holder is named, and it is not a mountpoint -----------------
rc=0
out=$(vinspect "$IMG" --json 2>&1) || rc=$?
((rc != 0)) && [[ $out == *"(nbdkit), which serves it over NBD without a control socket"* && $out != *mountpoint* ]] ||
  fail "served without a socket: $out"
echo "ok: without a socket: $out"
mv "$CTL.real" "$CTL"

# --- requests the server refuses ---------------------------------------------------
for req in "hello" "get user.vblk.nothing" "set user.vblk.stats
x"; do
  ans=$(python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(sys.argv[2].encode()); s.shutdown(socket.SHUT_WR); print(s.recv(4096).decode().split("\n")[0])' "$CTL" "$req") ||
    fail "request '$req': no answer"
  [[ $ans =~ ^[1-9][0-9]*$ ]] || fail "request '$req' answered '$ans', expected an errno"
done
echo "ok: malformed requests and unknown names get an errno"

# --- the socket's life ------------------------------------------------------------
stop s
[[ ! -e $CTL ]] || fail "$CTL is left after the server exited"
echo "ok: the socket is removed at exit"
serve s "$IMG"
wait_ctl
kill9 s
[[ -S $CTL ]] || fail "expected kill -9 to leave $CTL"
vinspect "$IMG" --json >offline.json || fail "vblk-inspect beside a stale socket"
[[ $(json_get offline.json "j.get('live', False)") == False ]] || fail "stale socket taken for a server"
serve s "$IMG"
# The stale socket is there from the start: wait for the server's own, which
# it logs once it listens.
deadline=$((SECONDS + 30))
until grep -q "live control on $CTL" "$WORK/s.log"; do
  ((SECONDS < deadline)) || fail "the stale socket $CTL was not replaced in 30 s: $(tail -n 5 "$WORK/s.log")"
  sleep 0.1
done
vinspect "$IMG" --json >again.json || fail "vblk-inspect after the stale socket was replaced"
[[ $(json_get again.json "j['pid']") == "$(<"$WORK/s.pid")" ]] || fail "answered by pid $(json_get again.json "j['pid']")"
stop s
[[ ! -e $CTL ]] || fail "$CTL is left after the second server exited"
echo "ok: a stale socket from kill -9 is ignored offline and replaced by the next server"

# --- served read-only: statistics yes, faults no ---------------------------------------
serve s "$IMG" readonly=true
wait_ctl
vinspect "$IMG" --json >ro.json || fail "vblk-inspect of a read-only served image"
[[ $(json_get ro.json "j['read_only']") == True ]] || fail "read_only: $(json_get ro.json "j['read_only']")"
rc=0
out=$(vinject "$IMG" bad --block 2 2>&1) || rc=$?
((rc != 0)) && [[ $out == *"the image is served read-only: faults cannot be injected"* ]] ||
  fail "vblk-inject on a read-only served image: $out"
stop s
[[ ! -e $CTL ]] || fail "$CTL is left after the read-only server exited"
echo "ok: served read-only: statistics live, injection refused"
