# Bad input to vblk-export: one clear line on stderr naming the file, a
# non-zero exit that is not a crash, and nothing written.
source "$(dirname "${BASH_SOURCE[0]}")/export_lib.sh"

vformat good.img --size 16M >/dev/null
expect_error missing.img vexport missing.img out.raw
mkdir dir.img
expect_error dir.img vexport dir.img out.raw
head -c 1048576 /dev/urandom >random.img
expect_error random.img vexport random.img out.raw
: >empty.img
expect_error empty.img vexport empty.img out.raw
for len in 7 300 4096; do
  head -c "$len" good.img >"trunc$len.img"
  expect_error "trunc$len.img" vexport "trunc$len.img" out.raw
done
cp good.img damaged.img
printf '\xff\xff\xff\xff' | dd of=damaged.img bs=1 seek=40 conv=notrunc status=none
expect_error damaged.img vexport damaged.img out.raw
expect_error random.img vexport random.img -
[[ ! -e out.raw ]] || fail "a failed export left out.raw"
no_leftovers .

# Usage errors exit 2.
expect_error "OUT" vexport good.img
[[ $LAST_RC -eq 2 ]] || fail "missing OUT: exit $LAST_RC"
expect_error "--bogus" vexport good.img out.raw --bogus
[[ $LAST_RC -eq 2 ]] || fail "unknown option: exit $LAST_RC"
[[ ! -e out.raw ]] || fail "a usage error left out.raw"

# An image that a writer holds: refused, naming the holder.
python3 - <<'PY' &
import fcntl, os, struct, time
# Hold the image's write lock the way a writer does (an OFD lock on byte 0).
fd = os.open("good.img", os.O_RDWR)
F_OFD_SETLK = 37
fcntl.fcntl(fd, F_OFD_SETLK, struct.pack("hhqqi", fcntl.F_WRLCK, 0, 0, 1, 0))
open("locked", "w").close()
time.sleep(30)
PY
holder=$!
for _ in $(seq 100); do [[ -e locked ]] && break; sleep 0.1; done
expect_error good.img vexport good.img out.raw
grep -q 'in use' err.txt || fail "busy image: $(cat err.txt)"
kill "$holder"
wait "$holder" 2>/dev/null || true
vexport good.img out.raw >/dev/null || fail "export after the writer went away"
echo PASS
