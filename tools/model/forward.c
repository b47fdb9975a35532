/* forward.c — LLaMA forward pass for a chunk of tokens (chunked prefill, or decode when the chunk is
 * one token). Everything but attention runs on the host, the matrix products through gemm.c (host
 * GEMM, or CLBlast on the runner's device for long chunks); attention goes through libtoptheta:
 * on a device with the KV cache in cl_mem (head-major per layer), or through
 * tt_reference_attention on a host copy of the cache, which serves as an oracle. */
#include "model/model.h"
#include "model/gemm.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tm_runner {
    const tm_model *m;
    tm_runner_config cfg;
    int max_seq, max_chunk, pos;
    size_t es; /* bytes per KV element */
    tt_attn_params *params;
    tm_layer_stats *stats;
    char err[1024];
    /* Host scratch, sized for max_chunk rows. */
    float *x, *xb, *xb2, *q, *k, *v, *att, *hb, *hb2, *qh, *oh, *rope_freq, *vsum_f;
    unsigned char *kpack, *vpack; /* new K/V rows of a chunk, [kv_heads][T][hd] in kv_dtype */
    double *vsum_host;            /* [n_layers][kv_dim]: Σ of stored V rows (VMC) */
    int *vsum_pos;                /* position the device vsum of a layer holds; -1 = stale */
    uint32_t *stats_host;
    /* Device backend. */
    cl_command_queue queue;
    cl_mem *kbuf, *vbuf, *vsumbuf, qbuf, obuf, statsbuf;
    /* Reference backend: [n_layers][kv_heads][max_seq][hd] caches and packed [kv][kv_len][hd]. */
    unsigned char *hk, *hv, *pk, *pv;
    /* Observer (calibration): K cache as fp32 [kv_heads][max_seq][hd] and one head's raw rows. */
    tm_observer_fn obs;
    void *obs_user;
    float *obs_k;
    unsigned char *obs_raw;
    tm_gemm *gemm; /* the projections' GEMM engine (host, or CLBlast on the device) */
};

static tt_status rfail(tm_runner *r, tt_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, sizeof r->err, fmt, ap);
    va_end(ap);
    return st;
}

const char *tm_runner_error(const tm_runner *r) { return r ? r->err : "no runner"; }
int tm_runner_pos(const tm_runner *r) { return r->pos; }
const tm_model *tm_runner_model(const tm_runner *r) { return r->m; }
const tm_runner_config *tm_runner_get_config(const tm_runner *r) { return &r->cfg; }

tt_status tm_runner_set_params(tm_runner *r, const tt_attn_params *params)
{
    for (int l = 0; l < r->m->cfg.n_layers; l++) {
        if (!params) /* dense, with .layer set so a later mode switch needs only the mode */
            tt_attn_params_init(&r->params[l]), r->params[l].layer = l;
        else
            r->params[l] = params[l];
    }
    return TT_SUCCESS;
}

const tm_layer_stats *tm_runner_stats(const tm_runner *r, int layer) { return &r->stats[layer]; }

void tm_runner_stats_reset(tm_runner *r)
{
    memset(r->stats, 0, sizeof *r->stats * (size_t)r->m->cfg.n_layers);
}

void tm_runner_reset(tm_runner *r)
{
    const tm_config *c = &r->m->cfg;
    r->pos = 0;
    memset(r->vsum_host, 0, sizeof(double) * (size_t)c->n_layers * (size_t)c->kv_dim);
    for (int l = 0; l < c->n_layers; l++)
        r->vsum_pos[l] = -1; /* the device copy is re-uploaded (as zeros) before its next use */
}

void tm_runner_destroy(tm_runner *r)
{
    if (!r)
        return;
    for (int l = 0; r->kbuf && l < r->m->cfg.n_layers; l++) {
        cl_mem bufs[3] = {r->kbuf[l], r->vbuf[l], r->vsumbuf[l]};
        for (int i = 0; i < 3; i++)
            if (bufs[i])
                clReleaseMemObject(bufs[i]);
    }
    cl_mem bufs[3] = {r->qbuf, r->obuf, r->statsbuf};
    for (int i = 0; i < 3; i++)
        if (bufs[i])
            clReleaseMemObject(bufs[i]);
    void *ptrs[] = {r->params, r->stats, r->x, r->xb, r->xb2, r->q, r->k, r->v, r->att, r->hb,
                    r->hb2, r->qh, r->oh, r->rope_freq, r->vsum_f, r->kpack, r->vpack,
                    r->vsum_host, r->vsum_pos, r->stats_host, r->kbuf, r->vbuf, r->vsumbuf,
                    r->hk, r->hv, r->pk, r->pv, r->obs_k, r->obs_raw};
    for (size_t i = 0; i < sizeof ptrs / sizeof ptrs[0]; i++)
        free(ptrs[i]);
    tm_gemm_destroy(r->gemm);
    free(r);
}

tt_status tm_runner_set_observer(tm_runner *r, tm_observer_fn fn, void *user)
{
    if (!r)
        return TT_ERR_NULL_ARGUMENT;
    const tm_config *c = &r->m->cfg;
    size_t rows = (size_t)r->max_seq * c->head_size;
    if (fn && !r->obs_k) { /* allocated on first use only: runs without an observer pay nothing */
        r->obs_k = malloc(rows * c->n_kv_heads * sizeof(float));
        r->obs_raw = malloc(rows * r->es);
        if (!r->obs_k || !r->obs_raw)
            return rfail(r, TT_OUT_OF_HOST_MEMORY, "observer: out of memory");
    }
    r->obs = fn;
    r->obs_user = user;
    return TT_SUCCESS;
}

/* Allocates the device buffers: K, V and the running V sum per layer, then Q, O and stats. */
static tt_status create_device(tm_runner *r, size_t kv_bytes, size_t qo_bytes, size_t st_bytes)
{
    const tm_config *c = &r->m->cfg;
    cl_context clc;
    cl_device_id dev;
    tt_status st = tt_context_cl(r->cfg.ctx, &clc, &dev, &r->queue);
    if (st != TT_SUCCESS)
        return st;
    size_t L = (size_t)c->n_layers;
    r->kbuf = calloc(L, sizeof(cl_mem)), r->vbuf = calloc(L, sizeof(cl_mem));
    r->vsumbuf = calloc(L, sizeof(cl_mem));
    if (!r->kbuf || !r->vbuf || !r->vsumbuf)
        return TT_OUT_OF_HOST_MEMORY;
    cl_int e = CL_SUCCESS;
    for (size_t i = 0; e == CL_SUCCESS && i < 3 * L + 3; i++) {
        size_t l = i / 3;
        cl_mem *slot = l == L ? (i % 3 == 0 ? &r->qbuf : i % 3 == 1 ? &r->obuf : &r->statsbuf)
                              : (i % 3 == 0 ? &r->kbuf[l] : i % 3 == 1 ? &r->vbuf[l] : &r->vsumbuf[l]);
        size_t bytes = l == L ? (i % 3 == 2 ? st_bytes : qo_bytes)
                              : (i % 3 == 2 ? (size_t)c->kv_dim * 4 : kv_bytes);
        *slot = clCreateBuffer(clc, CL_MEM_READ_WRITE, bytes ? bytes : 4, NULL, &e);
    }
    return (tt_status)e;
}

tt_status tm_runner_create(const tm_model *m, const tm_runner_config *cfg, tm_runner **out)
{
    if (!m || !cfg || !out || (cfg->backend == TM_BACKEND_DEVICE && !cfg->ctx))
        return TT_ERR_NULL_ARGUMENT;
    if ((unsigned)cfg->backend > TM_BACKEND_REFERENCE || (unsigned)cfg->kv_dtype > TT_DTYPE_F16)
        return TT_ERR_BAD_ENUM;
    *out = NULL;
    const tm_config *c = &m->cfg;
    tm_runner *r = calloc(1, sizeof *r);
    if (!r)
        return TT_OUT_OF_HOST_MEMORY;
    r->m = m;
    r->cfg = *cfg;
    r->max_seq = cfg->max_seq > 0 && cfg->max_seq < c->seq_len ? cfg->max_seq : c->seq_len;
    r->max_chunk = cfg->max_chunk > 0 && cfg->max_chunk < r->max_seq ? cfg->max_chunk : r->max_seq;
    r->cfg.max_seq = r->max_seq, r->cfg.max_chunk = r->max_chunk; /* effective values */
    r->es = cfg->kv_dtype == TT_DTYPE_F16 ? 2 : 4;
    size_t L = (size_t)c->n_layers, T = (size_t)r->max_chunk, S = (size_t)r->max_seq;
    size_t dim = (size_t)c->dim, kvd = (size_t)c->kv_dim, hid = (size_t)c->hidden_dim;
    size_t kv_bytes = (size_t)c->n_kv_heads * S * (size_t)c->head_size * r->es;
    tt_attn_shape sh = {1, c->n_heads, c->n_kv_heads, c->head_size, (int)T, (int)S,
                        cfg->kv_dtype};
    size_t stats_bytes = tt_stats_size(&sh), ref = cfg->backend == TM_BACKEND_REFERENCE;
    struct { void **p; size_t bytes; } host[] = {
        {(void **)&r->params, L * sizeof *r->params}, {(void **)&r->stats, L * sizeof *r->stats},
        {(void **)&r->x, T * dim * 4},   {(void **)&r->xb, T * dim * 4},
        {(void **)&r->xb2, T * dim * 4}, {(void **)&r->q, T * dim * 4},
        {(void **)&r->att, T * dim * 4}, {(void **)&r->qh, T * dim * 4},
        {(void **)&r->oh, T * dim * 4},  {(void **)&r->k, T * kvd * 4},
        {(void **)&r->v, T * kvd * 4},   {(void **)&r->hb, T * hid * 4},
        {(void **)&r->hb2, T * hid * 4}, {(void **)&r->rope_freq, (size_t)c->head_size / 2 * 4},
        {(void **)&r->vsum_f, kvd * 4},  {(void **)&r->kpack, T * kvd * r->es},
        {(void **)&r->vpack, T * kvd * r->es}, {(void **)&r->vsum_host, L * kvd * sizeof(double)},
        {(void **)&r->vsum_pos, L * sizeof(int)}, {(void **)&r->stats_host, stats_bytes},
        /* The reference backend keeps the cache on the host and packs it for each call. */
        {(void **)&r->hk, ref * L * kv_bytes}, {(void **)&r->hv, ref * L * kv_bytes},
        {(void **)&r->pk, ref * kv_bytes},     {(void **)&r->pv, ref * kv_bytes},
    };
    for (size_t i = 0; i < sizeof host / sizeof host[0]; i++)
        if (host[i].bytes && !(*host[i].p = calloc(1, host[i].bytes))) {
            tm_runner_destroy(r);
            return TT_OUT_OF_HOST_MEMORY;
        }
    /* RoPE: pair number i (of head_size / 2) rotates by pos / theta^(2i / head_size); computed in
     * double so a base of 1e5 or more loses nothing before the float rounding. */
    for (int j = 0; j < c->head_size; j += 2)
        r->rope_freq[j / 2] = (float)(1.0 / pow((double)c->rope_theta, (double)j / c->head_size));
    tm_runner_set_params(r, NULL);
    tm_runner_reset(r);
    tt_status st = ref ? TT_SUCCESS : create_device(r, kv_bytes, T * dim * 4, stats_bytes);
    if (st == TT_SUCCESS) { /* GEMMs on the runner's device when it can (reference: host only) */
        cl_context clc = NULL;
        cl_device_id dev;
        cl_command_queue qu = NULL;
        if (!ref)
            tt_context_cl(cfg->ctx, &clc, &dev, &qu);
        size_t wide = hid > dim ? hid : dim, V = (size_t)c->vocab_size;
        r->gemm = tm_gemm_create(clc, qu, m->data, m->n_floats, (int)T, (int)wide,
                                 (int)(wide > V ? wide : V));
        st = r->gemm ? TT_SUCCESS : TT_OUT_OF_HOST_MEMORY;
    }
    if (st != TT_SUCCESS) {
        tm_runner_destroy(r);
        return st;
    }
    *out = r;
    return TT_SUCCESS;
}

/* Y[t][o] = Σ_i X[t][i] · W[o][i] for t < T: every projection of the model is this one product
 * (W is "out × in", row-major), done by the runner's GEMM engine (gemm.c). */
static void matmul_xwt(const tm_runner *r, float *y, const float *x, const float *w, int T, int in,
                       int out)
{
    tm_gemm_run(r->gemm, y, x, w, T, in, out);
}

static void rmsnorm_rows(float *y, const float *x, const float *w, int T, int dim, float eps)
{
    for (int t = 0; t < T; t++) {
        const float *xr = x + (size_t)t * dim;
        float ss = 0.0f;
        for (int i = 0; i < dim; i++)
            ss += xr[i] * xr[i];
        float inv = 1.0f / sqrtf(ss / (float)dim + eps);
        for (int i = 0; i < dim; i++)
            y[(size_t)t * dim + i] = w[i] * (inv * xr[i]);
    }
}

/* Rotates the pairs of each head of T rows of width `width` (several heads of head_size): pair i
 * is (2i, 2i+1) in the ADJACENT layout, (i, i + head_size/2) in the HALF one (model.h). */
static void rope_rows(const tm_runner *r, float *a, int T, int width, int p0)
{
    int hs = r->m->cfg.head_size, half = r->m->cfg.rope_layout == TM_ROPE_HALF;
    for (int t = 0; t < T; t++)
        for (int h = 0; h < width; h += hs)
            for (int i = 0; i < hs / 2; i++) {
                float ang = (float)(p0 + t) * r->rope_freq[i];
                float cs = cosf(ang), sn = sinf(ang);
                float *p = a + (size_t)t * width + h;
                float *p0_ = half ? p + i : p + 2 * i, *p1_ = half ? p + i + hs / 2 : p + 2 * i + 1;
                float a0 = *p0_, a1 = *p1_;
                *p0_ = a0 * cs - a1 * sn;
                *p1_ = a0 * sn + a1 * cs;
            }
}

/* Token-major [T][heads·hd] rows → head-major [heads][T][hd] in the cache's element type. */
static void pack_heads(unsigned char *dst, const float *src, int T, int heads, int hd, size_t es)
{
    for (int h = 0; h < heads; h++)
        for (int t = 0; t < T; t++)
            for (int i = 0; i < hd; i++) {
                float x = src[((size_t)t * heads + h) * hd + i];
                size_t at = ((size_t)h * T + t) * hd + i;
                if (es == 2) {
                    uint16_t b = tt_f32_to_f16(x);
                    memcpy(dst + at * 2, &b, 2);
                } else {
                    memcpy(dst + at * 4, &x, 4);
                }
            }
}

/* A packed K/V element as the device will read it (fp16 values are already rounded). */
static float stored_value(const unsigned char *p, size_t idx, size_t es)
{
    uint16_t b;
    float x;
    if (es == 2)
        return memcpy(&b, p + idx * 2, 2), tt_f16_to_f32(b);
    return memcpy(&x, p + idx * 4, 4), x;
}

/* On failure, finish the queue first: earlier non-blocking writes still read host scratch. */
#define CL_TRY(expr, what)                                                                         \
    do {                                                                                           \
        cl_int e_ = (expr);                                                                        \
        if (e_ != CL_SUCCESS)                                                                      \
            return clFinish(r->queue),                                                             \
                   rfail(r, (tt_status)e_, "layer %d: %s: %s", l, what, tt_status_name(e_));       \
    } while (0)

/* Hands the observer the chunk's head-major Q (r->qh) and the layer's K cache rows 0..p0+T as
 * fp32: older rows from the cache (read back from the device), the chunk's rows from kpack. */
static tt_status observe(tm_runner *r, int l, int T, int p0)
{
    const tm_config *c = &r->m->cfg;
    int hd = c->head_size, G = c->n_kv_heads;
    size_t es = r->es, row = (size_t)hd * es, kv_len = (size_t)p0 + T;
    for (int g = 0; g < G; g++) {
        float *dst = r->obs_k + (size_t)g * kv_len * hd;
        const unsigned char *old = r->obs_raw;
        if (r->cfg.backend == TM_BACKEND_REFERENCE)
            old = r->hk + ((size_t)l * G + g) * r->max_seq * row;
        else if (p0 > 0)
            CL_TRY(clEnqueueReadBuffer(r->queue, r->kbuf[l], CL_TRUE, (size_t)g * r->max_seq * row,
                                       (size_t)p0 * row, r->obs_raw, 0, NULL, NULL),
                   "K read for the observer");
        for (size_t i = 0; i < (size_t)p0 * hd; i++)
            dst[i] = stored_value(old, i, es);
        for (size_t i = 0; i < (size_t)T * hd; i++)
            dst[(size_t)p0 * hd + i] = stored_value(r->kpack, (size_t)g * T * hd + i, es);
    }
    int st = r->obs(r->obs_user, l, c->n_heads, G, hd, T, p0, r->qh, r->obs_k);
    return st ? rfail(r, (tt_status)st, "layer %d: observer failed: %s", l, tt_status_name(st))
              : TT_SUCCESS;
}

/* Attention of layer l for the T rows at p0 (already in r->q, r->k, r->v after RoPE); writes the
 * concatenated head outputs to r->att ([T][dim]) and accumulates statistics. */
static tt_status attention(tm_runner *r, int l, int T, int p0)
{
    const tm_config *c = &r->m->cfg;
    int hd = c->head_size, H = c->n_heads, G = c->n_kv_heads, kv_len = p0 + T;
    size_t es = r->es, S = (size_t)r->max_seq;
    const tt_attn_params *P = &r->params[l];
    tt_attn_shape sh = {1, H, G, hd, T, kv_len, r->cfg.kv_dtype};
    /* Dense calls have nothing to compensate and may leave vsum alone: only sparse VMC uses it. */
    int use_vsum = P->vmc && P->mode != TT_MODE_DENSE && r->cfg.backend == TM_BACKEND_DEVICE;
    tt_status st;
    pack_heads(r->kpack, r->k, T, G, hd, es);
    pack_heads(r->vpack, r->v, T, G, hd, es);
    pack_heads((unsigned char *)r->qh, r->q, T, H, hd, 4);
    if (r->obs && (st = observe(r, l, T, p0)) != TT_SUCCESS)
        return st;
    /* Σ_{j<p0} v_j for the library's running-sum input, then advance it by the stored rows. */
    double *vs = r->vsum_host + (size_t)l * c->kv_dim;
    for (int i = 0; i < c->kv_dim; i++)
        r->vsum_f[i] = (float)vs[i];
    for (int g = 0; g < G; g++)
        for (int t = 0; t < T; t++)
            for (int i = 0; i < hd; i++)
                vs[g * hd + i] += stored_value(r->vpack, ((size_t)g * T + t) * hd + i, es);
    uint32_t *stats = r->cfg.collect_stats ? r->stats_host : NULL;
    size_t stats_bytes = tt_stats_size(&sh);
    if (r->cfg.backend == TM_BACKEND_REFERENCE) {
        size_t row = (size_t)hd * es, head = S * row;
        for (int g = 0; g < G; g++) { /* append to the host cache, then pack kv_len rows */
            unsigned char *hk = r->hk + ((size_t)l * G + g) * head;
            unsigned char *hv = r->hv + ((size_t)l * G + g) * head;
            memcpy(hk + p0 * row, r->kpack + (size_t)g * T * row, (size_t)T * row);
            memcpy(hv + p0 * row, r->vpack + (size_t)g * T * row, (size_t)T * row);
            memcpy(r->pk + (size_t)g * kv_len * row, hk, (size_t)kv_len * row);
            memcpy(r->pv + (size_t)g * kv_len * row, hv, (size_t)kv_len * row);
        }
        st = tt_reference_attention(&sh, P, r->qh, r->pk, r->pv, r->oh, stats);
        if (st != TT_SUCCESS)
            return rfail(r, st, "layer %d: reference attention: %s", l, tt_last_error(NULL));
    } else {
        cl_command_queue qu = r->queue;
        for (int g = 0; g < G; g++) {
            size_t dst = ((size_t)g * S + p0) * hd * es, src = (size_t)g * T * hd * es;
            CL_TRY(clEnqueueWriteBuffer(qu, r->kbuf[l], CL_FALSE, dst, (size_t)T * hd * es,
                                        r->kpack + src, 0, NULL, NULL), "K write");
            CL_TRY(clEnqueueWriteBuffer(qu, r->vbuf[l], CL_FALSE, dst, (size_t)T * hd * es,
                                        r->vpack + src, 0, NULL, NULL), "V write");
        }
        CL_TRY(clEnqueueWriteBuffer(qu, r->qbuf, CL_FALSE, 0, (size_t)T * c->dim * 4, r->qh, 0,
                                    NULL, NULL), "Q write");
        /* The library advances vsum itself; re-upload only when it is not at p0 (after a reset
         * or after calls without VMC), so steady decode stays O(d). */
        if (use_vsum && r->vsum_pos[l] != p0)
            CL_TRY(clEnqueueWriteBuffer(qu, r->vsumbuf[l], CL_FALSE, 0, (size_t)c->kv_dim * 4,
                                        r->vsum_f, 0, NULL, NULL), "vsum write");
        /* Head-major with the chunk's own row count as head stride: one contiguous write. */
        tt_tensor tq = {r->qbuf, 0, (size_t)H * T * hd, (size_t)T * hd, (size_t)hd};
        tt_tensor to = {r->obuf, 0, (size_t)H * T * hd, (size_t)T * hd, (size_t)hd};
        tt_tensor tk = {r->kbuf[l], 0, G * S * hd, S * hd, (size_t)hd};
        tt_tensor tv = {r->vbuf[l], 0, G * S * hd, S * hd, (size_t)hd};
        st = tt_attention_enqueue(r->cfg.ctx, qu, &sh, P, &tq, &tk, &tv, &to,
                                  use_vsum ? r->vsumbuf[l] : NULL, stats ? r->statsbuf : NULL, 0,
                                  NULL, NULL);
        if (st != TT_SUCCESS)
            return clFinish(qu), rfail(r, st, "layer %d (q_len %d, kv_len %d): %s: %s", l, T,
                                       kv_len, tt_status_name(st), tt_last_error(r->cfg.ctx));
        r->vsum_pos[l] = use_vsum ? kv_len : r->vsum_pos[l];
        /* Blocking reads: they also retire the non-blocking writes from the scratch above. */
        CL_TRY(clEnqueueReadBuffer(qu, r->obuf, CL_TRUE, 0, (size_t)T * c->dim * 4, r->oh, 0,
                                   NULL, NULL), "O read");
        if (stats)
            CL_TRY(clEnqueueReadBuffer(qu, r->statsbuf, CL_TRUE, 0, stats_bytes, stats, 0, NULL,
                                       NULL), "stats read");
    }
    for (int h = 0; h < H; h++) /* head-major O → token-major concatenation of heads */
        for (int t = 0; t < T; t++)
            memcpy(r->att + ((size_t)t * H + h) * hd, r->oh + ((size_t)h * T + t) * hd,
                   (size_t)hd * 4);
    if (stats) {
        tm_layer_stats *ls = &r->stats[l];
        for (size_t i = 0; i < (size_t)H * T; i++)
            ls->kept += stats[i];
        for (size_t i = 0; i < (size_t)G * T; i++)
            ls->vrows += stats[(size_t)H * T + i];
        for (int t = 0; t < T; t++)
            ls->len_sum += (uint64_t)(p0 + t + 1);
        ls->rows += (uint64_t)T;
    }
    return TT_SUCCESS;
}

/* One chunk of T <= max_chunk tokens at r->pos. */
static tt_status forward_chunk(tm_runner *r, const int *tokens, int T, float *logits, int all)
{
    const tm_model *m = r->m;
    const tm_config *c = &m->cfg;
    int dim = c->dim, kvd = c->kv_dim, hid = c->hidden_dim, p0 = r->pos;
    for (int t = 0; t < T; t++) {
        if (tokens[t] < 0 || tokens[t] >= c->vocab_size)
            return rfail(r, TT_INVALID_VALUE, "token %d at position %d outside 0..%d", tokens[t],
                         p0 + t, c->vocab_size - 1);
        memcpy(r->x + (size_t)t * dim, m->token_embedding + (size_t)tokens[t] * dim,
               (size_t)dim * 4);
    }
    for (int l = 0; l < c->n_layers; l++) {
        size_t L = (size_t)l;
        rmsnorm_rows(r->xb, r->x, m->rms_att + L * dim, T, dim, c->norm_eps);
        matmul_xwt(r, r->q, r->xb, m->wq + L * dim * dim, T, dim, dim);
        matmul_xwt(r, r->k, r->xb, m->wk + L * kvd * dim, T, dim, kvd);
        matmul_xwt(r, r->v, r->xb, m->wv + L * kvd * dim, T, dim, kvd);
        rope_rows(r, r->q, T, dim, p0);
        rope_rows(r, r->k, T, kvd, p0);
        tt_status st = attention(r, l, T, p0);
        if (st != TT_SUCCESS)
            return st;
        matmul_xwt(r, r->xb2, r->att, m->wo + L * dim * dim, T, dim, dim);
        for (size_t i = 0; i < (size_t)T * dim; i++)
            r->x[i] += r->xb2[i];
        rmsnorm_rows(r->xb, r->x, m->rms_ffn + L * dim, T, dim, c->norm_eps);
        matmul_xwt(r, r->hb, r->xb, m->w1 + L * hid * dim, T, dim, hid);
        matmul_xwt(r, r->hb2, r->xb, m->w3 + L * hid * dim, T, dim, hid);
        for (size_t i = 0; i < (size_t)T * hid; i++) { /* SwiGLU: silu(w1·x) ⊙ (w3·x) */
            float a = r->hb[i];
            r->hb[i] = a / (1.0f + expf(-a)) * r->hb2[i];
        }
        matmul_xwt(r, r->xb2, r->hb, m->w2 + L * dim * hid, T, hid, dim);
        for (size_t i = 0; i < (size_t)T * dim; i++)
            r->x[i] += r->xb2[i];
    }
    r->pos += T;
    if (!logits)
        return TT_SUCCESS;
    int first = all ? 0 : T - 1; /* the classifier is the costliest product: skip unused rows */
    rmsnorm_rows(r->xb, r->x + (size_t)first * dim, m->rms_final, T - first, dim, c->norm_eps);
    matmul_xwt(r, logits, r->xb, m->wcls, T - first, dim, c->vocab_size);
    return TT_SUCCESS;
}

tt_status tm_forward(tm_runner *r, const int *tokens, int n, float *logits, int all_logits)
{
    if (!r || (!tokens && n > 0))
        return TT_ERR_NULL_ARGUMENT;
    if (n < 1)
        return rfail(r, TT_INVALID_VALUE, "forward: %d tokens; need at least one", n);
    if (n > r->max_seq - r->pos)
        return rfail(r, TT_ERR_BAD_SHAPE, "forward: %d tokens at position %d exceed the cache "
                     "length %d", n, r->pos, r->max_seq);
    for (int done = 0; done < n;) {
        int T = n - done < r->max_chunk ? n - done : r->max_chunk;
        int last = done + T == n;
        float *lg = NULL;
        if (logits && all_logits)
            lg = logits + (size_t)done * r->m->cfg.vocab_size;
        else if (logits && last)
            lg = logits;
        tt_status st = forward_chunk(r, tokens + done, T, lg, all_logits);
        if (st != TT_SUCCESS)
            return st;
        done += T;
    }
    return TT_SUCCESS;
}
