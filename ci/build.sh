#!/bin/bash
# Configures (once) and builds toptheta in ./build with meson + ninja.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f build/build.ninja ] || meson setup build --buildtype=debugoptimized >/dev/null
meson setup --reconfigure build >/dev/null
ninja -C build
