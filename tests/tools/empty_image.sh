# A freshly formatted image: every block FREE, check clean, sizes right.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

vformat --version | grep -Eq '^vblk-format [0-9]+\.[0-9]+' || fail "vblk-format --version"
vinspect --version | grep -Eq '^vblk-inspect [0-9]+\.[0-9]+' || fail "vblk-inspect --version"
vformat --help | grep -q -- --from || fail "vblk-format --help"

vformat img --size 1G >fmt.txt
grep -q '1.0 GiB' fmt.txt || fail "summary: $(cat fmt.txt)"

vinspect img >insp.txt 2>insp.err
[[ ! -s insp.err ]] || fail "stderr not empty: $(cat insp.err)"
cat insp.txt
grep -Eq '^capacity: +1073741824 bytes \(1\.0 GiB\), 2097152 sectors' insp.txt || fail "capacity line"
grep -Eq '^  free: +262144$' insp.txt || fail "free count"
grep -Eq '^  used: +0$' insp.txt || fail "used count"
grep -Eq '^  trimmed: +0$' insp.txt || fail "trimmed count"
grep -Eq '^  bad: +0$' insp.txt || fail "bad count"
grep -Eq '^bad blocks: +none$' insp.txt || fail "bad list"
grep -q 'legend:' insp.txt || fail "no legend"
# Not a terminal: no colour escapes; and the map is all FREE.
! grep -q $'\033' insp.txt || fail "colour escapes when stdout is not a terminal"
map=$(sed -n '/^state map:/,/legend:/p' insp.txt | grep -Ev 'state map:|legend:' | awk '{print $2}')
[[ -n $map ]] || fail "empty map"
[[ $(echo "$map" | tr -d '.\n') == "" ]] || fail "map shows non-FREE cells"

vinspect img --json >insp.json
json_get insp.json 'j["block_count"]' | grep -qx 262144 || fail "json block_count"
json_get insp.json 'j["blocks"]["free"] == j["block_count"] and j["blocks"]["used"] == 0' | grep -qx True ||
  fail "json: not all FREE"
json_get insp.json 'all(set(r) == {"."} for r in j["map"]["rows"])' | grep -qx True || fail "json map not all FREE"
json_get insp.json 'j["capacity_sectors"]' | grep -qx 2097152 || fail "json sectors"

vinspect img --check >check.txt
grep -q '^check: clean' check.txt || fail "check: $(cat check.txt)"

vinspect img --block 262143 >blk.txt
grep -q '^state: *FREE' blk.txt || fail "last block not FREE: $(cat blk.txt)"
# A FREE block reads zeros: one line, a star, the end offset.
[[ $(grep -c '^0000' blk.txt) -eq 2 ]] || fail "hex dump not collapsed: $(cat blk.txt)"

# Other block sizes.
vformat small.img --size 1M --block-size 512 --level 0 >/dev/null
vinspect small.img --json --no-map >small.json
json_get small.json 'j["block_count"], j["block_size"], j["compression_level"]' | grep -qx '(2048, 512, 0)' ||
  fail "512-byte blocks: $(cat small.json)"
vformat big.img --size 1.5G --block-size 64K >/dev/null
vinspect big.img --json --no-map >big.json
json_get big.json 'j["block_count"]' | grep -qx 24576 || fail "64K blocks"
echo PASS
