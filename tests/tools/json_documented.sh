# Every command and action whose --help offers --json documents what it
# prints: the option is "-j,--json" everywhere, its help points at the man
# page's JSON OUTPUT, and that section names the command's schema
# ("vblk-COMMAND/1"; vblkfs's subcommands "vblkfs-SUB/1"), documents the
# "schema" key, states the stability rule, and (vblk-inject) gives each
# action a subsection. Conversely every JSON OUTPUT section belongs to a
# command that has --json. The keys themselves are checked against the
# same sections by json_output.sh and the mount suite's json_live.sh.
# Run as: bash json_documented.sh MANDIR VBLK_FORMAT VBLK_INSPECT VBLK_INJECT VBLK_EXPORT VBLKFS VBLK_REBUILD
set -euo pipefail
MAN=$(realpath "$1")
declare -A TOOL=([vblk-format]=$2 [vblk-inspect]=$3 [vblk-inject]=$4 [vblk-export]=$5 [vblkfs]=$6 [vblk-rebuild]=$7)
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# The lines of PAGE's JSON OUTPUT section, troff's \- and \(dq undone.
json_section() {
  sed -n '/^\.SH JSON OUTPUT$/,/^\.SH /p' "$1" | sed '$d' | sed -e 's/\\-/-/g' -e 's/\\(dq/"/g'
}

# subcommands TOOL: the names under "Subcommands:" in TOOL's --help.
subcommands() { "$@" --help | sed -n '/^Subcommands:/,/^$/p' | sed -nE 's/^  ([a-z]+)[ ,].*/\1/p'; }

declare -A documented=()  # page -> 1 once a command with --json led to it
# check LABEL PAGE SCHEMA HELP_COMMAND...: if HELP_COMMAND --help offers
# --json, PAGE documents SCHEMA.
check() {
  local label=$1 page=$2 schema=$3
  shift 3
  local help
  help=$("$@" --help) || fail "$label --help failed"
  if ! grep -Eq -- '--json\b' <<<"$help"; then
    echo "ok: $label has no --json"
    return
  fi
  grep -Eq -- '^  -j,--json ' <<<"$help" || fail "$label: --json is not '-j,--json': $(grep -- --json <<<"$help")"
  # The description may wrap: join the option's lines first.
  awk '/^  -j,--json /{p=1} p&&/^  -[-A-Za-z]/&&!/^  -j,--json /{p=0} p' <<<"$help" | tr -s ' \n' ' ' |
    grep -qF "${page%.1}(1), JSON OUTPUT" || fail "$label: --json's help does not point at ${page%.1}(1), JSON OUTPUT"
  [[ -f $MAN/$page ]] || fail "$label: no man page $page"
  local section
  section=$(json_section "$MAN/$page")
  [[ -n $section ]] || fail "$label has --json, but $page has no JSON OUTPUT section"
  grep -qF "\"$schema\"" <<<"$section" || fail "$page, JSON OUTPUT: the schema \"$schema\" of $label is not named"
  grep -Eq '^\.BR schema " \(string\)"$' <<<"$section" || fail "$page, JSON OUTPUT: the key schema is not documented"
  grep -q 'keys' <<<"$section" && grep -q 'only added' <<<"$section" && grep -q 'raises the number' <<<"$section" ||
    fail "$page, JSON OUTPUT: the stability rule (keys only added; a rename or removal raises the number) is missing"
  documented[$page]=1
  echo "ok: $label --json: $schema in $page"
}

for t in vblk-format vblk-inspect vblk-export vblk-rebuild; do check "$t" "$t.1" "$t/1" "${TOOL[$t]}"; done
actions=$(subcommands "${TOOL[vblk-inject]}")
[[ -n $actions ]] || fail "vblk-inject --help lists no actions"
for a in $actions; do
  check "vblk-inject $a" vblk-inject.1 vblk-inject/1 "${TOOL[vblk-inject]}" disk.vblk "$a"
  # Each action's document has a subsection naming it.
  json_section "$MAN/vblk-inject.1" | grep -E '^\.SS ' | grep -qw "$a" ||
    fail "vblk-inject.1, JSON OUTPUT: no subsection names the action $a"
done
subs=$(subcommands "${TOOL[vblkfs]}")
[[ -n $subs ]] || fail "vblkfs --help lists no subcommands"
for s in $subs; do check "vblkfs $s" vblkfs.1 "vblkfs-$s/1" "${TOOL[vblkfs]}" "$s"; done

# No JSON OUTPUT section without a command that prints it.
for page in "$MAN"/*.1; do
  name=$(basename "$page")
  [[ -z $(json_section "$page") || -n ${documented[$name]:-} ]] ||
    fail "$name has a JSON OUTPUT section, but no command documented there offers --json"
done
echo "ok: every --json is documented; every JSON OUTPUT section belongs to one"
