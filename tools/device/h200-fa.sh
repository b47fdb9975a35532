#!/bin/bash
# GPU-machine check of the FlashAttention-2-form prefill (prefill_fa.cl) for issue 4, in one call:
# the prefill selftest (FA on, the default where tensor cores run), then own dense vs Top-θ
# prefill (keep 0.1, 32 / 8 heads, d 128, fp16) at LENS for the variants "NAME=ENV..." given (the
# first is the default; "old=TT_PF_FA=0" runs the tiled kernel), then the same on the clustered
# data at 8K for FA and the tiled kernel, then the PTX register / spill report of tt_pf_fa.
# CL_VARS="NAME=ENV ..." picks the clustered run's variants instead of the first and the tiled.
# DECODE=1 also runs the decode selftest (the default decode tree's GPU check), case by case
# (--verbose) so that a run cut at DECODE_LIMIT seconds (default 150) still counts its cases.
# Results: $OUT/pf.txt, $OUT/cl/pf.txt, $OUT/ptx.txt, selftest logs.
set -uo pipefail
export TOPTHETA_CACHE_DIR=${TOPTHETA_CACHE_DIR:-/tmp/ttc}
. tools/device/build-gpu.sh
[ $# -gt 0 ] || set -- "fa=" "old=TT_PF_FA=0"
SELFTEST_VARS=${SELFTEST_VARS:-${1%%=*}} BENCH_LIMIT=${BENCH_LIMIT:-90} LENS=${LENS:-"8192 4096"} \
    bash tools/device/h200-prefill.sh "$@"
read -r -a cl_vars <<< "${CL_VARS:-$1 old=TT_PF_FA=0}"
OUT=$OUT/cl SELFTEST=0 LENS=8192 BENCH_EXTRA="--data clustered" BENCH_LIMIT=${BENCH_LIMIT:-90} \
    bash tools/device/h200-prefill.sh "${cl_vars[@]}"
bash tools/device/h200-ptx.sh tt_pf_fa /tmp/ptxfa 2>&1 | grep -i "registers\|spill" | sort | uniq -c > "$OUT/ptx.txt"
cat "$OUT/ptx.txt"
if [ "${DECODE:-0}" = 1 ]; then
    timeout ${DECODE_LIMIT:-150} $tt selftest --verbose --filter decode > "$OUT/dec-selftest.txt" 2>&1
    echo "decode selftest rc=$?: $(grep -c '^PASS' "$OUT/dec-selftest.txt") cases passed," \
        "$(grep -c '^FAIL' "$OUT/dec-selftest.txt") failed; $(tail -1 "$OUT/dec-selftest.txt")"
    grep '^FAIL' "$OUT/dec-selftest.txt" | head -5
fi
