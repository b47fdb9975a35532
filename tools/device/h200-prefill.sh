#!/bin/bash
# GPU-machine prefill check for issue 4: builds, runs the prefill cases of the selftest for each
# variant that is not a diagnostic (name without "nopv"; SELFTEST_VARS="a b" names them instead,
# SELFTEST=0 none), then own dense vs Top-θ prefill (keep
# 0.1, 32 heads / 8 KV heads, d 128, fp16) at LENS (default 4K and 8K) for each variant
# "NAME=ENV..." (environment settings, e.g. "mma=TT_PF_MMA=1", "nopv=TT_PF_DEFS=-DPF_DIAG_NOPV";
# before 2026-12-05 a variant's value was TT_PF_DEFS itself), so one call compares them.
# Results: $OUT/pf-selftest-NAME.txt, $OUT/pf.jsonl (bench lines labelled with the variant),
# $OUT/pf.txt (summary, also printed). BENCH_EXTRA: more bench arguments (e.g. --data clustered);
# SHAPE replaces "--heads 32 --kv-heads 8 --head-dim 128" (e.g. SmolLM2's 9 / 3 heads, d 64);
# MODE=topk times top-k instead of Top-θ (the "theta" columns then hold top-k); KEEP replaces
# the kept fraction 0.1.
# PF_SELFTEST_LIMIT (s, default 200) bounds each selftest (case by case: --verbose), BENCH_LIMIT
# (s, default 120) each bench; after the
# first one past it the rest run with --hold none, after the second they are skipped.
set -uo pipefail
. tools/device/build-gpu.sh
[ $# -gt 0 ] || set -- "base="
for var in "$@"; do
    name=${var%%=*}; envs=${var#*=}
    case $name in *nopv*) continue ;; esac
    [ "${SELFTEST:-1}" = 1 ] || break
    [ -z "${SELFTEST_VARS:-}" ] || case " $SELFTEST_VARS " in *" $name "*) ;; *) continue ;; esac
    tt_env "$envs" timeout ${PF_SELFTEST_LIMIT:-200} $tt selftest --verbose --filter prefill > "$OUT/pf-selftest-$name.txt" 2>&1
    echo "selftest $name rc=$?: $(tail -1 "$OUT/pf-selftest-$name.txt")"
    grep FAIL "$OUT/pf-selftest-$name.txt" | head -5
done
J="$OUT/pf.jsonl"; : > "$J"; hung=0; hold=""
for n in ${LENS:-4096 8192}; do
    [ $hung = 0 ] || break
    for var in "$@"; do
        name=${var%%=*}; envs=${var#*=}
        tt_env "$envs" timeout ${BENCH_LIMIT:-120} $tt bench --op prefill --mode ${MODE:-theta} --keep ${KEEP:-0.1} --len $n \
            ${SHAPE:---heads 32 --kv-heads 8 --head-dim 128} --dtype f16 --reps ${REPS:-5} $hold ${BENCH_EXTRA:-} --json 2>>"$OUT/bench.err" |
            sed "s/^{/{\"var\":\"$name\",/" >> "$J"
        rc=${PIPESTATUS[0]}; echo "bench $name len $n rc=$rc"
        # A bench past its limit hung (2026-12-05): the rest go unheld (--hold none), and after a
        # second hang are skipped, rather than eat the device time.
        if [ $rc = 124 ] && [ -z "$hold" ]; then hold="--hold none"; echo "bench hung: the rest with $hold"
        elif [ $rc = 124 ]; then hung=1; echo "bench hung again: remaining prefill benches skipped"; break; fi
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
    d, t = m.get('dense'), m.get('theta') or m.get('topk')
    print(f"{n:6} {var:8} {d['median_ms'] if d else float('nan'):9.3f} "
          f"{t['median_ms'] if t else float('nan'):9.3f} "
          f"{t['speedup_vs_dense'] if t else float('nan'):7.2f} {t['kept_frac'] if t else float('nan'):6.3f}")
PY
cat "$OUT/pf.txt"
