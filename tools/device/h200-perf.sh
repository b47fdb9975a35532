#!/bin/bash
# GPU-machine session for the decode numbers of docs/PERFORMANCE.md (issue 4): build, decode
# selftest, own dense vs Top-θ (keep 0.05, V rows ≈ 0.2) under the default kernel and the
# variants given as "NAME=ENV..." arguments, then the decode matrix (perf-table.sh) under the
# fastest of them at 32K batch 8, and PyTorch SDPA. Also stages the first half of the SmolLM2
# GGUF for h200-fidelity.sh. Results: $OUT/perf.txt, $OUT/perf-h200-decode.md, $OUT/all.jsonl.
set -uo pipefail
[ -f .devgguf-a/part ] && cp .devgguf-a/part /tmp/gguf.part-a
. tools/device/build-gpu.sh
exec > >(tee "$OUT/perf.txt") 2>&1
J=/tmp/var.jsonl; : > $J
best=base; best_ms=1e9; best_env=
for var in "base=" "$@"; do
    name=${var%%=*}; envs=${var#*=}
    tt_env "$envs" timeout 200 $tt selftest --filter decode > /tmp/st.txt 2>&1
    echo "-- $name: $(tail -1 /tmp/st.txt)"; grep -m3 -iE "error|fail[^e]" /tmp/st.txt | cut -c1-300
    for sh in ${SHAPES:-16384:1 32768:1 32768:8}; do
        n=${sh%%:*}; b=${sh##*:}
        tt_env "$envs" timeout 60 $tt bench --op decode --mode theta --keep 0.05 --len $n --batch $b \
            --heads 32 --kv-heads 8 --head-dim 128 --dtype f16 --reps 10 --json 2>/dev/null |
            sed "s/^{/{\"var\":\"$name\",/" >> $J
    done
    ms=$(python3 -c "import json,sys; r=[json.loads(l) for l in open('$J')]; print(min([x['median_ms'] for x in r if x['var']=='$name' and x['mode']=='dense' and x['len']==32768 and x['batch']==8] or [1e9]))")
    if python3 -c "import sys; sys.exit(0 if $ms < $best_ms else 1)"; then best=$name; best_ms=$ms; best_env=$envs; fi
done
python3 - $J <<'PY'
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    print(f"{r['var']:8} {r['len']:6} b{r['batch']} {r['mode']:6} {r['median_ms']:8.4f} ms  copy {100*r['copy_frac']:5.1f}%  V {r['vrow_frac']:.3f}  x{r['speedup_vs_dense']:.2f}")
PY
echo "== decode matrix under $best ($best_env)"
tt_env "$best_env" timeout 240 tools/bench/perf-table.sh --build build-gpu --out "$OUT/perf-h200-decode" --reps ${REPS:-5} --only decode > /tmp/pt.log 2>&1
timeout 60 python3 tools/device/sdpa_bench.py > /tmp/sdpa.jsonl 2>&1
cat "$OUT/perf-h200-decode.jsonl" /tmp/sdpa.jsonl $J > "$OUT/all.jsonl"
python3 tools/bench/perf-table.py "$OUT/perf-h200-decode.jsonl" /tmp/sdpa.jsonl > "$OUT/perf-h200-decode.md" 2>&1
grep -E "^\| (own|torch)" "$OUT/perf-h200-decode.md" | grep -E " dense | theta " | head -40
rm -f "$OUT/perf-h200-decode.log"
