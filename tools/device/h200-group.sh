#!/bin/bash
# GPU-machine experiment for issue 4: how the decode kernels fare with 32, 16 or 8 query heads over
# the same 8 KV heads (4, 2 or 1 heads per group: the same K/V bytes, 4x / 2x / 1x the per-head
# work and registers). 32K keys, batch 8, fp16, keep 0.05 (V rows ≈ 0.2) and keep 0.002 (almost no
# V rows: what the K pass and the per-chunk work cost alone). Prints dense / Top-θ times and the
# copy fraction per line, then the register report of tt_dec_chunk per group size.
. tools/device/build-gpu.sh
: > "$OUT/g.jsonl"
for h in 32 8 16 32 8; do
    for kp in 0.05 0.002; do
        TOPTHETA_CACHE_DIR=/tmp/grp-$h timeout 60 $tt bench --op decode --mode theta --keep $kp \
            --len 32768 --batch 8 --heads $h --kv-heads 8 --head-dim 128 --dtype f16 --reps 10 \
            --json 2>/dev/null | sed "s/^{/{\"h\":$h,/" >> "$OUT/g.jsonl"
    done
done
python3 - "$OUT/g.jsonl" <<'PY'
import json, sys
for l in open(sys.argv[1]):
    if not l.startswith('{'):
        continue
    r = json.loads(l); sp = r['speedup_vs_dense']
    print(r['h'], r['keep'], 'dense %.4f ms %.1f%% copy' % (r['median_ms'] * sp, 100 * r['copy_frac'] * r['speedup_bound'] / sp),
          'theta %.4f ms %.1f%%' % (r['median_ms'], 100 * r['copy_frac']), 'V %.3f x%.2f' % (r['vrow_frac'], sp))
PY
for h in 8 16 32; do
    echo "== heads $h"
    TOPTHETA_CACHE_DIR=/tmp/grp-$h bash tools/device/h200-ptx.sh tt_dec_chunk /tmp/grpp-$h | grep -i registers
done
