/* gguf_model.c — builds a tm_model from a LLaMA-architecture GGUF file (tools/gguf): every tensor
 * dequantised to fp32 once into one block laid out like the llama2.c loader's, hyper-parameters and
 * the BPE tokenizer from the metadata; and tm_model_open, which picks the loader by file magic. */
#include "common/fail_msg.h"
#include "gguf/gguf.h"
#include "model/model.h"
#include "tokenizer/bpe.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void free_tokenizer(tm_model *m) { bpe_free(m->tokenizer); }

/* Dequantises tensor `name` into dst, which must hold exactly `n` floats. ggml's ne[0] is the
 * fastest dimension, so a [in, out] weight is out rows of in values: already the runner's
 * "out x in" row-major layout, no transpose needed. Q/K rows stay in the file's permuted order
 * (docs/SMOLLM2.md), which is why the config says TM_ROPE_ADJACENT. */
static tt_status put(gg_file *f, const char *name, float *dst, size_t n, char *msg, size_t ms)
{
    const gg_tensor *t;
    tt_status st = gg_get_tensor(f, name, &t);
    if (st == TT_SUCCESS && t->n_elements != n)
        return tools_fail(msg, ms, TT_ERR_FORMAT, "tensor '%s' has %llu elements, expected %zu",
                          name, (unsigned long long)t->n_elements, n);
    if (st == TT_SUCCESS)
        st = gg_dequant(f, t, dst);
    if (st != TT_SUCCESS)
        return tools_fail(msg, ms, st, "%s", gg_error(f));
    for (size_t i = 0; i < n; i++) /* a NaN weight would only show up as NaN logits much later */
        if (!isfinite(dst[i]))
            return tools_fail(msg, ms, TT_ERR_NONFINITE, "tensor '%s' element %zu is %s", name, i,
                              isnan(dst[i]) ? "NaN" : "Inf");
    return TT_SUCCESS;
}

/* Per-layer tensors in the runner's order, each pointing at the slot of layer 0 and its size. */
typedef struct slot {
    const char *name;
    float *base;
    size_t per_layer;
} slot;

static tt_status load(gg_file *f, tm_model *m, char *msg, size_t ms)
{
    gg_llama_params p;
    tt_status st = gg_llama_read(f, &p);
    if (st != TT_SUCCESS)
        return tools_fail(msg, ms, st, "%s", gg_error(f));
    if (p.rope_dim != p.head_dim) /* partial RoPE would need a third layout in the runner */
        return tools_fail(msg, ms, TT_ERR_UNSUPPORTED, "RoPE over %u of %u head dimensions",
                          p.rope_dim, p.head_dim);
    tm_config *c = &m->cfg;
    c->dim = (int)p.dim, c->hidden_dim = (int)p.ffn_dim, c->n_layers = (int)p.n_layer;
    c->n_heads = (int)p.n_head, c->n_kv_heads = (int)p.n_head_kv;
    c->vocab_size = (int)p.vocab_size, c->seq_len = (int)p.context_length;
    c->head_size = (int)p.head_dim, c->kv_dim = (int)(p.head_dim * p.n_head_kv);
    c->shared_classifier = p.tied_output;
    c->norm_eps = p.norm_eps, c->rope_theta = p.rope_base, c->rope_layout = TM_ROPE_ADJACENT;

    size_t d = (size_t)c->dim, hd = (size_t)c->hidden_dim, L = (size_t)c->n_layers;
    size_t kv = (size_t)c->kv_dim, V = (size_t)c->vocab_size;
    size_t per_layer = 2 * d + 2 * d * d + 2 * kv * d + 3 * hd * d;
    size_t n = V * d + L * per_layer + d + (c->shared_classifier ? 0 : V * d);
    if (n > SIZE_MAX / 8)
        return tools_fail(msg, ms, TT_ERR_TOO_LARGE, "model does not fit in this address space");
    float *w = malloc(n * sizeof(float));
    if (!w)
        return tools_fail(msg, ms, TT_OUT_OF_HOST_MEMORY, "cannot allocate %zu bytes of weights",
                          n * sizeof(float));
    m->data = w;
    m->n_floats = n;
    /* The same order as llama2c.c, so both loaders feed forward.c identical pointers. */
    float *q = w;
    m->token_embedding = q, q += V * d;
    slot s[9];
    s[0] = (slot){"attn_norm", q, d}, q += L * d;        /* rms_att */
    s[1] = (slot){"attn_q", q, d * d}, q += L * d * d;    /* wq */
    s[2] = (slot){"attn_k", q, kv * d}, q += L * kv * d;  /* wk */
    s[3] = (slot){"attn_v", q, kv * d}, q += L * kv * d;  /* wv */
    s[4] = (slot){"attn_output", q, d * d}, q += L * d * d; /* wo */
    s[5] = (slot){"ffn_norm", q, d}, q += L * d;         /* rms_ffn */
    s[6] = (slot){"ffn_gate", q, hd * d}, q += L * hd * d; /* w1: silu branch */
    s[7] = (slot){"ffn_down", q, d * hd}, q += L * d * hd; /* w2 */
    s[8] = (slot){"ffn_up", q, hd * d}, q += L * hd * d;   /* w3: linear branch */
    m->rms_att = s[0].base, m->wq = s[1].base, m->wk = s[2].base, m->wv = s[3].base;
    m->wo = s[4].base, m->rms_ffn = s[5].base, m->w1 = s[6].base, m->w2 = s[7].base;
    m->w3 = s[8].base;
    m->rms_final = q, q += d;
    m->wcls = c->shared_classifier ? m->token_embedding : q;

    if ((st = put(f, "token_embd.weight", w, V * d, msg, ms)) != TT_SUCCESS)
        return st;
    for (size_t l = 0; l < L; l++)
        for (int i = 0; i < 9; i++) {
            char name[64];
            snprintf(name, sizeof name, "blk.%zu.%s.weight", l, s[i].name);
            if ((st = put(f, name, s[i].base + l * s[i].per_layer, s[i].per_layer, msg, ms)))
                return st;
        }
    if ((st = put(f, "output_norm.weight", (float *)m->rms_final, d, msg, ms)) != TT_SUCCESS)
        return st;
    if (!c->shared_classifier && (st = put(f, "output.weight", q, V * d, msg, ms)) != TT_SUCCESS)
        return st;

    char tmsg[512];
    if ((st = bpe_load_gguf(f, &m->tokenizer, tmsg, sizeof tmsg)) != TT_SUCCESS)
        return tools_fail(msg, ms, st, "tokenizer: %s", tmsg);
    m->free_extra = free_tokenizer;
    if (bpe_vocab_size(m->tokenizer) != c->vocab_size)
        return tools_fail(msg, ms, TT_ERR_FORMAT, "tokenizer has %d tokens, the model %d",
                          (int)bpe_vocab_size(m->tokenizer), c->vocab_size);
    m->bos_id = bpe_bos_id(m->tokenizer);
    m->eos_id = bpe_eos_id(m->tokenizer);
    int add_bos = 0; /* absent key: llama.cpp's default for gpt2-style vocabularies is false */
    if (gg_find_kv(f, "tokenizer.ggml.add_bos_token") &&
        (st = gg_get_bool(f, "tokenizer.ggml.add_bos_token", &add_bos)) != TT_SUCCESS)
        return tools_fail(msg, ms, st, "%s", gg_error(f));
    m->add_bos = add_bos && m->bos_id >= 0;
    return TT_SUCCESS;
}

tt_status tm_model_load_gguf(const char *path, tm_model **out, char *msg, size_t msg_size)
{
    if (!path || !out)
        return tools_fail(msg, msg_size, TT_ERR_NULL_ARGUMENT, "model: NULL argument");
    *out = NULL;
    char gmsg[512];
    gg_file *f = NULL;
    tt_status st = gg_open(path, &f, gmsg, sizeof gmsg);
    if (st != TT_SUCCESS)
        return tools_fail(msg, msg_size, st, "%s", gmsg);
    tm_model *m = calloc(1, sizeof *m);
    if (!m) {
        gg_close(f);
        return tools_fail(msg, msg_size, TT_OUT_OF_HOST_MEMORY, "model: out of memory");
    }
    m->bos_id = m->eos_id = -1;
    char lmsg[512] = "";
    st = load(f, m, lmsg, sizeof lmsg);
    gg_close(f); /* everything needed was copied (weights dequantised, tokenizer built) */
    if (st != TT_SUCCESS) {
        tm_model_free(m);
        return tools_fail(msg, msg_size, st, "%s: %s", path, lmsg);
    }
    *out = m;
    if (msg && msg_size)
        msg[0] = '\0';
    return TT_SUCCESS;
}

tt_status tm_model_open(const char *path, tm_model **out, char *msg, size_t msg_size)
{
    if (!path || !out)
        return tools_fail(msg, msg_size, TT_ERR_NULL_ARGUMENT, "model: NULL argument");
    *out = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return tools_fail(msg, msg_size, TT_ERR_IO, "%s: %s", path, strerror(errno));
    unsigned char magic[4] = {0};
    size_t got = fread(magic, 1, 4, fp);
    fclose(fp);
    /* A llama2.c header starts with dim as int32: "GGUF" would be dim 1179993927, far beyond its
     * limits, so the magic cannot be mistaken for a valid llama2.c file. */
    if (got == 4 && !memcmp(magic, "GGUF", 4))
        return tm_model_load_gguf(path, out, msg, msg_size);
    return tm_model_load(path, out, msg, msg_size);
}
