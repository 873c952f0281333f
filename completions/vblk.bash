# bash completion for vblkfs, vblk-format, vblk-inspect, vblk-inject, vblk-export, vblk-rebuild
# Installed once per command name; each name loads this file.

_vblk_images() { _filedir '@(img|vblk|image)'; [[ ${#COMPREPLY[@]} -eq 0 ]] && _filedir; }

_vblk_format() {
  local cur prev; _init_completion || return
  case $prev in
    --block-size|-b) COMPREPLY=($(compgen -W "512 1024 2048 4096 8192 16384 32768 65536" -- "$cur")); return ;;
    --level|-l) COMPREPLY=($(compgen -W "$(seq 0 19)" -- "$cur")); return ;;
    --size|-s) COMPREPLY=($(compgen -W "64M 256M 1G 4G 8G 16G 64G 1T" -- "$cur")); return ;;
    --from) _filedir; [[ -z $cur || $cur == - ]] && COMPREPLY+=(-); return ;;
    --label|-L) return ;;
    --data-members|--group-size|--global-parity|--spares|--boxes) return ;;
    --member-dir) _filedir -d; return ;;
  esac
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "--size --block-size --level --label --from --force --json --no-flush-records --resize --data-members --group-size --global-parity --spares --boxes --ha --member-dir --progress --quiet --help --version" -- "$cur"))
  else
    _vblk_images
  fi
}

_vblk_inspect() {
  local cur prev; _init_completion || return
  case $prev in
    --block|-B|--member|--offset|--length) return ;;
    --svg) _filedir svg; return ;;
  esac
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "--json --block --check --repair --no-map --watch --svg --members --member --offset --length --progress --quiet --help --version" -- "$cur"))
  else
    _vblk_images; _filedir -d
  fi
}

_vblk_inject() {
  local cur prev; _init_completion || return
  local actions="bad flaky corrupt latency clear list powercut member box"
  case $prev in
    --on-write) COMPREPLY=($(compgen -W "fail remap" -- "$cur")); return ;;
    --block|-B|--offset|--length|--ms|--fail-writes) return ;;
  esac
  local i action=
  for ((i = 1; i < cword; i++)); do [[ " $actions " == *" ${words[i]} "* ]] && action=${words[i]}; done
  if [[ $cur == -* ]]; then
    local opts
    case $action in
      bad) opts="--block --offset --length --on-write --json" ;;
      flaky) opts="--block --fail-writes --json" ;;
      corrupt) opts="--block --json" ;;
      latency) opts="--block --ms --json" ;;
      clear) opts="--block --all --json" ;;
      powercut) opts="--continue --json" ;;
      list) opts="--json" ;;
      member|box) opts="--json" ;;
      *) opts="--version" ;;
    esac
    COMPREPLY=($(compgen -W "$opts --help" -- "$cur"))
  elif [[ ($action == member || $action == box) && ${words[cword-2]} == "$action" ]]; then
    COMPREPLY=($(compgen -W "fail restore" -- "$cur"))
  elif [[ -z $action && $cword -ge 2 ]]; then
    COMPREPLY=($(compgen -W "$actions" -- "$cur"))
  elif [[ -z $action ]]; then
    _vblk_images; _filedir -d
  fi
}

_vblk_export() {
  local cur prev; _init_completion || return
  case $prev in
    --bad) COMPREPLY=($(compgen -W "fail zero" -- "$cur")); return ;;
  esac
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "--force --bad --salvage --json --progress --quiet --help --version" -- "$cur"))
  else
    _filedir
  fi
}

_vblk_rebuild() {
  local cur prev; _init_completion || return
  case $prev in
    --rate) COMPREPLY=($(compgen -W "16M 64M 256M" -- "$cur")); return ;;
  esac
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "--json --rate --progress --quiet --help --version" -- "$cur"))
  else
    _vblk_images; _filedir -d
  fi
}

_vblkfs() {
  local cur prev; _init_completion || return
  case $prev in
    --log-level) COMPREPLY=($(compgen -W "trace debug info warn error critical off" -- "$cur")); return ;;
    --cache-size) COMPREPLY=($(compgen -W "0 16M 64M 256M 1G" -- "$cur")); return ;;
    --log-file) _filedir; return ;;
    --name|--threads|--timeout|-o) return ;;
  esac
  if [[ $cword -eq 1 ]]; then
    COMPREPLY=($(compgen -W "mount umount --help --version" -- "$cur"))
    return
  fi
  case ${words[1]} in
    mount)
      if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "--foreground --read-only --compress-at-write --no-auto-rebuild --name --cache-size --log-level --log-file --syslog --allow-other -o --threads --help --version" -- "$cur"))
      elif [[ $cword -eq 2 ]]; then
        _vblk_images
      else
        _filedir -d
      fi ;;
    umount|unmount)
      if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "--timeout --json --help" -- "$cur"))
      else
        COMPREPLY=($(awk '$3 == "fuse.vblkfs" { print $2 }' /proc/mounts 2>/dev/null | grep -- "^$cur"))
      fi ;;
  esac
}

complete -F _vblkfs vblkfs
complete -F _vblk_format vblk-format
complete -F _vblk_inspect vblk-inspect
complete -F _vblk_inject vblk-inject
complete -F _vblk_export vblk-export
complete -F _vblk_rebuild vblk-rebuild
