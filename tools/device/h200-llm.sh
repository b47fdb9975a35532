#!/bin/bash
# GPU-machine session, part 2 (right after h200-final.sh, on the same warm machine): joins the
# SmolLM2 GGUF, then dense perplexity on held-out Shakespeare (GPU, and PoCL for agreement), a
# post-softmax calibration on the first 80 %, Top-θ vs top-k on held-out Shakespeare and GPL-3,
# and a generation with Top-θ on. Each step is time-boxed; results in $OUT.
set -uo pipefail
OUT=${OUT:-/tmp/tt-out}; mkdir -p "$OUT"
export TOPTHETA_DEVICE=${TOPTHETA_DEVICE:-NVIDIA}
M=/tmp/smol.gguf
cat /tmp/gguf.part-a .devgguf-b/part > $M && sha256sum $M | tee "$OUT/gguf.sha"
[ -x build-gpu/tools/cli/toptheta ] || { meson setup build-gpu -Dtests=disabled --buildtype=release && ninja -C build-gpu; } > "$OUT/build.log" 2>&1
tt=./build-gpu/tools/cli/toptheta
S=.devdata/tinyshakespeare.txt; G=.devdata/GPL-3
W="--ctx 2048 --stride 2048"
run() { local name=$1 lim=$2; shift 2; echo "== $name" >&2; timeout $lim "$@" > "$OUT/$name.txt" 2> "$OUT/$name.err"; echo "$name rc=$? $(tail -c 400 "$OUT/$name.txt" | tr '\n' ' ')"; }
run dense-gpu-4 60 $tt eval --model $M --text $S --range 0.8:1 $W --mode dense --max-seqs 4 --json
run dense-pocl-4 150 $tt eval --model $M --text $S --range 0.8:1 $W --mode dense --max-seqs 4 --json --device Portable
run dense-gpu-all 120 $tt eval --model $M --text $S --range 0.8:1 $W --mode dense --json
run calib-post64 150 $tt calibrate --model $M --text $S --range 0:0.8 $W --k 64 --placement post --sample 0.05 --max-seqs 24 --out "$OUT/post64.ttt"
run theta-post64-shk 90 $tt eval --model $M --text $S --range 0.8:1 $W --table "$OUT/post64.ttt" --mode theta --placement post --vmc --max-seqs 8 --json --verbose
run topk64-shk 90 $tt eval --model $M --text $S --range 0.8:1 $W --mode topk --k 64 --sdc exact --vmc --max-seqs 8 --json
run theta-post64-gpl 60 $tt eval --model $M --text $G $W --table "$OUT/post64.ttt" --mode theta --placement post --vmc --json
run topk64-gpl 60 $tt eval --model $M --text $G $W --mode topk --k 64 --sdc exact --vmc --json
run generate-theta 60 $tt generate --model $M --table "$OUT/post64.ttt" --mode theta --placement post --vmc --steps 60 --prompt-text $'ROMEO:\nBut, soft! what light through yonder window breaks?\nIt is the east, and Juliet is the sun.\n'
