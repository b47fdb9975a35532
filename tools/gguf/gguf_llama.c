/* gguf_llama.c — LLaMA hyper-parameters from "<arch>.*" metadata, checked against each other and
 * against every tensor shape a LLaMA forward pass reads, so a consumer can index weights without
 * further checks; and the model cache path, looked up as tools/model-get/get-smollm2.sh does. */
#include "gguf/gguf_internal.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef unsigned long long ull;

#define TRY(x)                                                                                     \
    do {                                                                                           \
        tt_status st_ = (x);                                                                       \
        if (st_ != TT_SUCCESS)                                                                     \
            return st_;                                                                            \
    } while (0)

/* Reads "<arch>.<name>" as u32; when absent and def != 0, uses def. */
static tt_status arch_u32(gg_file *f, const char *arch, const char *name, uint32_t def,
                          uint32_t *out)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, name);
    if (def && !gg_find_kv(f, key)) {
        *out = def;
        return TT_SUCCESS;
    }
    TRY(gg_get_u32(f, key, out));
    if (*out == 0)
        return gg__fail(f, TT_ERR_FORMAT, "metadata key '%s' is 0", key);
    return TT_SUCCESS;
}

static tt_status arch_f32(gg_file *f, const char *arch, const char *name, float def, float *out)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, name);
    if (def > 0 && !gg_find_kv(f, key)) {
        *out = def;
        return TT_SUCCESS;
    }
    TRY(gg_get_f32(f, key, out));
    if (!(*out > 0) || *out > 1e30f)
        return gg__fail(f, TT_ERR_FORMAT, "metadata key '%s' = %g is not a positive number", key,
                        (double)*out);
    return TT_SUCCESS;
}

/* The tensor must exist with exactly the given shape (ne order: fastest first; b == 0: 1-D). */
static tt_status expect(gg_file *f, const char *name, uint64_t a, uint64_t b)
{
    const gg_tensor *t;
    TRY(gg_get_tensor(f, name, &t));
    uint32_t nd = b ? 2 : 1;
    if (t->n_dims != nd || t->ne[0] != a || (b && t->ne[1] != b))
        return gg__fail(f, TT_ERR_FORMAT,
                        "tensor '%s' has shape [%llu, %llu, %llu, %llu] (%u dims), expected "
                        "[%llu%s%llu]",
                        name, (ull)t->ne[0], (ull)t->ne[1], (ull)t->ne[2], (ull)t->ne[3],
                        t->n_dims, (ull)a, b ? ", " : "", b ? (ull)b : 0ull);
    return TT_SUCCESS;
}

tt_status gg_llama_read(gg_file *f, gg_llama_params *p)
{
    if (!f || !p)
        return TT_ERR_NULL_ARGUMENT;
    memset(p, 0, sizeof *p);
    gg_str arch;
    TRY(gg_get_string(f, "general.architecture", &arch));
    if (!gg_str_eq(arch, "llama"))
        return gg__fail(f, TT_ERR_UNSUPPORTED, "architecture '%.*s' is not llama",
                        (int)(arch.len > 31 ? 31 : arch.len), arch.ptr);
    snprintf(p->arch, sizeof p->arch, "llama");
    const char *a = p->arch;
    TRY(arch_u32(f, a, "block_count", 0, &p->n_layer));
    TRY(arch_u32(f, a, "embedding_length", 0, &p->dim));
    TRY(arch_u32(f, a, "feed_forward_length", 0, &p->ffn_dim));
    TRY(arch_u32(f, a, "attention.head_count", 0, &p->n_head));
    TRY(arch_u32(f, a, "attention.head_count_kv", p->n_head, &p->n_head_kv));
    TRY(arch_u32(f, a, "context_length", 0, &p->context_length));
    TRY(arch_f32(f, a, "rope.freq_base", 10000.0f, &p->rope_base));
    TRY(arch_f32(f, a, "attention.layer_norm_rms_epsilon", 0, &p->norm_eps));
    if (p->n_layer > 1024 || p->dim > (1u << 16) || p->ffn_dim > (1u << 18) ||
        p->n_head > 1024 || p->context_length > (1u << 24))
        return gg__fail(f, TT_ERR_TOO_LARGE,
                        "implausible sizes: %u layers, dim %u, ffn %u, %u heads, context %u",
                        p->n_layer, p->dim, p->ffn_dim, p->n_head, p->context_length);
    if (p->dim % p->n_head || p->n_head % p->n_head_kv)
        return gg__fail(f, TT_ERR_FORMAT, "dim %u, %u heads and %u KV heads do not divide",
                        p->dim, p->n_head, p->n_head_kv);
    p->head_dim = p->dim / p->n_head;
    TRY(arch_u32(f, a, "rope.dimension_count", p->head_dim, &p->rope_dim));
    if (p->head_dim % 2 || p->rope_dim % 2 || p->rope_dim > p->head_dim)
        return gg__fail(f, TT_ERR_FORMAT, "head size %u / RoPE dimensions %u are not usable",
                        p->head_dim, p->rope_dim);

    const gg_tensor *emb;
    TRY(gg_get_tensor(f, "token_embd.weight", &emb));
    uint64_t vocab = emb->ne[1];
    const gg_kv *toks = gg_find_kv(f, "tokenizer.ggml.tokens");
    if (gg_find_kv(f, "llama.vocab_size"))
        TRY(arch_u32(f, a, "vocab_size", 0, &p->vocab_size));
    else
        p->vocab_size = toks && toks->type == GG_ARRAY ? (uint32_t)toks->count : (uint32_t)vocab;
    if (p->vocab_size != vocab || (toks && toks->type == GG_ARRAY && toks->count != vocab))
        return gg__fail(f, TT_ERR_FORMAT, "vocabulary sizes disagree: metadata %u, "
                        "token_embd %llu, tokenizer %llu", p->vocab_size, (ull)vocab,
                        toks ? (ull)toks->count : 0ull);

    uint32_t q = p->n_head * p->head_dim, kv = p->n_head_kv * p->head_dim;
    TRY(expect(f, "token_embd.weight", p->dim, p->vocab_size));
    TRY(expect(f, "output_norm.weight", p->dim, 0));
    p->tied_output = gg_find_tensor(f, "output.weight") == NULL;
    if (!p->tied_output)
        TRY(expect(f, "output.weight", p->dim, p->vocab_size));
    static const struct {
        const char *name;
        int a, b; /* 0 dim, 1 q, 2 kv, 3 ffn, -1 none */
    } layer[] = {{"attn_norm", 0, -1}, {"attn_q", 0, 1},   {"attn_k", 0, 2},
                 {"attn_v", 0, 2},     {"attn_output", 1, 0}, {"ffn_norm", 0, -1},
                 {"ffn_gate", 0, 3},   {"ffn_up", 0, 3},   {"ffn_down", 3, 0}};
    const uint64_t size[4] = {p->dim, q, kv, p->ffn_dim};
    for (uint32_t l = 0; l < p->n_layer; l++)
        for (size_t i = 0; i < sizeof layer / sizeof layer[0]; i++) {
            char name[64];
            snprintf(name, sizeof name, "blk.%u.%s.weight", l, layer[i].name);
            TRY(expect(f, name, size[layer[i].a], layer[i].b < 0 ? 0 : size[layer[i].b]));
        }
    return TT_SUCCESS;
}

int gg_model_path(const char *file_name, char *buf, size_t buf_size)
{
    const char *dir = getenv("TOPTHETA_MODEL_DIR"), *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    int n;
    if (!file_name || !buf || !buf_size)
        return -1;
    if (dir && *dir)
        n = snprintf(buf, buf_size, "%s/%s", dir, file_name);
    else if (xdg && *xdg)
        n = snprintf(buf, buf_size, "%s/toptheta/models/%s", xdg, file_name);
    else if (home && *home)
        n = snprintf(buf, buf_size, "%s/.cache/toptheta/models/%s", home, file_name);
    else
        return -1;
    if (n < 0 || (size_t)n >= buf_size)
        return -1;
    struct stat sb;
    return stat(buf, &sb) == 0 && S_ISREG(sb.st_mode);
}
