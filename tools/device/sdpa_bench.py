#!/usr/bin/env python3
# PyTorch reference timings on the GPU machine (not part of the product): scaled_dot_product_attention
# in fp16 for the decode and prefill shapes of docs/PERFORMANCE.md, plus torch's device copy
# bandwidth, printed as JSON lines with the same keys as `toptheta bench --json`.
import json, sys, torch
import torch.nn.functional as F


def median_ms(fn, reps=20, warm=3, hold=True):
    """Median device time between two CUDA events around fn. With hold, a GPU busy-wait
    (torch.cuda._sleep, ~0.5 ms) runs first, so fn's kernels are queued before the first event
    fires and Python's launch latency is not timed (as toptheta bench's delay kernel does)."""
    for _ in range(warm):
        fn()
    torch.cuda.synchronize()
    ts = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        if hold:
            torch.cuda._sleep(1_000_000)
        a.record(); fn(); b.record(); torch.cuda.synchronize()
        ts.append(a.elapsed_time(b))
    ts.sort()
    return ts[len(ts) // 2]


def copy_gbps():
    x = torch.empty(256 << 20, dtype=torch.uint8, device="cuda"); y = torch.empty_like(x)
    ms = median_ms(lambda: y.copy_(x))
    return 2 * x.numel() / ms / 1e6


def sdpa(op, n, batch, heads=32, kv=8, d=128):
    q_len = 1 if op == "decode" else n
    q = torch.randn(batch, heads, q_len, d, device="cuda", dtype=torch.float16)
    k = torch.randn(batch, kv, n, d, device="cuda", dtype=torch.float16)
    v = torch.randn_like(k)
    causal = op == "prefill"
    try:
        fn = lambda: F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=True)
        fn()
    except TypeError:  # older torch: expand the KV heads
        k2, v2 = k.repeat_interleave(heads // kv, 1), v.repeat_interleave(heads // kv, 1)
        fn = lambda: F.scaled_dot_product_attention(q, k2, v2, is_causal=causal)
    ms = median_ms(fn)
    unheld = median_ms(fn, hold=False)
    byts = 2 * batch * kv * n * d * 2
    flops = 4 * batch * heads * q_len * n * d / (2 if causal else 1)
    return dict(op=op, mode="dense", impl="torch-sdpa", len=n, batch=batch, heads=heads,
                kv_heads=kv, head_dim=d, dtype="f16", median_ms=ms, unheld_ms=unheld, gbps=byts / ms / 1e6,
                gflops=flops / ms / 1e6)


if __name__ == "__main__":
    cg = copy_gbps()
    print(json.dumps(dict(impl="torch-copy", copy_gbps=cg, torch=torch.__version__)))
    for op, ns, batches in (("decode", (1024, 4096, 16384, 32768, 131072), (1, 8)),
                            ("prefill", (1024, 4096, 8192), (1,))):
        for n in ns:
            for b in batches:
                r = sdpa(op, n, b); r["copy_gbps"] = cg
                print(json.dumps(r)); sys.stdout.flush()
