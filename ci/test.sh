#!/bin/bash
# README command 2 (and what .ci/run calls): installs what is missing, builds, runs every Check
# suite through `meson test` (device suites on PoCL when no GPU is present), then the full device
# selftest, and ends with one summary line.
set -euo pipefail
cd "$(dirname "$0")/.."
./ci/setup.sh
./ci/build.sh
export POCL_CACHE_DIR="$PWD/build/pocl-cache"
status=0
meson test -C build --print-errorlogs --num-processes 1 || status=1
echo "== toptheta selftest on the default device =="
./build/tools/cli/toptheta selftest | tail -n 30 || status=1
python3 - build/meson-logs/testlog.json <<'PY' || status=1
import json, sys
res = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ok = sum(r["result"] == "OK" for r in res)
skip = sum(r["result"] == "SKIP" for r in res)
bad = len(res) - ok - skip
print(f"tests: {ok} passed, {bad} failed, {skip} skipped")
sys.exit(1 if bad else 0)
PY
exit $status
