#!/usr/bin/env bash
# Installs the Debian 12 packages vblk needs to build and test, if missing.
# Idempotent: runs apt-get only when something is absent.
set -euo pipefail

packages=(
  build-essential pkg-config meson ninja-build clang libclang-rt-14-dev
  libfuse3-dev fuse3 libcli11-dev libspdlog-dev libzstd-dev libxxhash-dev
  libgtest-dev libgmock-dev nlohmann-json3-dev python3 e2fsprogs util-linux procps xxd man-db groff-base bash-completion
  nbdkit nbdkit-plugin-dev libnbd-bin python3-libnbd qemu-utils fio
  uuid-dev libsystemd-dev systemd libisal-dev
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}" >&2
  if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
