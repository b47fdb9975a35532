#!/usr/bin/env python3
"""perf-table.py — turns `toptheta bench --json` lines (from perf-table.sh, or any JSON lines with
the same keys, e.g. a PyTorch SDPA run with impl "sdpa") into markdown tables: one for decode, one
for prefill, with the design §4 bounds and the fraction of copy bandwidth reached. stdlib only."""
import json
import sys

MODE_ORDER = {"dense": 0, "topk": 1, "theta": 2}
IMPL_ORDER = {"own": 0, "clblast": 1, "sdpa": 2}


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
                  num(r.get("median_ms"), ".4g"), num(r.get("speedup_vs_dense"), ".2f"),
                  num(r.get("speedup_bound"), ".2f"), num(r.get("kept_frac"), ".3f"),
                  num(r.get("vrow_frac"), ".3f")]
        if op == "decode":
            frac = r.get("copy_frac")
            cells += [num(r.get("gbps"), ".1f"), num(None if frac is None else 100 * frac, ".1f"),
                      num(r.get("bound_ms"), ".4g")]
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
    copies = {}  # one copy measurement per bench run, not per row
    for r in rows:
        if r.get("copy_gbps"):
            run = (r.get("op"), r.get("len"), r.get("batch", 1), r["copy_gbps"])
            copies.setdefault(r.get("device", "?"), {})[run] = r["copy_gbps"]
    for dev, runs in copies.items():
        v = sorted(runs.values())
        print(f"Device: {dev}; copy bandwidth (float4 copy, read + written) median "
              f"{v[len(v) // 2]:.1f} GB/s over {len(v)} runs, range {v[0]:.1f} – {v[-1]:.1f}.\n")
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
