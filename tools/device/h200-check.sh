#!/bin/bash
# One GPU-machine session (see ../shared/device/README.md): build, selftest on the GPU, the
# stories260K evaluations (for the PoCL-vs-GPU agreement of docs/REAL_MODEL.md), a launch-parameter
# sweep of decode, prefill comparisons and PyTorch SDPA. Model/token files and tables travel in
# .devdata/ (git-ignored). Results land in $OUT; a summary is printed last.
set -uo pipefail
. tools/device/build-gpu.sh
$tt selftest > "$OUT/selftest-gpu.txt" 2>&1; tail -1 "$OUT/selftest-gpu.txt"
M=.devdata/stories260K.bin; E=.devdata/eval.tokens
{
  $tt eval --model $M --tokens $E --mode dense --json
  $tt eval --model $M --tokens $E --table .devdata/post64.ttt --mode theta --placement post --vmc --json
  $tt eval --model $M --tokens $E --table .devdata/pre64.ttt --mode theta --sdc exact --vmc --json
  $tt eval --model $M --tokens $E --mode topk --k 64 --sdc exact --vmc --json
} > "$OUT/eval-gpu.jsonl" 2> "$OUT/eval-gpu.err"; cat "$OUT/eval-gpu.jsonl"
for wg in 64 128 256; do for ch in 256 512 1024 2048; do
  TT_WG=$wg TT_DEC_CH=$ch $tt bench --op decode --len 32768 --mode theta --keep 0.2,0.07 --reps 20 --json \
     | sed "s/^{/{\"wg\":$wg,\"ch\":$ch,/"
done; done > "$OUT/sweep-decode.jsonl" 2> "$OUT/sweep.err"
python3 - "$OUT/sweep-decode.jsonl" <<'PY'
import json,sys
for l in open(sys.argv[1]):
    r=json.loads(l); print(r.get("wg"),r.get("ch"),r["mode"],"%.4f ms"%r["median_ms"],"%.0f GB/s"%r["gbps"],"copy %.0f"%r["copy_gbps"],"x%.2f"%r["speedup_vs_dense"])
PY
$tt bench --op decode --len 32768 --batch 8 --mode theta --keep 0.07 --reps 20 --compare > "$OUT/decode-b8.txt" 2>&1
$tt bench --op prefill --len 8192 --mode theta --keep 0.1 --reps 5 --compare > "$OUT/prefill-8k.txt" 2>&1
tail -8 "$OUT/decode-b8.txt"; tail -8 "$OUT/prefill-8k.txt"
python3 tools/device/sdpa_bench.py > "$OUT/sdpa.jsonl" 2>&1; cat "$OUT/sdpa.jsonl" | head -20
