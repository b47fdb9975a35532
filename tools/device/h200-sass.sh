#!/bin/bash
# Developer aid on the GPU machine: runs one fp16 bench call (BENCH, default a Top-θ prefill at
# 2K keys, 32 / 8 heads, d 128) with an empty program cache, then leaves in $OUT/ptx the PTX of
# every program holding kernel $1 (default tt_pf_fa) and, where Triton's or CUDA's ptxas and
# nvdisasm / cuobjdump exist, its register report and SASS (*.sass), to read instruction mixes.
set -u
. tools/device/build-gpu.sh
pat=${1:-tt_pf_fa}
export TOPTHETA_CACHE_DIR=/tmp/ttc-sass; rm -rf "$TOPTHETA_CACHE_DIR"
B=${BENCH:---op prefill --mode theta --keep 0.1 --len 2048 --heads 32 --kv-heads 8 --head-dim 128}
$tt bench $B --dtype f16 --reps 2 > /dev/null 2>&1
bash tools/device/h200-ptx.sh "$pat" "$OUT/ptx"
ptxas=$(command -v ptxas || find /usr/local/cuda* /usr/lib/python3* /usr/local/lib/python3* \
        /opt -name ptxas -type f 2>/dev/null | head -1)
[ -n "$ptxas" ] || { echo "no ptxas"; exit 0; }
bin=$(dirname "$ptxas")
dis=$(ls "$bin/nvdisasm" "$bin/cuobjdump" 2>/dev/null | head -1); echo "disassembler: ${dis:-none}"
for f in "$OUT"/ptx/*.ptx; do
    "$ptxas" -arch=sm_90 -v "$f" -o "${f%.ptx}.cubin" > /dev/null 2>&1 || continue
    case $dis in
        *nvdisasm) "$dis" -c "${f%.ptx}.cubin" > "${f%.ptx}.sass" ;;
        *cuobjdump) "$dis" -sass "${f%.ptx}.cubin" > "${f%.ptx}.sass" ;;
    esac
    rm -f "${f%.ptx}.cubin"
done
ls -la "$OUT/ptx"
