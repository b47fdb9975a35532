#!/bin/bash
# GPU-machine prefill check for issue 4: builds, runs the prefill cases of the selftest, then own
# dense vs Top-θ prefill (keep 0.1) at 4K and 8K under each P·V mapping (TT_PF_PVROW=1, the
# default: one row per 32 threads; 0: four threads per row). Results: $OUT/pf.jsonl, $OUT/pf.txt.
set -uo pipefail
OUT=${OUT:-/tmp/tt-out}; mkdir -p "$OUT"
export TOPTHETA_DEVICE=${TOPTHETA_DEVICE:-NVIDIA}
{ [ -d build-gpu ] || meson setup build-gpu -Dtests=disabled --buildtype=release; ninja -C build-gpu; } > "$OUT/build.log" 2>&1 \
    || { tail -30 "$OUT/build.log"; exit 1; }
tt=./build-gpu/tools/cli/toptheta
timeout 150 $tt selftest --filter prefill > "$OUT/selftest.txt" 2>&1; tail -1 "$OUT/selftest.txt"
J="$OUT/pf.jsonl"; : > "$J"
for n in ${LENS:-4096 8192}; do
    for pv in 1 0; do
        TT_PF_PVROW=$pv timeout 90 $tt bench --op prefill --mode theta --keep 0.1 --len $n --heads 32 \
            --kv-heads 8 --head-dim 128 --dtype f16 --reps ${REPS:-5} --json 2>>"$OUT/bench.err" |
            sed "s/^{/{\"pvrow\":$pv,/" >> "$J"
    done
done
python3 - "$J" > "$OUT/pf.txt" <<'PY'
import json, sys
for l in open(sys.argv[1]):
    if l.startswith('{'):
        r = json.loads(l)
        print(r['pvrow'], r['len'], r['mode'], r.get('keep'), '%.3f ms' % r['median_ms'], 'x%.2f' % (r.get('speedup_vs_dense') or 0), 'kept %.3f' % r['kept_frac'])
PY
cat "$OUT/pf.txt"
