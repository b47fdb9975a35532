#!/bin/bash
# README command 1: installs what is missing, builds, and runs `toptheta demo` on the default
# device (the first GPU, else the first device: PoCL on a CPU-only machine). With the stories260K
# model present in ../shared it also runs the real-model demo.
set -euo pipefail
cd "$(dirname "$0")/.."
./ci/setup.sh
./ci/build.sh >/dev/null
model=../shared/models/stories260K/stories260K.bin
if [ -f "$model" ]; then
    exec ./build/tools/cli/toptheta demo --model "$model" "$@"
fi
exec ./build/tools/cli/toptheta demo "$@"
