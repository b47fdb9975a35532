#!/usr/bin/env python3
"""perf-table.py — turns `toptheta bench --json` lines (from perf-table.sh, or any JSON lines with
the same keys, e.g. tools/device/sdpa_bench.py's "torch-sdpa" rows) into markdown tables: one for decode, one
for prefill, with the design §4 bounds and the fraction of copy bandwidth reached. stdlib only."""
import json
import sys

MODE_ORDER = {"dense": 0, "topk": 1, "theta": 2}
IMPL_ORDER = {"own": 0, "clblast": 1, "torch-sdpa": 2, "sdpa": 2}


def load(paths):
    """Rows in file order; a configuration seen twice (re-measured dense) keeps its first row."""
    rows, seen = [], set()
    for path in paths:
        with open(path) as f:
            for n, line in enumerate(f, 1):
                line = line.strip()
                if not line.startswith("{"):
                    continue
                try:
                    r = json.loads(line)
                except json.JSONDecodeError as e:
                    print(f"perf-table.py: {path}:{n}: {e}", file=sys.stderr)
                    continue
                key = (r.get("op"), r.get("len"), r.get("batch", 1), r.get("heads"),
                       r.get("kv_heads"), r.get("head_dim"), r.get("dtype"), r.get("impl", "own"),
                       r.get("mode"), r.get("keep"), r.get("placement"), r.get("device"))
                if key not in seen:
                    seen.add(key)
                    rows.append(r)
    return rows


def num(v, fmt):
    return "–" if v is None else format(v, fmt)


def ms(v):
    """Milliseconds with about four significant digits, never in exponent form."""
    return "–" if v is None else f"{v:.0f}" if v >= 1000 else f"{v:.4g}"


def shape_key(r):
    return (r.get("op"), r.get("len"), r.get("batch", 1), r.get("heads"), r.get("kv_heads"),
            r.get("head_dim"))


def complete(rows):
    """Rows from other tools (no speedup, no fractions) get them from own dense of the shape."""
    dense = {shape_key(r): r for r in rows if r.get("impl", "own") == "own"
             and r.get("mode") == "dense"}
    for r in rows:
        d = dense.get(shape_key(r))
        if r.get("speedup_vs_dense") is None and d and r.get("median_ms"):
            r["speedup_vs_dense"] = d["median_ms"] / r["median_ms"]
        if r.get("mode") == "dense":
            for k in ("kept_frac", "vrow_frac", "speedup_bound"):
                r.setdefault(k, 1.0)
        if r.get("copy_frac") is None and r.get("gbps") and r.get("copy_gbps"):
            r["copy_frac"] = r["gbps"] / r["copy_gbps"]


def klen(n):
    return f"{n // 1024}K" if n % 1024 == 0 else str(n)


def sort_key(r):
    """Per shape: own dense, the other dense baselines, then top-k and Top-θ by falling keep."""
    keep = r.get("keep")
    impl = IMPL_ORDER.get(r.get("impl", "own"), 9)
    return (r.get("len"), r.get("batch", 1), MODE_ORDER.get(r.get("mode"), 9), impl,
            -(keep if keep is not None else 2.0))


def table(rows, op):
    rows = sorted((r for r in rows if r.get("op") == op), key=sort_key)
    if not rows:
        return []
    if op == "decode":
        head = ["n", "batch", "impl", "mode", "keep", "ms", "× dense", "bound ×", "kept",
                "V rows", "GB/s", "copy %", "floor ms"]
    else:
        head = ["n", "impl", "mode", "keep", "ms", "× dense", "bound ×", "kept", "V rows",
                "GFLOP/s"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [klen(r["len"])]
        if op == "decode":
            cells.append(str(r.get("batch", 1)))
        cells += [r.get("impl", "own"), r.get("mode", "?"), num(r.get("keep"), ".1f"),
                  ms(r.get("median_ms")), num(r.get("speedup_vs_dense"), ".2f"),
                  num(r.get("speedup_bound"), ".2f"), num(r.get("kept_frac"), ".3f"),
                  num(r.get("vrow_frac"), ".3f")]
        if op == "decode":
            frac = r.get("copy_frac")
            cells += [num(r.get("gbps"), ".1f"), num(None if frac is None else 100 * frac, ".1f"),
                      ms(r.get("bound_ms"))]
        else:
            cells.append(num(r.get("gflops"), ".1f"))
        out.append("| " + " | ".join(cells) + " |")
    return out


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print("usage: perf-table.py RESULTS.jsonl [MORE.jsonl ...] > tables.md", file=sys.stderr)
        return 2
    rows = load(argv[1:])
    if not rows:
        print("perf-table.py: no results", file=sys.stderr)
        return 1
    complete(rows)
    copies = {}  # one copy measurement per bench run, not per row
    for r in rows:
        if r.get("copy_gbps") and r.get("impl", "own") in ("own", "clblast"):
            run = (r.get("op"), r.get("len"), r.get("batch", 1), r["copy_gbps"])
            copies.setdefault(r.get("device", "?"), {})[run] = r["copy_gbps"]
    for dev, runs in copies.items():
        v = sorted(runs.values())
        print(f"Device: {dev}; copy bandwidth (float4 copy, read + written) median "
              f"{v[len(v) // 2]:.1f} GB/s over {len(v)} runs, range {v[0]:.1f} – {v[-1]:.1f}.\n")
    for r in rows:  # other tools' own copy measurement (e.g. torch's device copy)
        if not r.get("op") and r.get("copy_gbps"):
            print(f"{r.get('impl', '?')}: {r['copy_gbps']:.1f} GB/s (read + written).\n")
    rows = [r for r in rows if r.get("op")]
    first = rows[0]
    print(f"Shape: {first.get('heads')} heads / {first.get('kv_heads')} KV heads, head size "
          f"{first.get('head_dim')}, {first.get('dtype')} KV; Top-θ placement "
          f"{first.get('placement')}, SDC {first.get('sdc')}, VMC "
          f"{'on' if first.get('vmc') else 'off'}.\n")
    for op, title in (("decode", "Decode (one query row per head)"),
                      ("prefill", "Prefill (one causal chunk, q_len = kv_len = n)")):
        t = table(rows, op)
        if t:
            print(f"### {title}\n")
            print("\n".join(t))
            print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
