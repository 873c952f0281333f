# The bash completion (completions/vblk.bash) offers exactly the long options
# each command's --help lists, so neither can drift from the other: every
# option in --help is completed after "-", and every option completed exists.
# Run as: bash completion_matches_help.sh COMPLETIONS VBLK_FORMAT VBLK_INSPECT
#         VBLK_INJECT VBLK_EXPORT VBLKFS VBLK_REBUILD
set -euo pipefail
COMPLETIONS=$(realpath "$1")
declare -A TOOL=([vblk-format]=$2 [vblk-inspect]=$3 [vblk-inject]=$4 [vblk-export]=$5 [vblkfs]=$6 [vblk-rebuild]=$7)

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
BASH_COMPLETION=/usr/share/bash-completion/bash_completion
[[ -r $BASH_COMPLETION ]] || fail "$BASH_COMPLETION is missing (Debian package bash-completion)"

# Long options that --help lists as options: lines like "  -s,--size SIZE ..."
# or "  --from RAW ..." (not the options a description mentions).
help_options() {
  "$@" --help | sed -nE 's/^ +(-[A-Za-z],)?(--[a-z0-9][a-z0-9-]*).*/\2/p' | sort -u
}

# What the completion offers after "-" for the command line "$@ -".
completed_options() {
  bash -c '
    source "$1"; source "$2"; shift 2
    COMP_WORDS=("$@" "-"); COMP_CWORD=$#; COMP_LINE="$* -"; COMP_POINT=${#COMP_LINE}
    fn=$(complete -p "$1" | sed -E "s/.* -F ([^ ]+) .*/\1/")
    "$fn" "$1" "-" "${COMP_WORDS[COMP_CWORD-1]}"
    printf "%s\n" "${COMPREPLY[@]}"' _ "$BASH_COMPLETION" "$COMPLETIONS" "$@" |
    grep -E '^--' | sort -u
}

check() {  # check LABEL HELP_CMD... -- COMPLETION_WORDS...
  local label=$1
  shift
  local help=() words=()
  while [[ $1 != -- ]]; do help+=("$1"); shift; done
  shift
  words=("$@")
  local want got
  want=$(help_options "${help[@]}")
  [[ -n $want ]] || fail "$label: --help lists no options"
  got=$(completed_options "${words[@]}")
  local missing extra
  missing=$(comm -23 <(echo "$want") <(echo "$got"))
  extra=$(comm -13 <(echo "$want") <(echo "$got"))
  [[ -z $missing ]] || fail "$label: --help lists options the completion does not offer: $(echo $missing)"
  [[ -z $extra ]] || fail "$label: the completion offers options --help does not list: $(echo $extra)"
  echo "ok: $label: $(echo "$want" | wc -l) options"
}

for t in vblk-format vblk-inspect vblk-inject vblk-export vblk-rebuild; do
  check "$t" "${TOOL[$t]}" -- "$t" disk.vblk
done
# vblk-inject's options belong to its actions.
actions=$("${TOOL[vblk-inject]}" --help | sed -n '/^Subcommands:/,/^$/p' | sed -nE 's/^  ([a-z]+) .*/\1/p')
[[ -n $actions ]] || fail "vblk-inject --help lists no actions"
for a in $actions; do
  check "vblk-inject $a" "${TOOL[vblk-inject]}" disk.vblk "$a" -- vblk-inject disk.vblk "$a"
done
check "vblkfs" "${TOOL[vblkfs]}" -- vblkfs
check "vblkfs mount" "${TOOL[vblkfs]}" mount -- vblkfs mount
check "vblkfs umount" "${TOOL[vblkfs]}" umount -- vblkfs umount
