#!/bin/bash
# GPU-machine refresh of docs/PERFORMANCE.md's device tables: per-kernel decode times
# (TT_PROFILE=1: chunk kernel, merge, gap) at 16K / 32K batch 1 and 32K batch 8, then the full
# bench matrix of issue 4 (tools/bench/perf-table.sh, 10 reps) and PyTorch SDPA, formatted into
# one table. SELFTEST=1 runs `toptheta selftest` first (~3-4 min with a cold program cache).
# Results in $OUT: prof.txt, perf.jsonl, sdpa.jsonl, perf-all.md.
set -uo pipefail
. tools/device/build-gpu.sh
[ "${SELFTEST:-0}" = 1 ] && { timeout 300 $tt selftest > "$OUT/selftest.txt" 2>&1; tail -1 "$OUT/selftest.txt"; }
for sh in ${PROF_SHAPES:-16384:1 32768:1 32768:8}; do
    n=${sh%%:*}; b=${sh##*:}
    for mode in dense theta; do
        echo "== $mode n=$n b=$b" >> "$OUT/prof.txt"
        TT_PROFILE=1 timeout 60 $tt bench --op decode --mode $mode --keep 0.05 --len $n --batch $b \
            --heads 32 --kv-heads 8 --head-dim 128 --dtype f16 --reps 10 2>&1 | tail -4 >> "$OUT/prof.txt"
    done
done
timeout ${TABLE_LIMIT:-400} tools/bench/perf-table.sh --build build-gpu --out "$OUT/perf" --reps 10 > "$OUT/perf-run.log" 2>&1
echo "perf-table rc $?"
timeout 90 python3 tools/device/sdpa_bench.py > "$OUT/sdpa.jsonl" 2>&1
cat "$OUT/perf.jsonl" "$OUT/sdpa.jsonl" > "$OUT/all.jsonl"
python3 tools/bench/perf-table.py "$OUT/all.jsonl" > "$OUT/perf-all.md" 2>&1
grep -h "profile" "$OUT/prof.txt" | head -3
tail -5 "$OUT/perf-all.md"
