#!/bin/bash
# Installs the Debian 12 packages toptheta needs to build, test and run (as root; uses sudo when
# not root). Does nothing when everything is already installed, so it is cheap to call first.
set -euo pipefail
PACKAGES=(gcc g++ python3 python3-pip meson ninja-build pkg-config
          ocl-icd-opencl-dev opencl-headers pocl-opencl-icd clinfo
          libclblast-dev check libpcre2-dev valgrind clang libclang-rt-14-dev)
missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "ci/setup.sh: installing ${missing[*]}" >&2
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO=sudo
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -q >/dev/null
    $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
