#!/usr/bin/env python3
# crosscheck_hf.py — OFFLINE VERIFICATION TOOL, not used by the build or the tests: an independent
# dense forward pass of a LLaMA GGUF in float64 numpy, written from Hugging Face's LlamaForCausalLM
# conventions (Q/K rows put back in HF order, rotate_half RoPE, repeat_kv GQA), compared with the C
# runner's logits (build/tools/tt-logits). Needs `pip install gguf numpy` in a throw-away venv.
#
#   crosscheck_hf.py MODEL.gguf TT_LOGITS TEXT N [FROM]   compare on the first N tokens of TEXT
#   crosscheck_hf.py MODEL.gguf --ids "1 2 3 ..."         print reference logits (for tests)
#
# Why numpy and not transformers: torch from PyPI pulls several GB of CUDA wheels, too much for the
# 2-core CI-sized machine; the computation below follows modeling_llama.py step by step.
import os
import subprocess
import sys
import tempfile

import gguf
import numpy as np


def load(path):
    r = gguf.GGUFReader(path)

    def field(key):
        f = r.fields[key]
        return f.parts[f.data[0]]

    hp = {
        "n_layer": int(field("llama.block_count")[0]),
        "n_head": int(field("llama.attention.head_count")[0]),
        "n_kv": int(field("llama.attention.head_count_kv")[0]),
        "eps": float(field("llama.attention.layer_norm_rms_epsilon")[0]),
        "theta": float(field("llama.rope.freq_base")[0]),
    }
    w = {}
    for t in r.tensors:
        v = gguf.quants.dequantize(t.data, t.tensor_type)  # numpy shape (ne1, ne0) = (out, in)
        w[t.name] = np.asarray(v, dtype=np.float64).reshape([int(d) for d in reversed(t.shape)])
    return hp, w


def unpermute(wq, n_head):
    """convert_hf_to_gguf.py stored row (h, 2i+s) = HF row (h, s*half+i); undo it."""
    out, n_in = wq.shape
    hd = out // n_head
    return wq.reshape(n_head, hd // 2, 2, n_in).swapaxes(1, 2).reshape(out, n_in)


def rmsnorm(x, g, eps):
    return g * (x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps))


def rotate_half(x):
    h = x.shape[-1] // 2
    return np.concatenate([-x[..., h:], x[..., :h]], axis=-1)


def forward(hp, w, ids):
    H, G, eps = hp["n_head"], hp["n_kv"], hp["eps"]
    emb = w["token_embd.weight"]
    x = emb[np.asarray(ids)]
    T, dim = x.shape
    hd = dim // H
    inv = 1.0 / hp["theta"] ** (np.arange(0, hd, 2, dtype=np.float64) / hd)
    ang = np.outer(np.arange(T, dtype=np.float64), inv)
    cos, sin = np.cos(np.concatenate([ang, ang], -1)), np.sin(np.concatenate([ang, ang], -1))
    mask = np.triu(np.full((T, T), -np.inf), 1)
    for l in range(hp["n_layer"]):
        p = "blk.%d." % l
        h = rmsnorm(x, w[p + "attn_norm.weight"], eps)
        q = (h @ unpermute(w[p + "attn_q.weight"], H).T).reshape(T, H, hd).transpose(1, 0, 2)
        k = (h @ unpermute(w[p + "attn_k.weight"], G).T).reshape(T, G, hd).transpose(1, 0, 2)
        v = (h @ w[p + "attn_v.weight"].T).reshape(T, G, hd).transpose(1, 0, 2)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        k, v = np.repeat(k, H // G, axis=0), np.repeat(v, H // G, axis=0)  # repeat_kv
        s = q @ k.transpose(0, 2, 1) / np.sqrt(hd) + mask
        s = np.exp(s - s.max(-1, keepdims=True))
        o = (s / s.sum(-1, keepdims=True)) @ v
        x = x + o.transpose(1, 0, 2).reshape(T, dim) @ w[p + "attn_output.weight"].T
        h = rmsnorm(x, w[p + "ffn_norm.weight"], eps)
        g = h @ w[p + "ffn_gate.weight"].T
        x = x + ((g / (1 + np.exp(-g))) * (h @ w[p + "ffn_up.weight"].T)) @ w[p + "ffn_down.weight"].T
    h = rmsnorm(x, w["output_norm.weight"], eps)
    return h @ w.get("output.weight", emb).T


def logsoftmax(z):
    m = z.max(-1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(-1, keepdims=True))


def main():
    hp, w = load(sys.argv[1])
    if sys.argv[2] == "--ids":
        ids = [int(t) for t in sys.argv[3].split()]
        ref = forward(hp, w, ids)
        for t in range(len(ids)):
            a = int(ref[t].argmax())
            print("pos %d argmax %d logit %.6f  logits[0:4] %s" % (
                t, a, ref[t][a], " ".join("%.6f" % v for v in ref[t][:4])))
        return
    tool, text, n = sys.argv[2], sys.argv[3], int(sys.argv[4])
    frm = sys.argv[5] if len(sys.argv) > 5 else "0"
    with tempfile.TemporaryDirectory() as d:
        pre = os.path.join(d, "out")
        subprocess.run([tool, sys.argv[1], text, str(n), pre, frm], check=True)
        ids = [int(t) for t in open(pre + ".ids").read().split()]
        ours = np.fromfile(pre + ".f32", dtype=np.float32).reshape(n, -1).astype(np.float64)
    ref = forward(hp, w, ids)
    diff = np.abs(ours - ref)
    lo, lr = logsoftmax(ours), logsoftmax(ref)
    tgt = np.asarray(ids[1:])
    nll_o, nll_r = -lo[np.arange(n - 1), tgt], -lr[np.arange(n - 1), tgt]
    print("tokens %d, vocab %d" % (n, ref.shape[1]))
    print("max |logit diff| %.3e (logit scale: max |ref| %.2f), mean %.3e"
          % (diff.max(), np.abs(ref).max(), diff.mean()))
    print("argmax agreement %d / %d" % ((ours.argmax(1) == ref.argmax(1)).sum(), n))
    print("per-token NLL: max |diff| %.3e; mean NLL ours %.6f ref %.6f (ppl %.4f vs %.4f)"
          % (np.abs(nll_o - nll_r).max(), nll_o.mean(), nll_r.mean(), np.exp(nll_o.mean()),
             np.exp(nll_r.mean())))
    print("max |log-prob diff| over the vocabulary %.3e" % np.abs(lo - lr).max())


if __name__ == "__main__":
    main()
