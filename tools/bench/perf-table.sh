#!/bin/sh
# perf-table.sh — runs the benchmark matrix of issue 4 item 6 (32 / 8 heads, head size 128, fp16
# KV; own dense, CLBlast dense, top-k and Top-theta at keep 1.0 / 0.3 / 0.1) with `toptheta bench
# --json`, appending to one JSON-lines file, then formats it with perf-table.py. --small scales the
# matrix down so that it finishes in about 10 minutes on a 2-core PoCL machine; --cpu keeps every
# length of the full matrix with fewer repetitions and leaves out the slow CPU baselines.
set -u

usage() {
    cat >&2 <<'EOF'
usage: tools/bench/perf-table.sh [--small | --cpu] [--build DIR] [--out PREFIX] [--device SEL]
                                 [--reps R] [--only decode|prefill] [-- extra bench options]
  full:    decode n in 1K 4K 16K 32K 128K x batch 1, 8; prefill n in 1K 4K 8K; 10 reps
  --small: decode n in 1K 4K 16K 32K (batch 8 only below 32K), 3 reps, 1 warm-up; prefill n 1K,
           1 rep, top-k there only at keep 0.1
  --cpu:   the full lengths and batches; decode 3 reps, 3 warm-ups; prefill 1 rep, 1 warm-up,
           CLBlast prefill only at 1K (at 8K it would take about a minute a call on PoCL)
writes PREFIX.jsonl (results), PREFIX.log (progress) and PREFIX.md (tables); PREFIX defaults to
perf-<host>-<date>. Extra options (e.g. --placement post --vmc) go to every bench call.
EOF
    exit 2
}

here=$(cd "$(dirname "$0")" && pwd)
build=build
out=
device=
reps=
small=0
cpu=0
only=
while [ $# -gt 0 ]; do
    case "$1" in
    --small) small=1 ;;
    --cpu) cpu=1 ;;
    --build) build=$2; shift ;;
    --out) out=$2; shift ;;
    --device) device=$2; shift ;;
    --reps) reps=$2; shift ;;
    --only) only=$2; shift ;;
    --) shift; break ;;
    -h | --help) usage ;;
    *) echo "perf-table.sh: unknown argument '$1'" >&2; usage ;;
    esac
    shift
done

bin=$build/tools/cli/toptheta
if [ ! -x "$bin" ]; then
    echo "perf-table.sh: $bin not found (build first, or pass --build DIR)" >&2
    exit 1
fi
[ -n "$out" ] || out=perf-$(hostname)-$(date +%Y%m%d-%H%M)
shape="--heads 32 --kv-heads 8 --head-dim 128 --dtype f16"
keeps=1,0.3,0.1
if [ "$small" = 1 ]; then
    decode_ns="1024 4096 16384 32768"
    prefill_ns="1024"
    timing="--reps ${reps:-3} --warmup 1"
    prefill_timing="--reps 1 --warmup 1"
else
    decode_ns="1024 4096 16384 32768 131072"
    prefill_ns="1024 4096 8192"
    timing="--reps ${reps:-10}"
    prefill_timing=$timing
    if [ "$cpu" = 1 ]; then
        # 3 warm-ups: with the row kernels the first timed decode runs after one warm-up were
        # up to 2x slower than the rest (PoCL, 1K batch 8: 2.9 ms, then 2.2 ms with 5 warm-ups)
        timing="--reps ${reps:-3} --warmup 3"
        prefill_timing="--reps 1 --warmup 1"
    fi
fi
dev=${device:+--device $device}
failures=0
: >"$out.jsonl"
: >"$out.log"

# One bench call; a failing configuration is logged and the matrix goes on.
bench() {
    echo "== toptheta bench $*" | tee -a "$out.log" >&2
    start=$(date +%s)
    # shellcheck disable=SC2086
    if ! "$bin" bench $dev $shape "$@" --json >>"$out.jsonl" 2>>"$out.log"; then
        echo "   FAILED (see $out.log)" >&2
        failures=$((failures + 1))
    fi
    echo "   $(($(date +%s) - start)) s" >&2
}

if [ "$only" != prefill ]; then
    for n in $decode_ns; do
        for b in 1 8; do
            [ "$small" = 1 ] && [ "$b" = 8 ] && [ "$n" -ge 32768 ] && continue
            # shellcheck disable=SC2086
            bench --op decode --len "$n" --batch "$b" --mode theta --compare --keep $keeps \
                $timing "$@"
        done
    done
fi
if [ "$only" != decode ]; then
    for n in $prefill_ns; do
        if [ "$small" = 1 ] || [ "$cpu" = 1 ]; then
            # shellcheck disable=SC2086
            bench --op prefill --len "$n" --mode theta --keep $keeps $prefill_timing "$@"
            if [ "$small" = 1 ]; then
                # shellcheck disable=SC2086
                bench --op prefill --len "$n" --mode topk --compare --keep 0.1 $prefill_timing "$@"
            elif [ "$n" -gt 1024 ]; then # CLBlast beyond 1K: a minute a call on PoCL
                # shellcheck disable=SC2086
                bench --op prefill --len "$n" --mode topk --keep $keeps $prefill_timing "$@"
            else
                # shellcheck disable=SC2086
                bench --op prefill --len "$n" --mode topk --compare --keep $keeps \
                    $prefill_timing "$@"
            fi
        else
            # shellcheck disable=SC2086
            bench --op prefill --len "$n" --mode theta --compare --keep $keeps $prefill_timing "$@"
        fi
    done
fi

python3 "$here/perf-table.py" "$out.jsonl" >"$out.md" && cat "$out.md"
echo "results: $out.jsonl, tables: $out.md, log: $out.log ($failures failed call(s))" >&2
[ "$failures" = 0 ]
