#!/bin/bash
# Developer aid on the GPU machine: decode kernel timings per kernel (TT_PROFILE=1) for launch /
# build-option variants given as "NAME=ENV..." arguments, with the PTX register / spill report of
# each variant's decode program (h200-ptx.sh). Results: $OUT/diag.txt.
set -uo pipefail
. tools/device/build-gpu.sh
shapes=${SHAPES:-"32768:1 32768:8"}
for var in "base=" "$@"; do
    name=${var%%=*}; envs=${var#*=}
    export TOPTHETA_CACHE_DIR=/tmp/cache-$name; mkdir -p $TOPTHETA_CACHE_DIR
    for sh in $shapes; do
        n=${sh%%:*}; b=${sh##*:}
        tt_env "$envs TT_PROFILE=1" timeout 60 $tt bench --op decode --mode theta --keep ${KEEP:-0.05} --len $n \
            --batch $b --heads 32 --kv-heads 8 --head-dim 128 --dtype ${DTYPE:-f16} --reps 5 ${BENCH_EXTRA:-} \
            > /tmp/b.out 2> /tmp/b.err
        echo "-- $name n=$n b=$b $envs"
        grep -E "^own" /tmp/b.out | awk '{print "   " $1, $2, $3, $5, $10, $NF}'
        grep -B1 "timing own Top-theta" /tmp/b.err | grep profile | sed 's/^/   dense /'
        grep profile /tmp/b.err | tail -1 | sed 's/^/   theta /'
    done
    tools/device/h200-ptx.sh tt_dec_chunk /tmp/ptx-$name
done 2>&1 | tee "$OUT/diag.txt"
