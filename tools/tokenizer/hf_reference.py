#!/usr/bin/env python3
# hf_reference.py — independent reference values for tests/test-tokenizer.c and tests/test-gguf.c:
# SmolLM2's tokenizer rebuilt in Hugging Face `tokenizers` from the GGUF's vocabulary and merges, and
# tensors dequantised by gguf-py. Verification only (pip install tokenizers gguf numpy), never a
# dependency of the build or the tests. Usage: see main().
import sys

import gguf
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers


def field_list(reader, key):
    f = reader.fields[key]
    return [f.parts[i] for i in f.data]


def build_tokenizer(reader):
    tokens = [bytes(x).decode("utf-8") for x in field_list(reader, "tokenizer.ggml.tokens")]
    types = [int(x[0]) for x in field_list(reader, "tokenizer.ggml.token_type")]
    merges = [tuple(bytes(x).decode("utf-8").split(" ")) for x in
              field_list(reader, "tokenizer.ggml.merges")]
    # tokenizer.json of SmolLM2: BPE without unk token, byte fallback or ignore_merges; no
    # normalizer; pre_tokenizer Sequence[Digits(individual), ByteLevel(add_prefix_space=False)].
    bpe = models.BPE(vocab={t: i for i, t in enumerate(tokens)}, merges=merges, unk_token=None,
                     fuse_unk=False, byte_fallback=False, ignore_merges=False)
    tok = Tokenizer(bpe)
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)])
    tok.decoder = decoders.ByteLevel()
    # GGUF token type 3 (control) = the added special tokens of tokenizer.json.
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False)
                            for t, ty in zip(tokens, types) if ty == 3])
    return tok


def main():
    """hf_reference.py MODEL.gguf encode|encode-plain TEXT...  ids (TEXT with Python escapes;
                                                            encode-plain: specials are plain text)
    hf_reference.py MODEL.gguf file PATH          id count and fingerprint of a UTF-8 file
    hf_reference.py MODEL.gguf tensor NAME ROW N  first N dequantised values of a row"""
    reader = gguf.GGUFReader(sys.argv[1])
    if sys.argv[2] in ("encode", "encode-plain"):
        tok = build_tokenizer(reader)
        tok.encode_special_tokens = sys.argv[2] == "encode-plain"
        for text in sys.argv[3:]:
            text = text.encode().decode("unicode_escape").encode("latin-1").decode("utf-8")
            print(repr(text), tok.encode(text, add_special_tokens=False).ids)
    elif sys.argv[2] == "file":
        with open(sys.argv[3], encoding="utf-8", newline="") as f:
            ids = build_tokenizer(reader).encode(f.read(), add_special_tokens=False).ids
        h = 0
        for i in ids:  # the same fingerprint as tests/test-tokenizer.c computes
            h = (h * 1000003 + i) % (1 << 64)
        print(sys.argv[3], "count", len(ids), "hash", h)
    elif sys.argv[2] == "tensor":
        name, row, n = sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
        t = next(t for t in reader.tensors if t.name == name)
        values = gguf.quants.dequantize(t.data, t.tensor_type).reshape(-1, int(t.shape[0]))
        print(name, t.tensor_type.name, [float(v) for v in values[row][:n]])


if __name__ == "__main__":
    main()
