#!/bin/bash
# GPU-machine prefill check for issue 4: builds, runs the prefill cases of the selftest, then own
# dense vs Top-θ prefill (keep 0.1, 32 heads / 8 KV heads, d 128, fp16) at 4K and 8K for each
# kernel variant "NAME=DEFS" (TT_PF_DEFS build options; default: the current kernel alone), so one
# call compares them. Results: $OUT/pf-selftest.txt,
# $OUT/pf.jsonl (bench lines labelled with the variant), $OUT/pf.txt (summary, also printed).
set -uo pipefail
. tools/device/build-gpu.sh
timeout 200 $tt selftest --filter prefill > "$OUT/pf-selftest.txt" 2>&1; echo "selftest rc=$?: $(tail -1 "$OUT/pf-selftest.txt")"
J="$OUT/pf.jsonl"; : > "$J"
[ $# -gt 0 ] || set -- "new="
for n in ${LENS:-4096 8192}; do
    for var in "$@"; do
        name=${var%%=*}; defs=${var#*=}
        TT_PF_DEFS="$defs" timeout 120 $tt bench --op prefill --mode theta --keep 0.1 --len $n --heads 32 \
            --kv-heads 8 --head-dim 128 --dtype f16 --reps ${REPS:-5} --json 2>>"$OUT/bench.err" |
            sed "s/^{/{\"var\":\"$name\",/" >> "$J"
        echo "bench $name len $n rc=${PIPESTATUS[0]}"
    done
done
python3 - "$J" > "$OUT/pf.txt" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith('{')]
cell = {}
for r in rows:
    cell.setdefault((r['len'], r['var']), {})[r['mode']] = r
print(f"{'len':>6} {'var':8} {'dense ms':>9} {'theta ms':>9} {'speedup':>7} {'kept':>6}")
for (n, var), m in cell.items():
    d, t = m.get('dense'), m.get('theta')
    print(f"{n:6} {var:8} {d['median_ms'] if d else float('nan'):9.3f} "
          f"{t['median_ms'] if t else float('nan'):9.3f} "
          f"{t['speedup_vs_dense'] if t else float('nan'):7.2f} {t['kept_frac'] if t else float('nan'):6.3f}")
PY
cat "$OUT/pf.txt"
