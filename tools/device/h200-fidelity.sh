#!/bin/bash
# GPU-machine fidelity sweep for docs/FIDELITY.md (issue 6 item 6), run after a call that staged
# the first half of the SmolLM2 GGUF in /tmp (h200-final.sh or h200-decode.sh). Phase 1: post-softmax
# Top-θ at k = 16, 32, 64, 128; phase 2: top-k at the same k and the pre / max-relative placements at
# k = 64; phase 3: per-layer k chosen for a kept budget ($BUDGET). Calibration on the first 80 % of tinyshakespeare (12 windows of 2048, 5 % of rows), eval
# on 4 held-out windows and on all of GPL-3. Results: $OUT/fid-PHASE.jsonl (one labelled line per
# run) and $OUT/fid-PHASE.tar.gz (tables, logs).
set -uo pipefail
OUT=${OUT:-/tmp/tt-out}; mkdir -p "$OUT"
phase=${1:-1}
export TOPTHETA_DEVICE=${TOPTHETA_DEVICE:-NVIDIA}
M=/tmp/smol.gguf
[ -s $M ] || cat /tmp/gguf.part-a .devgguf-b/part > $M
sha256sum $M | cut -c1-16
[ -x build-gpu/tools/cli/toptheta ] || { meson setup build-gpu -Dtests=disabled --buildtype=release && ninja -C build-gpu; } > "$OUT/build.log" 2>&1
ninja -C build-gpu > "$OUT/build.log" 2>&1 || { tail -20 "$OUT/build.log"; exit 1; }
tt=./build-gpu/tools/cli/toptheta
S=.devdata/tinyshakespeare.txt; G=.devdata/GPL-3
W="--ctx 2048 --stride 2048"
T=/tmp/fid; mkdir -p $T
J="$OUT/fid-$phase.jsonl"; : > "$J"
. tools/device/run-labelled.sh # run LABEL LIMIT cmd...
calib() { # k placement
    run cal-$2$1 120 $tt calibrate --model $M --text $S --range 0:0.8 $W --k $1 --placement $2 \
        --sample 0.05 --max-seqs 12 --out $T/$2$1.ttt --json
}
evals() { # label extra-args...
    local l=$1; shift
    run $l-shk 100 $tt eval --model $M --text $S --range 0.8:1 $W --max-seqs 4 --json "$@"
    run $l-gpl 100 $tt eval --model $M --text $G $W --json "$@"
}
if [ "$phase" = 1 ]; then
    for k in 16 32 64 128; do
        calib $k post
        evals post$k --table $T/post$k.ttt --mode theta --placement post --vmc
    done
    run post64-shk-verbose 100 $tt eval --model $M --text $S --range 0.8:1 $W --max-seqs 4 --json \
        --verbose --table $T/post64.ttt --mode theta --placement post --vmc
elif [ "$phase" = 3 ]; then # per-layer k for a global budget (calibrate --budget), post-softmax
    run cal-postB 200 $tt calibrate --model $M --text $S --range 0:0.8 $W --budget ${BUDGET:-0.085} \
        --placement post --sample 0.05 --max-seqs 12 --out $T/postB.ttt --json
    evals postB --table $T/postB.ttt --mode theta --placement post --vmc
else
    for k in 16 32 64 128; do evals topk$k --mode topk --k $k --sdc exact --vmc; done
    for p in pre rel; do
        calib 64 $p
        evals ${p}64 --table $T/${p}64.ttt --mode theta --placement $p --sdc exact --vmc
    done
fi
tar czf "$OUT/fid-$phase.tar.gz" -C $T .
