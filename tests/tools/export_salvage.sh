# --salvage: blocks that cannot be read (a damaged record, BAD blocks) are
# written as zeros and named on stderr in ranges, with a count at the end and
# exit status 3; every other block is exported exactly. Without --salvage
# the same image fails to export, naming the block.
source "$(dirname "${BASH_SOURCE[0]}")/export_lib.sh"

python3 - <<'PY'
import random
r = random.Random(7)
with open("raw.img", "wb") as f:                  # 4 MiB of incompressible blocks
    f.write(r.randbytes(1024 * 4096))
PY
vformat img --from raw.img >/dev/null
cp img clean.img
aid img bad 10 3
aid img corrupt 300
aid img corrupt 700

# The blocks a damaged record takes with it: all of the record holding the
# corrupted block (stored raw, so one payload checksum covers it).
: >expected.txt
for b in 300 700; do
  vinspect img --block "$b" --json >loc.json 2>/dev/null || true
  [[ $(json_get loc.json 'j["compressed"]') == False ]] || fail "block $b: expected a raw record"
  json_get loc.json '"\n".join(str(j["record_first_block"] + i) for i in range(j["record_blocks"]))' >>expected.txt
done
printf '%s\n' 10 11 12 >>expected.txt

# Without --salvage: BAD blocks refuse the export; with --bad zero the
# damaged record fails it, naming a block of it.
expect_error img vexport img out.raw
expect_error img vexport img out.raw --bad zero
block=$(grep -Eo 'block [0-9]+: .*checksum' err.txt | grep -Eo '^block [0-9]+' | cut -d' ' -f2)
grep -qx "$block" expected.txt || fail "the failure names block '$block', not a damaged one: $(cat err.txt)"
[[ ! -e out.raw ]] || fail "failed export left out.raw"

rc=0
vexport img out.raw --salvage >summary.txt 2>err.txt || rc=$?
cat summary.txt err.txt
[[ $rc -eq 3 ]] || fail "--salvage: exit $rc, expected 3"
grep -q 'unreadable blocks written as zeros' summary.txt || fail "summary does not count them: $(cat summary.txt)"
python3 - <<'PY' || fail "stderr does not name exactly the unreadable blocks, or the output differs"
import re
bs = 4096
expected = {int(l) for l in open("expected.txt") if l.strip()}
lines = open("err.txt").read().splitlines()
named = set()
for l in lines[:-1]:
    m = re.fullmatch(r"vblk-export: img: blocks? (\d+)(?:-(\d+))? unreadable \((.+)\), written as zeros", l)
    assert m, l
    first, last = int(m[1]), int(m[2] or m[1])
    cause = m[3]
    assert cause == "BAD block" if first == 10 else "checksum" in cause, l
    span = set(range(first, last + 1))
    assert not span & named, l
    named |= span
assert named == expected, (sorted(named), sorted(expected))
assert lines[-1] == f"vblk-export: img: salvaged: {len(expected)} unreadable blocks written as zeros", lines[-1]
raw = open("raw.img", "rb").read()
out = open("out.raw", "rb").read()
assert len(out) == len(raw)
for b in range(len(raw) // bs):
    want = bytes(bs) if b in expected else raw[b * bs:(b + 1) * bs]
    assert out[b * bs:(b + 1) * bs] == want, b
PY

# The same through a pipe, and the JSON summary.
rc=0
vexport img - --salvage --json 2>pipe_err.txt | cat >piped.raw || rc=$?
cmp piped.raw out.raw || fail "--salvage to a pipe differs from the file"
cmp <(grep -v '^{\|^}\|^  ' pipe_err.txt) err.txt || fail "stderr differs on a pipe: $(cat pipe_err.txt)"
vexport img out2.raw --salvage --json >sum.json 2>/dev/null || true
[[ $(json_get sum.json 'j["unreadable_blocks"]') == $(wc -l <expected.txt) ]] || fail "unreadable_blocks: $(cat sum.json)"
[[ $(json_get sum.json 'j["bad_blocks"]') == 3 ]] || fail "bad_blocks: $(cat sum.json)"

# A sound image: --salvage changes nothing, exit 0, nothing on stderr.
vexport clean.img clean.raw --salvage >/dev/null 2>clean_err.txt || fail "--salvage of a sound image failed"
[[ ! -s clean_err.txt ]] || fail "stderr on a sound image: $(cat clean_err.txt)"
cmp clean.raw raw.img || fail "--salvage of a sound image differs from it"

expect_error --salvage vexport img x.raw --salvage --bad fail
[[ $LAST_RC -eq 2 ]] || fail "--salvage --bad fail: exit $LAST_RC, expected 2"
echo "export_salvage: ok"
