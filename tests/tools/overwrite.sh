# vblk-format refuses to overwrite an existing file unless --force is given.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

vformat a.img --size 16M --label first >/dev/null
sum=$(checksum a.img)
expect_error a.img vformat a.img --size 32M
[[ $LAST_RC -eq 1 ]] || fail "existing file: exit $LAST_RC, expected 1"
grep -q -- --force err.txt || fail "message does not mention --force: $(cat err.txt)"
[[ $(checksum a.img) == "$sum" ]] || fail "a.img changed without --force"

echo "not an image" >notes.txt
expect_error notes.txt vformat notes.txt --size 1M
[[ $(cat notes.txt) == "not an image" ]] || fail "notes.txt changed without --force"

vformat a.img --size 32M --label second --force >/dev/null
vinspect a.img --json --no-map >a.json
[[ $(json_get a.json 'j["capacity_bytes"]') == $((32 << 20)) ]] || fail "capacity not replaced"
[[ $(json_get a.json 'j["label"]') == second ]] || fail "label not replaced"
echo PASS
