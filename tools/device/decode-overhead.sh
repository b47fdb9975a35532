#!/bin/bash
# GPU-machine measurement of what decode costs beyond its bytes: own dense and Top-θ decode (keep
# 0.05, V rows ≈ 0.2, batch 8) at 16K-128K keys, the same launches with kernels that return at
# once (DEC_DIAG_EMPTY=3), and the byte floors of gather-floor-probe.c at the same sizes (chunk
# 1024, WG 128, as the kernel runs there). Prints, per length, each kernel's µs over its floor.
# Results in $OUT: dec.jsonl / dec.txt (h200-decode.sh), floor.txt, overhead.txt.
set -uo pipefail
LENS=${LENS:-"16384 32768 65536 131072"}
shapes=""; for n in $LENS; do shapes="$shapes $n:8"; done
SELFTEST=0 SDPA=0 SHAPES="$shapes" bash tools/device/h200-decode.sh "empty=TT_DEC_DEFS=-DDEC_DIAG_EMPTY=3" > /dev/null
gcc -O2 -o /tmp/gfp tools/device/gather-floor-probe.c -lOpenCL -lm > "$OUT/gfp-build.log" 2>&1 || { cat "$OUT/gfp-build.log"; exit 1; }
for n in $LENS; do GFP_N=$n GFP_CH=1024 GFP_WG=128 timeout 60 /tmp/gfp; done > "$OUT/floor.txt" 2>&1
python3 - "$OUT/dec.jsonl" "$OUT/floor.txt" > "$OUT/overhead.txt" <<'PY'
import json, re, sys
runs = {}
for l in open(sys.argv[1]):
    if l.startswith('{'):
        r = json.loads(l)
        theta = r['median_ms'] * 1e3
        runs[(r['var'], r['len'])] = (theta * r['speedup_vs_dense'], theta)
floor, n = {}, None
for l in open(sys.argv[2]):
    m = re.search(r'; (\d+) keys x', l)
    if m:
        n = int(m.group(1))
    m = re.search(r'dense K then V ([\d.]+) us.*Top-theta V after K ([\d.]+) us', l)
    if m and n:
        floor[n] = (float(m.group(1)), float(m.group(2)))
print(f"{'len':>7} {'WGs':>5} {'empty us':>8} {'dense us':>8} {'floor':>7} {'over':>6} "
      f"{'theta us':>8} {'floor':>7} {'over':>6} {'x dense':>7} {'floor x':>7}")
for (var, n), (d, t) in sorted(runs.items()):
    if var != 'base' or n not in floor:
        continue
    fd, ft = floor[n]
    e = runs.get(('empty', n), (0, 0))[0]
    print(f"{n:7} {64 * n // 1024:5} {e:8.1f} {d:8.1f} {fd:7.1f} {d - fd:6.1f} {t:8.1f} {ft:7.1f} "
          f"{t - ft:6.1f} {d / t:7.3f} {fd / ft:7.3f}")
PY
cat "$OUT/overhead.txt"
