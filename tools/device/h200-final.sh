#!/bin/bash
# GPU-machine session, part 1: build, selftest (full and --big), the benchmark matrix of
# docs/PERFORMANCE.md, PyTorch SDPA, and staging of the first half of the SmolLM2 GGUF (the file is
# larger than one transfer) for h200-llm.sh. Results in $OUT.
set -uo pipefail
[ -f .devgguf-a/part ] && cp .devgguf-a/part /tmp/gguf.part-a
. tools/device/build-gpu.sh
$tt selftest > "$OUT/selftest-gpu.txt" 2>&1; tail -1 "$OUT/selftest-gpu.txt"
$tt selftest --big --verbose > "$OUT/selftest-big.txt" 2>&1; tail -1 "$OUT/selftest-big.txt"
timeout 330 tools/bench/perf-table.sh --build build-gpu --out "$OUT/perf-h200" --reps 10 > "$OUT/perf-run.log" 2>&1
timeout 60 python3 tools/device/sdpa_bench.py > "$OUT/sdpa.jsonl" 2>&1
cat "$OUT/perf-h200.jsonl" "$OUT/sdpa.jsonl" > "$OUT/all.jsonl"
python3 tools/bench/perf-table.py "$OUT/all.jsonl" > "$OUT/perf-h200-all.md" 2>&1
tail -60 "$OUT/perf-h200-all.md"
