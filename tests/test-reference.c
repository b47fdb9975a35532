/* test-reference.c — checks the CPU reference (tt_reference_attention) against hand-worked rows
 * whose kept sets and weights are written out here, and against a plainly written brute force
 * (full softmax vectors, kept sets by sorting, V means by direct summation) on fresh random inputs. */
#include "reference_row.h"
#include "support.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct prob {
    tt_attn_shape sh;
    float *q, *k, *v, *o;
    uint32_t *st, *rst; /* stats from the reference and from the brute force */
    double *ref;        /* brute-force output */
} prob;

static unsigned rng;
static void seed_rng(unsigned salt) { rng = tt_test_seed() * 2654435761u + salt * 40503u + 1u; }
static int rnd(int lo, int hi) { return lo + (int)tt_test_uniform(&rng, 0, hi - lo + 1.0f) % (hi - lo + 1); }

static void prob_init(prob *P, int b, int H, int G, int d, int ql, int kvl)
{
    memset(P, 0, sizeof *P);
    P->sh = (tt_attn_shape){b, H, G, d, ql, kvl, TT_DTYPE_F32};
    size_t nq = (size_t)b * H * ql * d, nkv = (size_t)b * G * kvl * d, ns = (size_t)b * (H + G) * ql;
    P->q = malloc(nq * sizeof *P->q), P->o = malloc(nq * sizeof *P->o);
    P->k = malloc(nkv * sizeof *P->k), P->v = malloc(nkv * sizeof *P->v);
    P->ref = malloc(nq * sizeof *P->ref);
    P->st = calloc(ns, sizeof *P->st), P->rst = calloc(ns, sizeof *P->rst);
    ck_assert(P->q && P->o && P->ref && P->k && P->v && P->st && P->rst);
    for (size_t i = 0; i < nq; i++)
        P->q[i] = tt_test_uniform(&rng, -1.5f, 1.5f);
    for (size_t i = 0; i < nkv; i++)
        P->k[i] = tt_test_uniform(&rng, -1.5f, 1.5f), P->v[i] = tt_test_uniform(&rng, -1, 1);
}

static void prob_free(prob *P)
{
    free(P->q), free(P->k), free(P->v), free(P->o), free(P->ref), free(P->st), free(P->rst);
}

static int cmp_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

/* Brute force of one row of head h: every quantity of design §1 spelled out. Marks kept keys in
 * uni and returns the kept count. sc, srt, w hold n doubles. */
static uint32_t brute_row(const tt_attn_params *p, int k_eff, int h, int n, int d, const float *q,
                          const float *K, const float *V, double *out, unsigned char *uni,
                          double *sc, double *srt, double *w)
{
    const double scale = p->scale > 0 ? p->scale : 1 / sqrt(d);
    int nf = 0, qnan = 0, nk = 0;
    double m = -INFINITY, Z = 0, DS = 0, Dd = 0, lo = INFINITY, sumw = 0;
    for (int x = 0; x < d; x++)
        qnan |= isnan(q[x]);
    for (int j = 0; j < n; j++) {
        double dot = 0;
        for (int x = 0; x < d; x++)
            dot += (double)q[x] * K[(size_t)j * d + x];
        sc[j] = dot * scale;
        if (isfinite(sc[j]))
            srt[nf++] = sc[j], m = fmax(m, sc[j]);
    }
    if (qnan || nf == 0) {
        for (int x = 0; x < d; x++)
            out[x] = NAN;
        return 0;
    }
    for (int j = 0; j < n; j++)
        Z += isfinite(sc[j]) ? exp(sc[j] - m) : 0;
    const int dense = p->mode == TT_MODE_DENSE || k_eff == 0 || n <= k_eff;
    float th = 0, dh = 0;
    if (!dense && (p->mode == TT_MODE_THETA || p->sdc == TT_SDC_OFFLINE))
        ck_assert_int_eq(tt_table_lookup(p->table, p->layer, h, n, &th, &dh), 0);
    qsort(srt, nf, sizeof *srt, cmp_desc);
    const double kth = p->mode == TT_MODE_TOPK && nf > k_eff ? srt[k_eff - 1] : -INFINITY;
    for (int j = 0; j < n; j++) {
        double e = exp(sc[j] - m);
        double x = p->placement == TT_PLACE_PRE ? sc[j] : p->placement == TT_PLACE_REL ? sc[j] - m : e / Z;
        int keep = dense || (p->mode == TT_MODE_TOPK ? sc[j] >= kth : x > th);
        w[j] = isfinite(sc[j]) && keep; /* 1 = kept, for now */
        if (w[j] != 0)
            DS += e, nk++, lo = fmin(lo, sc[j]), uni[j] = 1;
        else if (isfinite(sc[j]))
            Dd += e;
    }
    double thr = p->mode == TT_MODE_TOPK ? lo : p->placement == TT_PLACE_REL ? th + m : th;
    double miss = p->sdc == TT_SDC_EXACT             ? Dd
                  : p->sdc == TT_SDC_EXP_THRESHOLD ? (n - nk) * exp(thr - m)
                  : p->sdc == TT_SDC_OFFLINE       ? dh
                                                   : 0;
    int softmax_w = dense || (p->mode == TT_MODE_THETA && p->placement == TT_PLACE_POST);
    double den = softmax_w ? Z : DS + p->sdc_lambda * miss;
    for (int j = 0; j < n; j++)
        sumw += w[j] = w[j] != 0 && den > 0 ? exp(sc[j] - m) / den : 0;
    for (int x = 0; x < d; x++) {
        double acc = 0, mean = 0;
        for (int j = 0; j < n; j++)
            acc += w[j] * V[(size_t)j * d + x], mean += V[(size_t)j * d + x] / n;
        out[x] = acc + (p->vmc && !dense ? (1 - sumw) * mean : 0);
    }
    return (uint32_t)nk;
}

static void brute(prob *P, const tt_attn_params *p, int k_eff)
{
    const tt_attn_shape *s = &P->sh;
    const int d = s->head_dim, ratio = s->n_heads / s->n_kv_heads, kv = s->kv_len;
    double *sc = malloc(kv * sizeof *sc), *srt = malloc(kv * sizeof *srt), *w = malloc(kv * sizeof *w);
    unsigned char *uni = malloc(kv);
    for (int b = 0; b < s->batch; b++)
        for (int g = 0; g < s->n_kv_heads; g++)
            for (int i = 0; i < s->q_len; i++) {
                size_t kvoff = ((size_t)b * s->n_kv_heads + g) * kv * d;
                memset(uni, 0, kv);
                for (int h = g * ratio; h < (g + 1) * ratio; h++) {
                    size_t row = ((size_t)b * s->n_heads + h) * s->q_len + i;
                    P->rst[row] = brute_row(p, k_eff, h, kv - s->q_len + i + 1, d, P->q + row * d,
                                            P->k + kvoff, P->v + kvoff, P->ref + row * d, uni, sc, srt, w);
                }
                uint32_t u = 0;
                for (int j = 0; j < kv; j++)
                    u += uni[j];
                P->rst[(size_t)s->batch * s->n_heads * s->q_len + ((size_t)b * s->n_kv_heads + g) * s->q_len + i] = u;
            }
    free(sc), free(srt), free(w), free(uni);
}

/* Runs the reference and the brute force and requires outputs (NaN where NaN) and stats to agree. */
static void agree(prob *P, const tt_attn_params *p, int k_eff)
{
    ck_assert_int_eq(tt_reference_attention(&P->sh, p, P->q, P->k, P->v, P->o, P->st), TT_SUCCESS);
    brute(P, p, k_eff);
    const tt_attn_shape *s = &P->sh;
    for (size_t i = 0; i < (size_t)s->batch * s->n_heads * s->q_len * s->head_dim; i++)
        ck_assert_msg(isnan(P->ref[i]) ? isnan(P->o[i]) : fabs(P->o[i] - P->ref[i]) <= 2e-6 * (1 + fabs(P->ref[i])),
                      "o[%zu] = %.9g, brute force %.9g (mode %d place %d sdc %d)", i, P->o[i],
                      P->ref[i], p->mode, p->placement, p->sdc);
    for (size_t i = 0; i < (size_t)s->batch * (s->n_heads + s->n_kv_heads) * s->q_len; i++)
        ck_assert_msg(P->st[i] == P->rst[i], "stats[%zu] = %u, brute force %u", i, P->st[i], P->rst[i]);
}

/* A table for layer 1 of 2 with layer k layer_k and, per head, the curve th[h*count ..]. */
static tt_table *make_table(tt_placement pl, int H, int G, int d, int layer_k, int count,
                            const int *ns, const float *th, const float *dh)
{
    tt_table_meta m = {.placement = pl, .n_layers = 2, .n_heads = H, .n_kv_heads = G, .head_dim = d};
    tt_table *t = NULL;
    ck_assert_int_eq(tt_table_create(&m, &t), 0);
    ck_assert_int_eq(tt_table_set_layer_k(t, 1, layer_k), 0);
    for (int h = 0; h < H; h++)
        ck_assert_int_eq(tt_table_set_curve(t, 1, h, count, ns, th + h * count, dh ? dh + h * count : NULL), 0);
    return t;
}

static tt_attn_params params(tt_mode mode, tt_placement pl, tt_sdc sdc, float lambda, int vmc, int k)
{
    tt_attn_params p;
    tt_attn_params_init(&p);
    p.mode = mode, p.placement = pl, p.sdc = sdc, p.sdc_lambda = lambda, p.vmc = vmc, p.k = k;
    p.layer = 1;
    return p;
}

/* ---- Hand-worked rows: d = n = 8, q = e0, k_j = S8[j]·e0, v_j = e_j, scale 1, so s_j = S8[j]
 * exactly and o[c] is the weight of key c (plus the VMC share (1 - Σw)/8). Max score 2. */
static const double S8[8] = {2, 1, 0, 0, -1, 0.5, 1.5, -2};
static double e2(double s) { return exp(s - 2); }
#define DS3 (e2(2) + e2(1) + e2(1.5))                /* kept {0, 1, 6} = mask 0x43 */
#define DROP5 (e2(0) * 2 + e2(-1) + e2(0.5) + e2(-2)) /* the other five */

static void onehot(prob *P, int H)
{
    prob_init(P, 1, H, 1, 8, 1, 8);
    memset(P->q, 0, 8 * H * sizeof(float));
    memset(P->k, 0, 64 * sizeof(float));
    memset(P->v, 0, 64 * sizeof(float));
    for (int j = 0; j < 8; j++)
        P->k[j * 8] = (float)S8[j], P->v[j * 8 + j] = 1;
    for (int h = 0; h < H; h++)
        P->q[h * 8] = 1;
}

/* Head h of a onehot run keeps exactly the keys in mask, with weights exp(s - 2) / den. */
static void expect_row(const prob *P, int h, unsigned mask, double den, int vmc)
{
    double w[8], sum = 0;
    unsigned count = 0;
    for (int c = 0; c < 8; c++)
        sum += w[c] = (mask >> c & 1) ? e2(S8[c]) / den : 0, count += mask >> c & 1;
    ck_assert_uint_eq(P->st[h], count);
    for (int c = 0; c < 8; c++)
        ck_assert_msg(fabs(P->o[h * 8 + c] - w[c] - (vmc ? (1 - sum) / 8 : 0)) < 1e-6,
                      "head %d o[%d] = %.8g, weight %.8g", h, c, P->o[h * 8 + c], w[c]);
}

/* Each placement on the same row, two heads with their own θ; the second head's θ sits exactly
 * on a value (pre: the score 1; rel: 1.5 - 2) so strictness is visible. Post weights are the true
 * softmax values (p = .394 .145 .053 .053 .020 .088 .239 .007), SDC ignored, VMC applied. */
START_TEST(theta_hand)
{
    static const struct { tt_placement pl; float th[2]; unsigned mask[2]; } C[3] = {
        {TT_PLACE_PRE, {0.75f, 1.0f}, {0x43, 0x41}},
        {TT_PLACE_POST, {0.1f, 0.08f}, {0x43, 0x63}},
        {TT_PLACE_REL, {-1.25f, -0.5f}, {0x43, 0x01}},
    };
    const int ns[1] = {8};
    prob P;
    onehot(&P, 2);
    for (int c = 0; c < 3; c++)
        for (int vmc = 0; vmc < 2; vmc++) {
            tt_table *t = make_table(C[c].pl, 2, 1, 8, 2, 1, ns, C[c].th, NULL);
            tt_attn_params p = params(TT_MODE_THETA, C[c].pl, C[c].pl == TT_PLACE_POST, 1, vmc, 0);
            p.table = t, p.scale = 1;
            ck_assert_int_eq(tt_reference_attention(&P.sh, &p, P.q, P.k, P.v, P.o, P.st), 0);
            for (int h = 0; h < 2; h++) {
                double den = 0;
                for (int j = 0; j < 8; j++)
                    den += C[c].pl == TT_PLACE_POST || (C[c].mask[h] >> j & 1) ? e2(S8[j]) : 0;
                expect_row(&P, h, C[c].mask[h], den, vmc);
            }
            ck_assert_uint_eq(P.st[2], 4 - (c != 1)); /* V rows: union of the two heads */
            tt_table_destroy(t);
        }
    prob_free(&P);
    /* Post, θ exactly equal to every probability: 4 equal scores give p = 0.25 exactly. */
    prob_init(&P, 1, 1, 1, 1, 1, 4);
    P.q[0] = 0;
    for (int c = 0; c < 2; c++) {
        const float th[1] = {c ? 0.2499f : 0.25f};
        tt_table *t = make_table(TT_PLACE_POST, 1, 1, 1, 1, 1, ns, th, NULL);
        tt_attn_params p = params(TT_MODE_THETA, TT_PLACE_POST, TT_SDC_NONE, 1, 0, 0);
        p.table = t;
        ck_assert_int_eq(tt_reference_attention(&P.sh, &p, P.q, P.k, P.v, P.o, P.st), 0);
        ck_assert_uint_eq(P.st[0], c ? 4 : 0);
        tt_table_destroy(t);
    }
    prob_free(&P);
}
END_TEST

/* Each SDC with λ in {1, 0.5, 2}, with and without VMC, for pre, max-relative and top-3. */
START_TEST(sdc_hand)
{
    prob P;
    onehot(&P, 3);
    const int ns[1] = {8};
    const float thpre[3] = {0.75f, 0.75f, 0.75f}, threl[3] = {-1.25f, -1.25f, -1.25f};
    const float dh[3] = {0.7f, 0.7f, 0.7f}, lambdas[3] = {1, 0.5f, 2};
    tt_table *tp = make_table(TT_PLACE_PRE, 3, 1, 8, 2, 1, ns, thpre, dh);
    tt_table *tr = make_table(TT_PLACE_REL, 3, 1, 8, 2, 1, ns, threl, dh);
    for (int sdc = 0; sdc < 4; sdc++)
        for (int li = 0; li < 3; li++)
            for (int vmc = 0; vmc < 2; vmc++)
                for (int kind = 0; kind < 3; kind++) { /* pre, rel, top-3: all keep {0,1,6} */
                    tt_attn_params p = params(kind == 2 ? TT_MODE_TOPK : TT_MODE_THETA,
                                              kind == 1 ? TT_PLACE_REL : TT_PLACE_PRE, (tt_sdc)sdc,
                                              lambdas[li], vmc, kind == 2 ? 3 : 0);
                    p.table = kind == 1 ? tr : tp, p.scale = 1;
                    /* price of a dropped key: e2(θ) pre, exp(θ) rel, e2(smallest kept) top-k */
                    double price = kind == 0 ? e2(0.75) : kind == 1 ? exp(-1.25) : e2(1);
                    double miss = sdc == TT_SDC_EXACT ? DROP5 : sdc == TT_SDC_EXP_THRESHOLD ? 5 * price
                                  : sdc == TT_SDC_OFFLINE ? 0.7 : 0;
                    ck_assert_int_eq(tt_reference_attention(&P.sh, &p, P.q, P.k, P.v, P.o, P.st), 0);
                    for (int h = 0; h < 3; h++)
                        expect_row(&P, h, 0x43, DS3 + lambdas[li] * miss, vmc);
                }
    tt_table_destroy(tp);
    tt_table_destroy(tr);
    prob_free(&P);
}
END_TEST

START_TEST(topk_ties)
{
    prob P;
    onehot(&P, 1);
    const float vals[8] = {3, 1, 2, 2, 2, 0, 2, -1}; /* 2nd largest is 2: keep 3 and all four 2s */
    for (int j = 0; j < 8; j++)
        P.k[j * 8] = vals[j];
    tt_attn_params p = params(TT_MODE_TOPK, TT_PLACE_PRE, TT_SDC_NONE, 1, 0, 2);
    p.scale = 1;
    ck_assert_int_eq(tt_reference_attention(&P.sh, &p, P.q, P.k, P.v, P.o, P.st), 0);
    ck_assert_uint_eq(P.st[0], 5);
    for (int c = 0; c < 8; c++)
        ck_assert_double_eq_tol(P.o[c], vals[c] >= 2 ? exp(vals[c] - 3) / (1 + 4 * exp(-1.0)) : 0, 1e-6);
    prob_free(&P);
    seed_rng(7); /* random integer scores, many ties, against sorting */
    for (int rep = 0; rep < 20; rep++) {
        int kv = rnd(2, 40);
        prob_init(&P, 1, 2, 1, 1, 1, kv);
        for (int j = 0; j < kv; j++)
            P.k[j] = (float)rnd(0, 3);
        P.q[0] = 1, P.q[1] = -1;
        p = params(TT_MODE_TOPK, TT_PLACE_PRE, rnd(0, 2), 1, rnd(0, 1), rnd(1, kv));
        agree(&P, &p, p.k);
        for (int h = 0; h < 2 && kv > p.k; h++)
            ck_assert_uint_ge(P.st[h], (unsigned)p.k);
        prob_free(&P);
    }
}
END_TEST

START_TEST(kth_largest)
{
    seed_rng(11);
    for (int rep = 0; rep < 200; rep++) {
        int n = rnd(1, 300), k = rnd(1, n), span = rnd(1, 50);
        double x[300], y[300];
        for (int i = 0; i < n; i++)
            x[i] = y[i] = rnd(0, span) * 0.25;
        qsort(y, n, sizeof *y, cmp_desc);
        ck_assert_double_eq(tt__ref_kth_largest(x, n, k), y[k - 1]);
    }
}
END_TEST

/* Dense against plain softmax attention: the causal probability matrix of a head, then P·V. */
START_TEST(dense_softmax)
{
    seed_rng(1 + _i);
    prob P;
    int G = rnd(1, 3), H = G * rnd(1, 3), kv = rnd(1, 40), ql = rnd(1, kv), d = rnd(1, 24);
    prob_init(&P, 2, H, G, d, ql, kv);
    tt_attn_params p = params(TT_MODE_DENSE, TT_PLACE_PRE, TT_SDC_NONE, 1, 1, 0);
    p.scale = _i ? 0.3f : 0;
    ck_assert_int_eq(tt_reference_attention(&P.sh, &p, P.q, P.k, P.v, P.o, P.st), 0);
    double scale = _i ? 0.3f : 1 / sqrt(d), *Pm = calloc((size_t)ql * kv, sizeof *Pm);
    for (int b = 0; b < 2; b++)
        for (int h = 0; h < H; h++) {
            size_t kvo = ((size_t)b * G + h / (H / G)) * kv * d, qo = ((size_t)b * H + h) * ql;
            for (int i = 0; i < ql; i++) {
                double m = -INFINITY, z = 0, *row = Pm + (size_t)i * kv;
                for (int j = 0; j <= kv - ql + i; j++) {
                    double dot = 0;
                    for (int x = 0; x < d; x++)
                        dot += P.q[(qo + i) * d + x] * (double)P.k[kvo + j * d + x];
                    m = fmax(m, row[j] = dot * scale);
                }
                for (int j = 0; j <= kv - ql + i; j++)
                    z += row[j] = exp(row[j] - m);
                for (int x = 0; x < d; x++) {
                    double acc = 0;
                    for (int j = 0; j <= kv - ql + i; j++)
                        acc += row[j] / z * P.v[kvo + j * d + x];
                    ck_assert_double_eq_tol(P.o[(qo + i) * d + x], acc, 2e-6);
                }
                ck_assert_uint_eq(P.st[qo + i], kv - ql + i + 1);
            }
        }
    free(Pm);
    prob_free(&P);
}
END_TEST

/* Top-k on continuous data, every SDC, with and without VMC: exactly k kept where n > k. */
START_TEST(topk_random)
{
    seed_rng(2 + _i);
    prob P;
    int kv = rnd(8, 48), k = rnd(1, 6), sdc = _i % 4;
    prob_init(&P, 1, 4, 2, rnd(2, 16), kv, kv);
    const int ns[2] = {1, kv};
    const float th[8] = {0}, dh[8] = {0.5f, 2, 0.5f, 2, 0.5f, 2, 0.5f, 2};
    tt_table *t = sdc == TT_SDC_OFFLINE ? make_table(TT_PLACE_PRE, 4, 2, P.sh.head_dim, 1, 2, ns, th, dh) : NULL;
    tt_attn_params p = params(TT_MODE_TOPK, TT_PLACE_PRE, sdc, tt_test_uniform(&rng, 0, 2), _i / 4, k);
    p.table = t;
    agree(&P, &p, k);
    for (int h = 0; h < 4; h++)
        for (int i = 0; i < kv; i++)
            ck_assert_uint_eq(P.st[h * kv + i], i + 1 <= k ? i + 1 : k);
    tt_table_destroy(t);
    prob_free(&P);
}
END_TEST

/* Top-θ sweep: every placement × SDC × VMC, θ curves over n, the table's k or an override. */
START_TEST(theta_random)
{
    seed_rng(100 + _i);
    const tt_placement pl = _i % 3;
    prob P;
    int G = rnd(1, 2), H = G * rnd(1, 2), kv = rnd(10, 60), tk = rnd(1, 5);
    prob_init(&P, 2, H, G, rnd(4, 32), rnd(1, kv), kv);
    const int ns[3] = {1, kv / 2 + 1, kv + 5};
    float th[12], dh[12], lo = pl == TT_PLACE_PRE ? -0.2f : pl == TT_PLACE_REL ? -1.2f : 0.4f;
    for (int i = 0; i < 3 * H; i++) {
        th[i] = tt_test_uniform(&rng, lo, lo + 0.8f) / (pl == TT_PLACE_POST ? ns[i % 3] : 1);
        dh[i] = tt_test_uniform(&rng, 0.1f, 6);
    }
    tt_table *t = make_table(pl, H, G, P.sh.head_dim, tk, 3, ns, th, dh);
    tt_attn_params p = params(TT_MODE_THETA, pl, (_i / 3) % 4, tt_test_uniform(&rng, 0, 2),
                              _i >= 12, rnd(0, 1) ? 0 : rnd(1, 5));
    p.table = t;
    agree(&P, &p, p.k ? p.k : tk);
    tt_table_destroy(t);
    prob_free(&P);
}
END_TEST

/* Rows with n <= k are dense; θ above every score keeps nothing on the others (o = v̄ by VMC). */
START_TEST(dense_below_k)
{
    seed_rng(3);
    prob P;
    prob_init(&P, 1, 2, 1, 8, 12, 12);
    const int ns[1] = {1};
    const float th[2] = {1e6f, 1e6f};
    tt_table *t = make_table(TT_PLACE_PRE, 2, 1, 8, 6, 1, ns, th, NULL);
    for (int k = 6; k >= 3; k -= 3) { /* the table's k, then an override */
        tt_attn_params p = params(TT_MODE_THETA, TT_PLACE_PRE, TT_SDC_EXACT, 1, 1, k == 6 ? 0 : k);
        p.table = t;
        agree(&P, &p, k);
        for (int h = 0; h < 2; h++)
            for (int i = 0; i < 12; i++) {
                ck_assert_uint_eq(P.st[h * 12 + i], i + 1 <= k ? i + 1 : 0);
                for (int x = 0; x < 8 && i + 1 > k; x++) {
                    double mean = 0;
                    for (int j = 0; j <= i; j++)
                        mean += P.v[j * 8 + x] / (i + 1);
                    ck_assert_double_eq_tol(P.o[(h * 12 + i) * 8 + x], mean, 1e-6);
                }
            }
    }
    tt_table_destroy(t);
    prob_free(&P);
}
END_TEST

/* One-pass post-softmax prefill: per row a superset of the exact kept set (its running normaliser
 * never exceeds the final one); rows of one 32-key tile see the whole row and keep exactly the
 * exact set; somewhere the superset is strict, so the variant is not the exact cut renamed. */
START_TEST(onepass_superset)
{
    seed_rng(300 + _i);
    prob P;
    const int kv = rnd(70, 200), ql = rnd(40, kv);
    prob_init(&P, 1, 2, 1, 16, ql, kv);
    const int ns[2] = {1, kv + 1};
    const float th[4] = {0.02f, 0.002f, 0.03f, 0.003f};
    tt_table *t = make_table(TT_PLACE_POST, 2, 1, 16, 2, 2, ns, th, NULL);
    tt_attn_params p = params(TT_MODE_THETA, TT_PLACE_POST, TT_SDC_NONE, 1, 0, 0);
    p.table = t;
    const size_t nrow = 2u * ql;
    uint32_t *exact = malloc((nrow + ql) * sizeof *exact);
    ck_assert(exact != NULL);
    ck_assert_int_eq(tt_reference_attention(&P.sh, &p, P.q, P.k, P.v, P.o, exact), TT_SUCCESS);
    p.post_variant = TT_POST_ONEPASS;
    ck_assert_int_eq(tt_reference_attention(&P.sh, &p, P.q, P.k, P.v, P.o, P.st), TT_SUCCESS);
    int strict = 0;
    for (size_t r = 0; r < nrow; r++) {
        const int n = kv - ql + (int)(r % ql) + 1;
        ck_assert_msg(P.st[r] >= exact[r] && P.st[r] <= (uint32_t)n, "row %zu: one-pass %u, exact %u",
                      r, P.st[r], exact[r]);
        if (n <= 32)
            ck_assert_uint_eq(P.st[r], exact[r]);
        strict += P.st[r] > exact[r];
    }
    ck_assert_int_gt(strict, 0);
    /* decode (one query row) ignores the variant */
    prob D;
    prob_init(&D, 1, 2, 1, 16, 1, kv);
    uint32_t st2[6];
    ck_assert_int_eq(tt_reference_attention(&D.sh, &p, D.q, D.k, D.v, D.o, D.st), TT_SUCCESS);
    p.post_variant = TT_POST_EXACT;
    ck_assert_int_eq(tt_reference_attention(&D.sh, &p, D.q, D.k, D.v, D.o, st2), TT_SUCCESS);
    ck_assert(D.st[0] == st2[0] && D.st[1] == st2[1]);
    free(exact);
    tt_table_destroy(t);
    prob_free(&P);
    prob_free(&D);
}
END_TEST

/* GQA: per-KV-head V-row union over 1, 2, 4 and 8 query heads. */
START_TEST(gqa_union)
{
    const int r = 1 << _i;
    seed_rng(20 + _i);
    prob P;
    int kv = rnd(10, 40), ql = rnd(1, kv);
    prob_init(&P, 2, 2 * r, 2, 8, ql, kv);
    tt_attn_params p = params(TT_MODE_TOPK, TT_PLACE_PRE, TT_SDC_EXACT, 1, 1, rnd(1, 4));
    agree(&P, &p, p.k);
    for (int bg = 0; bg < 4; bg++) /* (batch, KV head) pairs */
        for (int i = 0; i < ql; i++) {
            unsigned mx = 0, sum = 0, u = P.st[4 * r * ql + bg * ql + i];
            for (int h = bg * r; h < (bg + 1) * r; h++)
                mx = P.st[h * ql + i] > mx ? P.st[h * ql + i] : mx, sum += P.st[h * ql + i];
            ck_assert(u >= mx && u <= sum && (r > 1 || u == sum));
        }
    prob_free(&P);
}
END_TEST

START_TEST(fp16_equals_fp32)
{
    seed_rng(4);
    prob P;
    int kv = rnd(4, 50);
    prob_init(&P, 1, 4, 2, 16, rnd(1, kv), kv);
    size_t nkv = (size_t)2 * kv * 16, no = (size_t)4 * P.sh.q_len * 16;
    uint16_t *kh = malloc(nkv * 2), *vh = malloc(nkv * 2);
    float *o16 = malloc(no * sizeof *o16);
    for (size_t i = 0; i < nkv; i++) {
        kh[i] = tt_f32_to_f16(P.k[i]), P.k[i] = tt_f16_to_f32(kh[i]);
        vh[i] = tt_f32_to_f16(P.v[i]), P.v[i] = tt_f16_to_f32(vh[i]);
    }
    tt_attn_params p = params(TT_MODE_TOPK, TT_PLACE_PRE, TT_SDC_EXACT, 1, 1, 3);
    ck_assert_int_eq(tt_reference_attention(&P.sh, &p, P.q, P.k, P.v, P.o, NULL), 0);
    P.sh.kv_dtype = TT_DTYPE_F16;
    ck_assert_int_eq(tt_reference_attention(&P.sh, &p, P.q, kh, vh, o16, NULL), 0);
    ck_assert(memcmp(P.o, o16, no * sizeof *o16) == 0);
    free(kh), free(vh), free(o16);
    prob_free(&P);
}
END_TEST

/* NaN in one head's Q, an Inf K row, and a KV head whose keys are all -Inf. Shape: 4 heads over
 * 2 KV heads, 6 rows of 12 keys, d = 8; row (head 1, row 2) gets the NaN. */
START_TEST(nonfinite)
{
    seed_rng(5);
    prob P;
    prob_init(&P, 1, 4, 2, 8, 6, 12);
    const size_t no = 4 * 6 * 8, bad = 1 * 6 + 2;
    float *clean = malloc(no * sizeof *clean);
    tt_attn_params p = params(TT_MODE_TOPK, TT_PLACE_PRE, TT_SDC_EXP_THRESHOLD, 1, 1, 4);
    ck_assert_int_eq(tt_reference_attention(&P.sh, &p, P.q, P.k, P.v, clean, NULL), 0);
    P.q[bad * 8 + 3] = NAN;
    agree(&P, &p, 4);
    for (size_t i = 0; i < no; i++)
        ck_assert_msg(i / 8 == bad ? isnan(P.o[i]) : P.o[i] == clean[i], "o[%zu] wrong", i);
    ck_assert_uint_eq(P.st[bad], 0);
    ck_assert_uint_eq(P.st[24 + 2], P.st[0 * 6 + 2]); /* the union is head 0's set alone */
    P.k[3 * 8 + 1] = INFINITY; /* key 3 of KV head 0: never kept, not counted */
    agree(&P, &p, 4);          /* exp-threshold still prices n - |S| with the real n */
    p.mode = TT_MODE_DENSE;
    agree(&P, &p, 0);
    for (int i = 0; i < 6; i++)
        ck_assert_uint_eq(P.st[i], 7 + i - 1);
    p = params(TT_MODE_TOPK, TT_PLACE_PRE, TT_SDC_EXACT, 1, 1, 3);
    for (int j = 0; j < 12; j++)
        P.k[(12 + j) * 8] = -INFINITY; /* KV head 1: all scores non-finite */
    agree(&P, &p, 3);
    for (size_t i = 0; i < no; i++)
        ck_assert(i >= 2 * 6 * 8 || i / 8 == bad ? isnan(P.o[i]) : isfinite(P.o[i]));
    free(clean);
    prob_free(&P);
}
END_TEST

START_TEST(invalid_args)
{
    prob P;
    seed_rng(6);
    prob_init(&P, 1, 4, 2, 8, 4, 8);
    tt_attn_params p = params(TT_MODE_DENSE, TT_PLACE_PRE, TT_SDC_NONE, 1, 0, 0);
    tt_attn_shape s = P.sh;
#define RUN(sh, pa, q, k, v, o) tt_reference_attention(sh, pa, q, k, v, o, NULL)
    ck_assert_int_eq(RUN(&s, &p, NULL, P.k, P.v, P.o), TT_ERR_NULL_ARGUMENT);
    ck_assert_int_eq(RUN(&s, &p, P.q, P.k, NULL, P.o), TT_ERR_NULL_ARGUMENT);
    ck_assert_int_eq(RUN(&s, &p, P.q, P.k, P.v, NULL), TT_ERR_NULL_ARGUMENT);
    ck_assert_int_eq(RUN(NULL, &p, P.q, P.k, P.v, P.o), TT_ERR_NULL_ARGUMENT);
    ck_assert_int_eq(RUN(&s, NULL, P.q, P.k, P.v, P.o), TT_ERR_NULL_ARGUMENT);
    ck_assert(tt_last_error(NULL)[0] != '\0');
    p.mode = TT_MODE_TOPK;
    ck_assert_int_eq(RUN(&s, &p, P.q, P.k, P.v, P.o), TT_ERR_BAD_K);
    p.k = -1;
    ck_assert_int_eq(RUN(&s, &p, P.q, P.k, P.v, P.o), TT_ERR_BAD_K);
    p.k = 2;
    ck_assert_int_eq(RUN(&s, &p, P.q, P.k, P.v, P.o), TT_SUCCESS);
    s.n_kv_heads = 3;
    ck_assert_int_eq(RUN(&s, &p, P.q, P.k, P.v, P.o), TT_ERR_GQA_MISMATCH);
    s = P.sh, s.q_len = 9;
    ck_assert_int_eq(RUN(&s, &p, P.q, P.k, P.v, P.o), TT_ERR_QLEN_EXCEEDS_KV);
    s = P.sh, p.mode = TT_MODE_THETA;
    ck_assert_int_eq(RUN(&s, &p, P.q, P.k, P.v, P.o), TT_ERR_NO_TABLE);
    const int ns[1] = {4};
    const float th[4] = {0, 0, 0, 0};
    p.table = make_table(TT_PLACE_PRE, 4, 2, 8, 2, 1, ns, th, NULL);
    ck_assert_int_eq(RUN(&s, &p, P.q, P.k, P.v, P.o), TT_SUCCESS);
    p.sdc = TT_SDC_OFFLINE; /* the table has no D̂ */
    ck_assert_int_eq(RUN(&s, &p, P.q, P.k, P.v, P.o), TT_ERR_NO_TABLE);
    p.sdc = TT_SDC_NONE, p.placement = TT_PLACE_POST; /* the table is for pre */
    ck_assert_int_eq(RUN(&s, &p, P.q, P.k, P.v, P.o), TT_INVALID_VALUE);
#undef RUN
    tt_table_destroy((tt_table *)p.table);
    prob_free(&P);
}
END_TEST

/* Real sizes: 32-head decode at 8192 keys, and a 1024-row prefill with 8 heads, d = 64. */
START_TEST(speed)
{
    seed_rng(8);
    const int dec = _i == 0;
    prob P;
    prob_init(&P, 1, dec ? 32 : 8, 8, 64, dec ? 1 : 1024, dec ? 8192 : 1024);
    tt_attn_params p = params(TT_MODE_TOPK, TT_PLACE_PRE, TT_SDC_EXACT, 1, 1, 64);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ck_assert_int_eq(tt_reference_attention(&P.sh, &p, P.q, P.k, P.v, P.o, P.st), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double dt = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
    printf("# reference %s: %.3f s\n", dec ? "decode 32x8192" : "prefill 8x1024", dt);
    ck_assert_msg(dt < (dec ? 2.0 : 20.0), "reference too slow: %.2f s", dt);
    ck_assert_uint_eq(P.st[P.sh.q_len - 1], 64); /* head 0, last row */
    prob_free(&P);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("reference");
    TCase *hand = tcase_create("hand");
    tcase_add_test(hand, theta_hand);
    tcase_add_test(hand, sdc_hand);
    tcase_add_test(hand, topk_ties);
    tcase_add_test(hand, kth_largest);
    tcase_add_test(hand, invalid_args);
    suite_add_tcase(s, hand);
    TCase *rnd_tc = tcase_create("brute-force");
    tcase_add_loop_test(rnd_tc, dense_softmax, 0, 2);
    tcase_add_loop_test(rnd_tc, topk_random, 0, 8);
    tcase_add_loop_test(rnd_tc, theta_random, 0, 24);
    tcase_add_test(rnd_tc, dense_below_k);
    tcase_add_loop_test(rnd_tc, gqa_union, 0, 4);
    tcase_add_loop_test(rnd_tc, onepass_superset, 0, 4);
    tcase_add_test(rnd_tc, fp16_equals_fp32);
    tcase_add_test(rnd_tc, nonfinite);
    suite_add_tcase(s, rnd_tc);
    TCase *big = tcase_create("speed");
    tcase_set_timeout(big, 60);
    tcase_add_loop_test(big, speed, 0, 2);
    suite_add_tcase(s, big);
    return tt_test_run(s);
}
