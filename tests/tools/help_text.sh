# Every command's and subcommand's --help is for people: it fits 80 columns,
# ends with its exit statuses, shows metavars like SIZE and N rather than
# CLI11's TEXT or "UINT:INT in [1 - 256]", and a subcommand's usage line
# names what comes before it (vblk-inject TARGET bad).
# Run as: bash help_text.sh VBLK_FORMAT VBLK_INSPECT VBLK_INJECT VBLK_EXPORT VBLKFS
set -euo pipefail
declare -A TOOL=([vblk-format]=$1 [vblk-inspect]=$2 [vblk-inject]=$3 [vblk-export]=$4 [vblkfs]=$5)
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
check() {  # check LABEL COMMAND...
  local label=$1 text
  shift
  text=$("$@" --help) || fail "$label --help failed"
  local long
  long=$(awk 'length > 80' <<<"$text")
  [[ -z $long ]] || fail "$label --help has lines over 80 columns: $long"
  [[ $(grep -c '^Exit status: ' <<<"$text") == 1 ]] || fail "$label --help has no 'Exit status:' line"
  ! grep -Eqw 'TEXT|UINT|INT|FLOAT|ENUM' <<<"$text" || fail "$label --help shows CLI11 metavars: $(grep -Ew 'TEXT|UINT|INT|FLOAT|ENUM' <<<"$text")"
  echo "ok: $label --help"
}
for t in vblk-format vblk-inspect vblk-export vblk-inject vblkfs; do check "$t" "${TOOL[$t]}"; done
for a in bad flaky corrupt latency clear powercut list member box; do
  check "vblk-inject $a" "${TOOL[vblk-inject]}" disk.vblk "$a"
  "${TOOL[vblk-inject]}" disk.vblk "$a" --help | grep -q "^Usage: vblk-inject TARGET $a " ||
    fail "vblk-inject $a: usage line: $("${TOOL[vblk-inject]}" disk.vblk "$a" --help | grep '^Usage')"
done
for s in mount umount; do check "vblkfs $s" "${TOOL[vblkfs]}" "$s"; done
"${TOOL[vblkfs]}" mount --version | grep -q '^vblkfs ' || fail "vblkfs mount --version"
