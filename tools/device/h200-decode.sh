#!/bin/bash
# GPU-machine decode experiments for issue 4: builds, runs the decode cases of the selftest, then
# own dense vs Top-θ decode (keep 0.05, V rows ≈ 0.2) at 16K/32K, batch 1/8, fp16, under the
# launch variants given as "NAME=ENV..." arguments (e.g. "pvu4=TT_DEC_PVU=4"), and PyTorch SDPA for
# the same shapes (HEADS=N: N query heads over the 8 KV heads). OLD_SRC=DIR also builds that
# source tree (e.g. `git archive` of an earlier commit) and benches it as variant "old", side by
# side; a further variant named old* ("old2=") runs that tree again, against run-order effects.
# Each variant gets its own program cache, whose PTX register/spill report goes to $OUT/ptx.txt.
# A variant's " -- " part goes to bench as arguments ("gate=-- --hold gate"). SDPA=0 skips
# PyTorch, SELFTEST=0 the selftests (a short one, 120 s limit, then the full one, 400 s limit: with
# a cold program cache it takes ~3 minutes).
# Also stages the first half of the SmolLM2 GGUF for h200-fidelity.sh. Results: $OUT/dec.jsonl
# (labelled bench lines), $OUT/dec.txt.
set -uo pipefail
[ -f .devgguf-a/part ] && cp .devgguf-a/part /tmp/gguf.part-a
. tools/device/build-gpu.sh
if [ -n "${OLD_SRC:-}" ]; then
    (cd "$OLD_SRC" && meson setup build -Dtests=disabled --buildtype=release && ninja -C build) \
        > "$OUT/build-old.log" 2>&1 || { tail -30 "$OUT/build-old.log"; exit 1; }
fi
# A short smoke test first, with its own limit: on 2026-12-04 (fourth) a call died with the
# machine after 466 s, and a hang in the full selftest could not be told from a lost machine.
[ "${SELFTEST:-1}" = 1 ] && { timeout 120 $tt selftest --short > "$OUT/smoke.txt" 2>&1; echo "smoke rc $?: $(tail -1 "$OUT/smoke.txt")"; }
[ "${SELFTEST:-1}" = 1 ] && { timeout 400 $tt selftest > "$OUT/selftest.txt" 2>&1; tail -1 "$OUT/selftest.txt"; }
J="$OUT/dec.jsonl"; : > "$J"
shapes=${SHAPES:-"16384:1 32768:1 32768:8"}
vars=("base=" "$@"); [ -n "${OLD_SRC:-}" ] && vars=("old=" "${vars[@]}")
for var in "${vars[@]}"; do
    name=${var%%=*}; envs=${var#*=}; bin=$tt; args=""
    case $envs in *"-- "*) args=${envs#*-- }; envs=${envs%%-- *} ;; esac
    case $name in old*) bin=$OLD_SRC/build/tools/cli/toptheta ;; esac # "old2=" runs it again
    for sh in $shapes; do
        n=${sh%%:*}; b=${sh##*:}
        tt_env "TOPTHETA_CACHE_DIR=/tmp/ttc-$name $envs" timeout 60 $bin bench --op decode --mode theta --keep ${KEEP:-0.05} --len $n --batch $b \
            --heads ${HEADS:-32} --kv-heads 8 --head-dim 128 --dtype ${DTYPE:-f16} --reps 10 ${BENCH_EXTRA:-} $args --json 2>>"$OUT/bench.err" |
            sed "s/^{/{\"var\":\"$name\",/" >> "$J"
    done
done
for var in "${vars[@]}"; do
    echo "== ${var}"; TOPTHETA_CACHE_DIR=/tmp/ttc-${var%%=*} bash tools/device/h200-ptx.sh tt_dec_chunk /tmp/ptx-${var%%=*}
done > "$OUT/ptx.txt" 2>&1
# Which variants' programs hold the PTX shuffles (a probe that silently says no shows up here).
for var in "${vars[@]}"; do
    echo "${var%%=*}: $(grep -l shfl.sync -r /tmp/ttc-${var%%=*} 2>/dev/null | wc -l) program(s) with shfl.sync, $(grep -l mma.sync -r /tmp/ttc-${var%%=*} 2>/dev/null | wc -l) with mma.sync"
done >> "$OUT/ptx.txt"
if [ "${SDPA:-1}" = 1 ]; then timeout 150 python3 tools/device/sdpa_bench.py > "$OUT/sdpa.jsonl" 2>&1; else : > "$OUT/sdpa.jsonl"; fi
python3 - "$J" "$OUT/sdpa.jsonl" > "$OUT/dec.txt" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith('{')]
sd = {}
for l in open(sys.argv[2]):
    if l.startswith('{'):
        r = json.loads(l)
        if r.get('op') == 'decode': sd[(r['len'], r['batch'])] = (r['median_ms'], r.get('unheld_ms', 0))
print(f"{'var':10} {'len':>6} {'b':>2} {'dense ms':>8} {'copy%':>6} {'theta ms':>8} {'copy%':>6} {'V':>5} {'x dense':>7} {'sdpa ms':>8} {'unheld':>7}")
for r in rows:
    sp, sb = r['speedup_vs_dense'], r['speedup_bound']
    print(f"{r['var']:10} {r['len']:6} {r['batch']:2} {r['median_ms'] * sp:8.4f} {100 * r['copy_frac'] * sb / sp:6.1f} "
          f"{r['median_ms']:8.4f} {100 * r['copy_frac']:6.1f} {r['vrow_frac']:5.3f} {sp:7.2f} {sd.get((r['len'], r['batch']), (0, 0))[0]:8.4f} {sd.get((r['len'], r['batch']), (0, 0))[1]:7.4f}")
PY
cat "$OUT/dec.txt"
