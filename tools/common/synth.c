/* synth.c — synthetic attention data and threshold tables (see synth.h). The LLM-like generator
 * mimics what calibrated Top-θ exploits in real models: a few keys (the sink at position 0 and
 * the most recent ones) carry most of the attention, the rest form a heavy tail. */
#include "synth.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

void tt_rng_seed(tt_rng *r, uint64_t seed) { r->s = seed * 0x9E3779B97F4A7C15ull + 1; }

uint32_t tt_rng_u32(tt_rng *r)
{
    /* splitmix64: small, fast and good enough for test data. */
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (uint32_t)((z ^ (z >> 31)) >> 32);
}

float tt_rng_uniform(tt_rng *r) { return (float)(tt_rng_u32(r) >> 8) * (1.0f / 16777216.0f); }

float tt_rng_normal(tt_rng *r)
{
    float u1 = tt_rng_uniform(r) + 1e-7f, u2 = tt_rng_uniform(r);
    return sqrtf(-2.0f * logf(u1)) * cosf(6.2831853f * u2);
}

static void put(const tt_attn_shape *s, void *buf, size_t idx, float x)
{
    if (s->kv_dtype == TT_DTYPE_F16)
        ((uint16_t *)buf)[idx] = tt_f32_to_f16(x);
    else
        ((float *)buf)[idx] = x;
}

static float get(const tt_attn_shape *s, const void *buf, size_t idx)
{
    return s->kv_dtype == TT_DTYPE_F16 ? tt_f16_to_f32(((const uint16_t *)buf)[idx])
                                       : ((const float *)buf)[idx];
}

/* TT_SYNTH_CLUSTERED: a salience of key j on dimension 0 (which every query leans on), σ·z_j
 * plus a spike A for a fraction P of the keys, and a band c²·cos(ω (i − j)) between query
 * position i and key j on dimensions 1, 2. Chosen so that at a kept fraction of 0.1 and 8K keys
 * the prefill tiles' kept keys look like SmolLM2-135M's on text (docs/PERFORMANCE.md, 2026-12-05
 * sixth): 16-key blocks holding a kept score 0.72 (SmolLM2 0.69), tile union 0.31 (0.34). */
#define CL_SALIENCE 0.3f
#define CL_SPIKE_P 0.03f
#define CL_SPIKE 2.0f
#define CL_BAND 1.5f
#define CL_OMEGA (6.2831853f / 1024.0f)

void tt_synth_qkv(const tt_attn_shape *s, int llm_like, tt_rng *r, float *q, void *k, void *v)
{
    const int d = s->head_dim, G = s->n_kv_heads, H = s->n_heads;
    const int clustered = llm_like == TT_SYNTH_CLUSTERED && d >= 4;
    const size_t qn = (size_t)s->batch * H * s->q_len * d;
    const float rd = sqrtf((float)d);
    for (size_t x = 0; x < qn; x++)
        q[x] = tt_rng_normal(r);
    for (int b = 0; b < s->batch; b++)
        for (int g = 0; g < G; g++)
            for (int j = 0; j < s->kv_len; j++) {
                float sal = clustered ? CL_SALIENCE * tt_rng_normal(r) : 0.0f;
                if (clustered && tt_rng_uniform(r) < CL_SPIKE_P)
                    sal += CL_SPIKE;
                for (int e = 0; e < d; e++) {
                    size_t idx = (((size_t)b * G + g) * s->kv_len + j) * d + e;
                    float kx = tt_rng_normal(r), vx = tt_rng_normal(r);
                    if (llm_like) {
                        /* heavy tail: occasional large keys; the sink and a recent window
                         * share a direction with every query (dimension 0 here). */
                        float tail = tt_rng_uniform(r) < 0.02f ? 3.0f : 1.0f;
                        kx *= 0.6f * tail;
                        /* scaled by sqrt(d) so the boost survives the 1/sqrt(d) score scale */
                        if (e == 0 && (j == 0 || j >= s->kv_len - 16))
                            kx += (j == 0 ? 4.0f : 2.0f) * rd;
                    }
                    if (clustered && e == 0)
                        kx += sal * rd;
                    if (clustered && (e == 1 || e == 2))
                        kx = CL_BAND * rd * (e == 1 ? cosf(CL_OMEGA * j) : sinf(CL_OMEGA * j));
                    put(s, k, idx, kx);
                    put(s, v, idx, vx);
                }
            }
    if (llm_like) /* queries lean on dimension 0 so the sink/window align with them */
        for (size_t x = 0; x < qn; x += (size_t)d)
            q[x] = fabsf(q[x]) + 1.5f;
    if (clustered) { /* query row i sits at position kv_len − q_len + i */
        const int p0 = s->kv_len - s->q_len;
        for (size_t x = 0; x < qn; x += (size_t)d) {
            const int i = (int)((x / (size_t)d) % (size_t)s->q_len) + p0;
            q[x + 1] = CL_BAND * cosf(CL_OMEGA * i);
            q[x + 2] = CL_BAND * sinf(CL_OMEGA * i);
        }
    }
}

double tt_synth_score(const tt_attn_shape *s, const float *q, const void *kbuf, int b, int h,
                      int i, int j, float scale)
{
    const int d = s->head_dim, G = s->n_kv_heads, g = h / (s->n_heads / G);
    const float *qr = q + (((size_t)b * s->n_heads + h) * s->q_len + i) * d;
    size_t kb = (((size_t)b * G + g) * s->kv_len + j) * d;
    double acc = 0;
    for (int e = 0; e < d; e++)
        acc += (double)qr[e] * get(s, kbuf, kb + e);
    return acc * scale;
}

static int cmp_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

tt_status tt_synth_table(const tt_attn_shape *s, tt_placement placement, int k, float scale,
                         const float *q, const void *kbuf, tt_table **out)
{
    tt_table_meta meta;
    memset(&meta, 0, sizeof meta);
    meta.placement = placement;
    meta.n_layers = 1;
    meta.n_heads = s->n_heads;
    meta.n_kv_heads = s->n_kv_heads;
    meta.head_dim = s->head_dim;
    meta.score_precision = s->kv_dtype == TT_DTYPE_F16 ? 16 : 32;
    strcpy(meta.model_name, "synthetic");
    tt_status st = tt_table_create(&meta, out);
    if (st != TT_SUCCESS)
        return st;
    st = tt_table_set_layer_k(*out, 0, k);
    const int p0 = s->kv_len - s->q_len;
    double *x = malloc(sizeof *x * (size_t)s->kv_len);
    int *ns = malloc(sizeof *ns * (size_t)s->q_len);
    float *th = malloc(sizeof *th * (size_t)s->q_len);
    float *dh = malloc(sizeof *dh * (size_t)s->q_len);
    if (!x || !ns || !th || !dh)
        st = TT_OUT_OF_HOST_MEMORY;
    for (int h = 0; h < s->n_heads && st == TT_SUCCESS; h++) {
        int cnt = 0;
        for (int i = 0; i < s->q_len; i++) {
            int n = p0 + i + 1;
            if (n <= k)
                continue;
            double sum = 0, dsum = 0;
            for (int b = 0; b < s->batch; b++) {
                double m = -INFINITY, z = 0;
                for (int j = 0; j < n; j++) {
                    x[j] = tt_synth_score(s, q, kbuf, b, h, i, j, scale);
                    m = x[j] > m ? x[j] : m;
                }
                for (int j = 0; j < n; j++)
                    z += exp(x[j] - m);
                for (int j = 0; j < n; j++)
                    x[j] = placement == TT_PLACE_PRE    ? x[j]
                           : placement == TT_PLACE_REL ? x[j] - m
                                                       : exp(x[j] - m) / z;
                qsort(x, (size_t)n, sizeof *x, cmp_desc);
                sum += x[k];
                /* D̂: the exp-weight (relative to the row max) of what falls below the k kept. */
                for (int j = k; j < n; j++)
                    dsum += placement == TT_PLACE_PRE   ? exp(x[j] - x[0])
                            : placement == TT_PLACE_REL ? exp(x[j])
                                                        : x[j];
            }
            ns[cnt] = n;
            dh[cnt] = (float)(dsum / s->batch);
            th[cnt++] = (float)(sum / s->batch);
        }
        if (cnt == 0) { /* every row dense: any curve will do */
            ns[0] = 1;
            th[0] = dh[0] = 0.0f;
            cnt = 1;
        }
        st = tt_table_set_curve(*out, 0, h, cnt, ns, th, dh);
    }
    free(x);
    free(ns);
    free(th);
    free(dh);
    if (st != TT_SUCCESS) {
        tt_table_destroy(*out);
        *out = NULL;
    }
    return st;
}
