# Every wrong command line in wrong_inputs.txt gets its exit code and one
# line on stderr, "TOOL: ..." with the text the table gives, and none of
# CLI11's raw phrasings.
# Run as: bash wrong_inputs.sh TABLE VBLK_FORMAT VBLK_INSPECT VBLK_INJECT VBLK_EXPORT VBLKFS
set -euo pipefail
TABLE=$(realpath "$1")
declare -A TOOL=([vblk-format]=$(realpath "$2") [vblk-inspect]=$(realpath "$3") [vblk-inject]=$(realpath "$4")
  [vblk-export]=$(realpath "$5") [vblkfs]=$(realpath "$6"))
WORK=$(mktemp -d "${TMPDIR:-/tmp}/vblk-wrong-inputs.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
"${TOOL[vblk-format]}" good.vblk --size 16M >/dev/null
mkdir mnt
RAW_CLI11='Could not convert|not expected|required but received|A subcommand is required|not in range|not in \{'
n=0
while IFS='|' read -r tool args code text; do
  [[ $tool =~ ^[[:space:]]*(#|$) ]] && continue
  trim() { sed -E 's/^ +| +$//g' <<<"$1"; }
  tool=$(trim "$tool") code=$(trim "$code") text=$(trim "$text")
  rc=0
  # shellcheck disable=SC2086
  timeout 30 "${TOOL[$tool]}" $args >out.txt 2>err.txt || rc=$?
  what="$tool $(echo $args)"
  [[ $rc == "$code" ]] || fail "'$what': exit $rc, expected $code; stderr: $(cat err.txt)"
  [[ $(wc -l <err.txt) -eq 1 ]] || fail "'$what': expected one line on stderr, got: $(cat err.txt)"
  line=$(cat err.txt)
  [[ $line == "$tool: "* ]] || fail "'$what': the line does not start with '$tool: ': $line"
  [[ $line == *"$text"* ]] || fail "'$what': expected '$text' in: $line"
  ! grep -Eq "$RAW_CLI11" err.txt || fail "'$what': CLI11's raw text: $line"
  n=$((n + 1))
done <"$TABLE"
[[ -f good.vblk && ! -e new.vblk ]] || fail "a wrong command line left new.vblk behind or removed good.vblk"
echo "ok: $n wrong command lines, one clear line each"
