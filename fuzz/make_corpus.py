#!/usr/bin/env python3
"""make_corpus.py — writes the fuzzers' seed corpora (fuzz/corpus/{table,model,thtxt}/): a few
valid inputs and a few near-misses per loader, all tiny (the whole corpus stays under 64 KiB).
Rerun after a format change; files named regress-* (kept crash inputs) are left alone."""
import os
import struct
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))


def out(kind, name, data):
    d = os.path.join(HERE, "corpus", kind)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def s(text):
    b = text.encode()
    return struct.pack("<H", len(b)) + b


def table(layers=2, heads=2, kv=1, dim=8, placement=0, curves=None, k=None, dhat=(), name="m",
          device="", token="", seal=True):
    """A v1 table (docs/TABLE_FORMAT.md); curves[(l, h)] = list of (n, theta)."""
    curves = curves or {}
    b = b"TTHT" + struct.pack("<I", 1)
    b += struct.pack("<IfIIIIII", placement, 0.5, 32, layers, heads, kv, dim, 0)
    b += struct.pack("<QQq", 0x1234, 100, 1700000000)
    b += s(name) + s(device) + s(token)
    for l in range(layers):
        b += struct.pack("<I", (k or {}).get(l, 0))
    for l in range(layers):
        for h in range(heads):
            c = curves.get((l, h), [])
            has_d = (l, h) in dhat and c
            b += struct.pack("<II", len(c), 1 if has_d else 0)
            b += b"".join(struct.pack("<I", n) for n, _ in c)
            b += b"".join(struct.pack("<f", t) for _, t in c)
            if has_d:
                b += b"".join(struct.pack("<f", 0.01 * i) for i in range(len(c)))
    crc = zlib.crc32(b) if seal else 0
    return b + struct.pack("<I", crc)


def tables():
    c = {(0, 0): [(8, 0.1), (64, 0.2), (512, 0.3)], (0, 1): [(16, -1.0)],
         (1, 0): [(1, 0.0), (2, 1.0)], (1, 1): [(100, 2.5), (1000, 2.0)]}
    out("table", "valid-2x2", table(curves=c, k={0: 8, 1: 16}))
    out("table", "valid-dhat", table(curves=c, k={0: 8}, dhat={(0, 0), (1, 1)}, placement=2,
                                     device="Test Device", token="ab" * 32))
    out("table", "valid-empty-curves", table(layers=1, heads=4, kv=2))
    out("table", "bad-crc", table(curves=c, seal=False))
    out("table", "bad-order", table(curves={(0, 0): [(64, 0.1), (8, 0.2)]}))
    out("table", "truncated", table(curves=c)[:77])
    out("table", "bad-version", b"TTHT" + struct.pack("<I", 2) + bytes(60))
    # A big shape in a tiny file: the loader must refuse before allocating the curves.
    big = table(layers=1, heads=1)
    big = big[:20] + struct.pack("<II", 4096, 4096) + big[28:]
    out("table", "huge-shape", big)


def model(dim=8, hidden=16, layers=1, heads=2, kv=1, vocab=16, seq=4, shared=True, extra=0):
    hs = dim // heads
    n = (vocab * dim + layers * dim * 2 + layers * dim * dim * 2 + layers * hs * kv * dim * 2 +
         layers * hidden * dim * 3 + dim + seq * hs + (0 if shared else vocab * dim))
    h = struct.pack("<7i", dim, hidden, layers, heads, kv, vocab if shared else -vocab, seq)
    w = b"".join(struct.pack("<f", ((i * 37) % 101 - 50) / 100.0) for i in range(n + extra))
    return h + w


def models():
    out("model", "valid-tiny", model())
    out("model", "valid-separate-cls", model(dim=4, hidden=4, heads=2, kv=2, vocab=4,
                                              shared=False))
    out("model", "valid-gqa", model(dim=8, hidden=8, layers=2, heads=4, kv=2, vocab=8, seq=2))
    out("model", "trailing-bytes", model(extra=1))
    out("model", "truncated", model()[:-4])
    out("model", "bad-heads", struct.pack("<7i", 8, 16, 1, 3, 1, 16, 4))
    out("model", "nan-weight", model()[:28] + struct.pack("<f", float("nan")) + model()[32:])
    out("model", "short", b"\x08\x00\x00\x00")


def thtxts():
    ok = ("# reference thresholds\nL0_H0:8 0.125 100 4\nL0_H0:64 0.25 90\nL0_H1:8 -1.5 100\n"
          "L1_H0:16 2 50 8\nL3_H3:1000 1e-3 7\n")
    out("thtxt", "valid", ok.encode())
    out("thtxt", "valid-with-sdc", (ok + "--sdc--\n" + ok.replace("0.125", "0.5")).encode())
    out("thtxt", "valid-crlf", "L0_H0:8 0.125 100\r\nL0_H0:9\t0.5\t3\r\n".encode())
    out("thtxt", "sdc-missing-key", (ok + "--sdc--\nL0_H0:8 0.1 100\n").encode())
    out("thtxt", "duplicate-key", b"L0_H0:8 0.1 1\nL0_H0:8 0.2 1\n")
    out("thtxt", "out-of-shape", b"L9_H0:8 0.1 1\n")
    out("thtxt", "nonfinite", b"L0_H0:8 nan 1\n")
    out("thtxt", "k-conflict", b"L0_H0:8 0.1 1 4\nL0_H1:8 0.1 1 5\n")
    out("thtxt", "empty", b"")


if __name__ == "__main__":
    tables()
    models()
    thtxts()
    total = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in
                os.walk(os.path.join(HERE, "corpus")) for f in fs)
    print(f"corpus: {total} bytes", file=sys.stderr)
