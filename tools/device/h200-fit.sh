#!/bin/bash
# GPU-machine study of fitted θ(n) curves (issue 6, 7b and 7c), run after a call that staged the
# first half of the SmolLM2 GGUF in /tmp (h200-decode.sh or `h200-fit.sh stage`). Phase A: k = 64
# post-softmax calibrated on 2K windows, raw vs fitted (`table fit --to 8192`), one-pass vs exact
# prefill, then 4K / 8K windows with each table. Phase B: per-layer budget tables fitted, and an
# 8K-calibrated table as the long-window reference. Results: $OUT/fit-PHASE.jsonl (labelled eval
# / calibrate JSON lines) and $OUT/fit-PHASE.tar.gz (tables, logs).
set -uo pipefail
OUT=${OUT:-/tmp/tt-out}; mkdir -p "$OUT"
phase=${1:-A}
export TOPTHETA_DEVICE=${TOPTHETA_DEVICE:-NVIDIA}
build() { { [ -d build-gpu ] || meson setup build-gpu -Dtests=disabled --buildtype=release; ninja -C build-gpu; } > "$OUT/build.log" 2>&1 \
    || { tail -30 "$OUT/build.log"; exit 1; }; }
if [ "$phase" = stage ]; then cp .devgguf-a/part /tmp/gguf.part-a && build && echo staged; exit; fi
M=/tmp/smol.gguf
[ -s $M ] || cat /tmp/gguf.part-a .devgguf-b/part > $M
sha256sum $M | cut -c1-16
build
tt=./build-gpu/tools/cli/toptheta
S=.devdata/tinyshakespeare.txt; G=.devdata/GPL-3
T=/tmp/fit; mkdir -p $T
J="$OUT/fit-$phase.jsonl"; : > "$J"
. tools/device/run-labelled.sh # run LABEL LIMIT cmd...
ev() { # LABEL CTX SEQS TABLE extra...: held-out Shakespeare and GPL-3 at context CTX
    local l=$1 c=$2 q=$3 tab=$4; shift 4
    run $l-shk$c 150 $tt eval --model $M --text $S --range 0.8:1 --ctx $c --stride $c --max-seqs $q \
        --json --table $tab --mode theta --placement post --vmc "$@"
    run $l-gpl$c 150 $tt eval --model $M --text $G --ctx $c --stride $c --max-seqs $q \
        --json --table $tab --mode theta --placement post --vmc "$@"
}
if [ "$phase" = A ]; then
    run cal-raw64 150 $tt calibrate --model $M --text $S --range 0:0.8 --ctx 2048 --stride 2048 --k 64 \
        --placement post --sample 0.05 --max-seqs 12 --out $T/raw64.ttt --json
    run fit64 30 $tt table fit $T/raw64.ttt --to 8192 --out $T/fit64.ttt --json
    ev raw 2048 4 $T/raw64.ttt
    ev fit 2048 4 $T/fit64.ttt
    ev fit1p 2048 4 $T/fit64.ttt --post onepass
    ev raw 8192 2 $T/raw64.ttt
    ev fit 8192 2 $T/fit64.ttt
    ev raw 4096 4 $T/raw64.ttt
    ev fit 4096 4 $T/fit64.ttt
elif [ "$phase" = C ]; then # budget tables fitted, and top-k with each table's per-layer k
    for b in ${BUDGETS:-0.095 0.1}; do
        [ -s $T/B$b.ttt ] || run cal-B$b 200 $tt calibrate --model $M --text $S --range 0:0.8 --ctx 2048 \
            --stride 2048 --budget $b --placement post --sample 0.05 --max-seqs 12 --fit-to 8192 \
            --out $T/B$b.ttt --json
        [ -s $T/B$b.ttt ] && ev B$b 2048 4 $T/B$b.ttt
        lk=$($tt table show $T/B$b.ttt --json | python3 -c 'import json,sys; r=[json.loads(l) for l in sys.stdin][1:]; print(",".join("%d:%d" % (x["layer"], x["k"]) for x in r if x["head"] == 0))')
        for src in shk gpl; do
            f=$S; r="--range 0.8:1"; [ $src = gpl ] && f=$G r=
            run topkB$b-${src}2048 150 $tt eval --model $M --text $f $r --ctx 2048 --stride 2048 --max-seqs 4 \
                --json --mode topk --layer-k "$lk" --sdc exact --vmc
        done
    done
else
    for b in ${BUDGETS:-0.085 0.075}; do
        run cal-B$b 200 $tt calibrate --model $M --text $S --range 0:0.8 --ctx 2048 --stride 2048 --budget $b \
            --placement post --sample 0.05 --max-seqs 12 --fit-to 8192 --out $T/B$b.ttt --json
        ev B$b 2048 4 $T/B$b.ttt
        [ -n "${ONEPASS:-}" ] && ev B${b}1p 2048 4 $T/B$b.ttt --post onepass
    done
    run cal-o8k 200 $tt calibrate --model $M --text $S --range 0:0.8 --ctx 8192 --stride 8192 --k 64 \
        --placement post --sample 0.05 --max-seqs 3 --fit --out $T/o8k.ttt --json
    ev o8k 8192 2 $T/o8k.ttt
fi
tar czf "$OUT/fit-$phase.tar.gz" -C $T .
