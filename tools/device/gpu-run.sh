#!/bin/bash
# Builds toptheta on the lent GPU machine (see ../shared/device/README.md) and runs the checks
# and measurements given as arguments (selftest, demo, eval, bench), writing full outputs under
# $OUT and printing a short table last. Usage: . .devdeps/opencl-env.sh && tools/device/gpu-run.sh selftest demo
set -uo pipefail
OUT=${OUT:-/tmp/tt-out}
mkdir -p "$OUT"
export TOPTHETA_DEVICE=${TOPTHETA_DEVICE:-NVIDIA}
{ meson setup build-gpu -Dtests=disabled --buildtype=release >/dev/null && ninja -C build-gpu >/dev/null; } \
    > "$OUT/build.log" 2>&1 || { tail -40 "$OUT/build.log"; exit 1; }
tt=./build-gpu/tools/cli/toptheta
$tt devices | tee "$OUT/devices.txt"
summary=""
for job in "$@"; do
    case "$job" in
    selftest)
        $tt selftest > "$OUT/selftest-gpu.txt" 2>&1
        summary+="GPU selftest: $(tail -1 "$OUT/selftest-gpu.txt")"$'\n'
        TOPTHETA_DEVICE=Portable $tt selftest --short > "$OUT/selftest-pocl.txt" 2>&1
        summary+="PoCL selftest --short: $(tail -1 "$OUT/selftest-pocl.txt")"$'\n' ;;
    demo)
        $tt demo --reps 9 > "$OUT/demo-gpu.txt" 2>&1
        summary+="demo: exit $?"$'\n' ;;
    *)
        eval "$job" > "$OUT/job-$(echo "$job" | tr -c 'a-zA-Z0-9' '_' | cut -c1-40).txt" 2>&1
        summary+="job '$job': exit $?"$'\n' ;;
    esac
done
echo "== summary =="
printf '%s' "$summary"
