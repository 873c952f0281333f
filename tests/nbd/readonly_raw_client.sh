# A read-only export against a client that ignores the read-only flag.
#
# libnbd refuses writes to a read-only export on the client side (strict
# mode); with STRICT_COMMANDS cleared it sends them anyway. NBD has no EROFS
# on the wire: the server answers the refusal with EPERM. nbdkit itself
# rejects writes on a connection whose can_write is false before they reach
# the plugin, so what this proves is that the plugin reports can_write
# false for readonly=true, that write, trim and zero from such a client all
# fail with EPERM, that the read-only serve did not change a byte, and that
# the same client writes fine to the same image served read-write (so the
# refusals are the read-only mode's).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
PY=$(nbd_python)

IMG=$WORK/img
vformat "$IMG" --size 4M
serve rw "$IMG"
qio "$(uri rw)" "write -P 0x3c 0 64k" flush >/dev/null || fail "writing the pattern"
stop rw
vexport "$IMG" "$WORK/before.raw" >/dev/null || fail "vblk-export before"

cat >"$WORK/client.py" <<'PY'
# client.py URI ro|rw: the checks of one export; prints one line per check.
import errno, sys
import nbd

uri, mode = sys.argv[1], sys.argv[2]
h = nbd.NBD()
h.connect_uri(uri)
print(f"is_read_only={h.is_read_only()} can_multi_conn={h.can_multi_conn()}")
assert h.is_read_only() == (mode == "ro"), "read-only flag"

def attempt(name, call):
    try:
        call()
    except nbd.Error as e:
        return e
    print(f"{name}: ok")
    return None

if mode == "ro":
    e = attempt("strict write", lambda: h.pwrite(b"\x77" * 4096, 0))
    assert e is not None, "libnbd's strict mode let a write through"
    print(f"strict write: refused by libnbd: {e.string}")
    h.set_strict_mode(h.get_strict_mode() & ~nbd.STRICT_COMMANDS)
    for name, call in [("write", lambda: h.pwrite(b"\x77" * 4096, 0)),
                       ("write fua", lambda: h.pwrite(b"\x77" * 4096, 8192, nbd.CMD_FLAG_FUA)),
                       ("trim", lambda: h.trim(65536, 0)),
                       ("zero", lambda: h.zero(4096, 4096))]:
        e = attempt(name, call)
        assert e is not None, f"non-strict {name} to a read-only export succeeded"
        assert e.errnum == errno.EPERM, f"non-strict {name}: {e.string} ({e.errno}), expected EPERM"
        print(f"non-strict {name}: refused by the server: {e.string}")
    assert h.pread(4096, 0) == b"\x3c" * 4096, "read after the refused writes"
else:
    h.set_strict_mode(h.get_strict_mode() & ~nbd.STRICT_COMMANDS)
    assert attempt("write", lambda: h.pwrite(b"\x77" * 4096, 0)) is None
    h.flush()
    assert h.pread(4096, 0) == b"\x77" * 4096, "read back"
h.shutdown()
PY

for mode in "readonly=true" "-r"; do
  if [[ $mode == -r ]]; then serve ro -r -- "$IMG"; else serve ro "$IMG" readonly=true; fi
  out=$(run 60 "$PY" "$WORK/client.py" "$(uri ro)" ro 2>&1) || fail "$mode: $out"
  echo "$out" | sed "s/^/$mode: /"
  grep -q "write request on readonly connection" "$WORK/ro.log" || fail "$mode: nbdkit did not log the refused write"
  stop ro
done
vexport "$IMG" "$WORK/after.raw" >/dev/null || fail "vblk-export after"
cmp "$WORK/before.raw" "$WORK/after.raw" || fail "a read-only serve changed the image"
echo "ok: the image is unchanged"

serve rw "$IMG"
out=$(run 60 "$PY" "$WORK/client.py" "$(uri rw)" rw 2>&1) || fail "read-write: $out"
echo "$out" | sed "s/^/read-write: /"
stop rw
echo PASS
