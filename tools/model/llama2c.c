/* llama2c.c — loader for llama2.c-format checkpoints (seven int32 header fields, then fp32 arrays;
 * layout in shared/models/stories260K/MODEL.md). The header is checked before any allocation and
 * the file size must match it exactly, so a truncated or inconsistent file is a clear error, never
 * a crash or an out-of-bounds read. Files and buffers share one code path through a byte source. */
#include "common/fail_msg.h"
#include "model/model.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define HEADER_BYTES 28
/* Sane limits: far beyond any model this runner is meant for, small enough that every size
 * computation below fits comfortably in 64 bits and a corrupt header cannot ask for terabytes. */
#define MAX_DIM (1 << 16)
#define MAX_HIDDEN (1 << 18)
#define MAX_LAYERS 1024
#define MAX_VOCAB (1 << 22)
#define MAX_SEQ (1 << 20)
#define MAX_FLOATS ((uint64_t)1 << 34) /* 64 GiB of weights */

/* A byte source: either a FILE (read at explicit offsets) or a memory buffer. */
typedef struct source {
    FILE *f;
    const unsigned char *mem;
    uint64_t size;
} source;

static int src_read(const source *s, uint64_t off, void *dst, size_t n)
{
    if (off > s->size || n > s->size - off)
        return 0;
    if (s->mem) {
        memcpy(dst, s->mem + off, n);
        return 1;
    }
    if (fseeko(s->f, (off_t)off, SEEK_SET) != 0)
        return 0;
    return fread(dst, 1, n, s->f) == n;
}

static int host_is_little_endian(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* The file is little-endian; swap in place on a big-endian host. */
static void fix_endian(void *p, size_t words)
{
    if (host_is_little_endian())
        return;
    unsigned char *b = p;
    for (size_t i = 0; i < words; i++, b += 4) {
        unsigned char t0 = b[0], t1 = b[1];
        b[0] = b[3];
        b[1] = b[2];
        b[2] = t1;
        b[3] = t0;
    }
}

/* Validates the header and returns the number of fp32 values the file must hold after it. */
static tt_status check_header(const int32_t h[7], tm_config *c, uint64_t *n_floats, char *msg,
                              size_t msg_size)
{
    static const char *names[7] = {"dim",        "hidden_dim", "n_layers", "n_heads",
                                   "n_kv_heads", "vocab_size", "seq_len"};
    for (int i = 0; i < 7; i++)
        if (h[i] == 0 || (h[i] < 0 && i != 5))
            return tools_fail(msg, msg_size, TT_ERR_FORMAT, "header field %s = %d must be positive",
                              names[i], (int)h[i]);
    if (h[5] == INT32_MIN)
        return tools_fail(msg, msg_size, TT_ERR_FORMAT, "header field vocab_size = %d is invalid",
                          (int)h[5]);
    c->dim = h[0];
    c->hidden_dim = h[1];
    c->n_layers = h[2];
    c->n_heads = h[3];
    c->n_kv_heads = h[4];
    c->shared_classifier = h[5] > 0; /* llama2.c's convention: negative = separate classifier */
    c->vocab_size = h[5] > 0 ? h[5] : -h[5];
    c->seq_len = h[6];
    if (c->dim > MAX_DIM || c->hidden_dim > MAX_HIDDEN || c->n_layers > MAX_LAYERS ||
        c->vocab_size > MAX_VOCAB || c->seq_len > MAX_SEQ)
        return tools_fail(
            msg, msg_size, TT_ERR_TOO_LARGE,
            "header beyond limits (dim %d <= %d, hidden_dim %d <= %d, n_layers %d <= %d, "
            "vocab %d <= %d, seq_len %d <= %d)",
            c->dim, MAX_DIM, c->hidden_dim, MAX_HIDDEN, c->n_layers, MAX_LAYERS, c->vocab_size,
            MAX_VOCAB, c->seq_len, MAX_SEQ);
    if (c->dim % c->n_heads != 0)
        return tools_fail(msg, msg_size, TT_ERR_FORMAT, "dim %d is not a multiple of n_heads %d",
                          c->dim, c->n_heads);
    if (c->n_heads % c->n_kv_heads != 0)
        return tools_fail(msg, msg_size, TT_ERR_FORMAT,
                          "n_heads %d is not a multiple of n_kv_heads %d", c->n_heads,
                          c->n_kv_heads);
    c->head_size = c->dim / c->n_heads;
    c->kv_dim = c->head_size * c->n_kv_heads;
    if (c->head_size % 2 != 0) /* RoPE rotates pairs within a head */
        return tools_fail(msg, msg_size, TT_ERR_FORMAT, "head size %d is odd; RoPE needs pairs",
                          c->head_size);
    uint64_t d = (uint64_t)c->dim, hd = (uint64_t)c->hidden_dim, L = (uint64_t)c->n_layers;
    uint64_t kv = (uint64_t)c->kv_dim, V = (uint64_t)c->vocab_size;
    uint64_t n = V * d                      /* token embedding */
                 + L * d * 2                /* rms_att, rms_ffn */
                 + L * d * d * 2            /* wq, wo */
                 + L * kv * d * 2           /* wk, wv */
                 + L * hd * d * 3           /* w1, w2, w3 */
                 + d                        /* rms_final */
                 + (uint64_t)c->seq_len * (uint64_t)c->head_size /* two RoPE tables of hs/2 */
                 + (c->shared_classifier ? 0 : V * d);
    if (n > MAX_FLOATS)
        return tools_fail(msg, msg_size, TT_ERR_TOO_LARGE,
                          "header implies %llu weights (limit %llu)", (unsigned long long)n,
                          (unsigned long long)MAX_FLOATS);
    *n_floats = n;
    return TT_SUCCESS;
}

static tt_status load(const source *s, tm_model **out, char *msg, size_t msg_size)
{
    unsigned char hb[HEADER_BYTES];
    if (s->size < HEADER_BYTES)
        return tools_fail(msg, msg_size, TT_ERR_TRUNCATED,
                          "%llu bytes: shorter than the %d-byte header",
                          (unsigned long long)s->size, HEADER_BYTES);
    if (!src_read(s, 0, hb, HEADER_BYTES))
        return tools_fail(msg, msg_size, TT_ERR_IO, "cannot read the header");
    int32_t h[7];
    for (int i = 0; i < 7; i++) /* assemble little-endian bytes: independent of the host */
        h[i] = (int32_t)((uint32_t)hb[4 * i] | (uint32_t)hb[4 * i + 1] << 8 |
                         (uint32_t)hb[4 * i + 2] << 16 | (uint32_t)hb[4 * i + 3] << 24);
    tm_config c;
    uint64_t n_floats = 0;
    tt_status st = check_header(h, &c, &n_floats, msg, msg_size);
    if (st != TT_SUCCESS)
        return st;
    uint64_t want = HEADER_BYTES + 4 * n_floats;
    if (s->size < want)
        return tools_fail(
            msg, msg_size, TT_ERR_TRUNCATED,
            "%llu bytes, but the header (dim %d, hidden %d, layers %d, heads %d/%d, vocab "
            "%d, seq_len %d) implies %llu",
            (unsigned long long)s->size, c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads,
            c.vocab_size, c.seq_len, (unsigned long long)want);
    if (s->size > want)
        return tools_fail(
            msg, msg_size, TT_ERR_FORMAT,
            "%llu bytes, but the header implies %llu: %llu trailing bytes (wrong header?)",
            (unsigned long long)s->size, (unsigned long long)want,
            (unsigned long long)(s->size - want));

    /* Keep everything except the legacy RoPE tables (RoPE is recomputed). */
    uint64_t rope = (uint64_t)c.seq_len * (uint64_t)c.head_size;
    uint64_t before = n_floats - rope - (c.shared_classifier ? 0 : (uint64_t)c.vocab_size * c.dim);
    uint64_t keep = n_floats - rope;
    if (keep > SIZE_MAX / 4)
        return tools_fail(msg, msg_size, TT_ERR_TOO_LARGE,
                          "model does not fit in this address space");
    tm_model *m = calloc(1, sizeof *m);
    float *w = malloc((size_t)keep * 4);
    if (!m || !w) {
        free(m);
        free(w);
        return tools_fail(msg, msg_size, TT_OUT_OF_HOST_MEMORY,
                          "cannot allocate %llu bytes of weights", (unsigned long long)keep * 4);
    }
    int ok = src_read(s, HEADER_BYTES, w, (size_t)before * 4);
    if (ok && keep > before)
        ok = src_read(s, HEADER_BYTES + 4 * (before + rope), w + before,
                      (size_t)(keep - before) * 4);
    if (!ok) {
        free(m);
        free(w);
        return tools_fail(msg, msg_size, TT_ERR_IO, "read error while loading the weights");
    }
    fix_endian(w, (size_t)keep);
    for (uint64_t i = 0; i < keep; i++)
        if (!isfinite(w[i])) {
            const char *what = isnan(w[i]) ? "NaN" : "Inf"; /* read before w is freed */
            free(m);
            free(w);
            return tools_fail(msg, msg_size, TT_ERR_NONFINITE,
                              "weight %llu (byte offset %llu) is %s", (unsigned long long)i,
                              (unsigned long long)(HEADER_BYTES + 4 * (i < before ? i : i + rope)),
                              what);
        }

    m->cfg = c;
    m->cfg.norm_eps = 1e-5f; /* llama2.c's run.c constants: the format does not store them */
    m->cfg.rope_theta = 10000.0f;
    m->cfg.rope_layout = TM_ROPE_ADJACENT;
    m->data = w;
    m->n_floats = (size_t)keep;
    m->bos_id = m->eos_id = -1; /* no tokenizer in the file */
    size_t d = (size_t)c.dim, hd = (size_t)c.hidden_dim, L = (size_t)c.n_layers;
    size_t kv = (size_t)c.kv_dim;
    const float *p = w;
    m->token_embedding = p, p += (size_t)c.vocab_size * d;
    m->rms_att = p, p += L * d;
    m->wq = p, p += L * d * d;
    m->wk = p, p += L * kv * d;
    m->wv = p, p += L * kv * d;
    m->wo = p, p += L * d * d;
    m->rms_ffn = p, p += L * d;
    m->w1 = p, p += L * hd * d;
    m->w2 = p, p += L * d * hd;
    m->w3 = p, p += L * hd * d;
    m->rms_final = p, p += d;
    m->wcls = c.shared_classifier ? m->token_embedding : p;
    *out = m;
    if (msg && msg_size)
        msg[0] = '\0';
    return TT_SUCCESS;
}

tt_status tm_model_load_memory(const void *data, size_t size, tm_model **out, char *msg,
                               size_t msg_size)
{
    if (!out || (!data && size))
        return tools_fail(msg, msg_size, TT_ERR_NULL_ARGUMENT, "model: NULL argument");
    *out = NULL;
    source s = {NULL, data ? data : (const unsigned char *)"", size};
    return load(&s, out, msg, msg_size);
}

tt_status tm_model_load(const char *path, tm_model **out, char *msg, size_t msg_size)
{
    if (!path || !out)
        return tools_fail(msg, msg_size, TT_ERR_NULL_ARGUMENT, "model: NULL argument");
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return tools_fail(msg, msg_size, TT_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return tools_fail(msg, msg_size, TT_ERR_IO, "%s: not a regular file", path);
    }
    source s = {f, NULL, (uint64_t)sb.st_size};
    tt_status st = load(&s, out, msg, msg_size);
    fclose(f);
    if (st != TT_SUCCESS && msg && msg_size) {
        /* Prefix the path so CLI users see which file is wrong. */
        char tmp[512];
        snprintf(tmp, sizeof tmp, "%s", msg);
        snprintf(msg, msg_size, "%s: %s", path, tmp);
    }
    return st;
}

void tm_model_free(tm_model *m)
{
    if (!m)
        return;
    free(m->data);
    if (m->free_extra) /* GGUF models own a tokenizer; a hook keeps this file free of bpe */
        m->free_extra(m);
    free(m);
}
