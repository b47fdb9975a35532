/* test-topk.c — top-k's edge cases on every path that runs it, against the CPU reference: exact
 * ties at the k-th largest score (all kept), rows with fewer finite scores than k (all finite
 * ones kept; exp-threshold SDC prices the missing ones at the smallest kept score) and rows with
 * none; and long rows whose k-th lies in a dense cluster or a run of hundreds of ties. Prefill on
 * the row kernel (CPUs), the tiled kernel (GPUs; TT_PF_ROWS=0) and the generic path
 * (TT_PREFILL_GENERIC=1), and decode; fp32 and fp16 KV. */
#include "support.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define H 4
#define G 2
#define D 16
#define N 90
#define K 12

/* Runs top-k (params p) on path `path` (below) and on the CPU reference: K/V converted to
 * fp16 first when f16 (n_kv_elems values each), kept counts into st / st_ref. */
static void run_on_path(const tt_attn_shape *sh, const tt_attn_params *p, int path, int f16,
                        size_t n_kv_elems, const float *q, const float *k, const float *v,
                        uint16_t *kh, uint16_t *vh, float *o, float *o_ref, uint32_t *st,
                        uint32_t *st_ref)
{
    for (size_t i = 0; f16 && i < n_kv_elems; i++)
        kh[i] = tt_f32_to_f16(k[i]), vh[i] = tt_f32_to_f16(v[i]);
    const void *kk = f16 ? (const void *)kh : k, *vv = f16 ? (const void *)vh : v;
    tt_context *ctx = NULL;
    ck_assert_int_eq(tt_context_create(NULL, &ctx), TT_SUCCESS);
    if (path == 1)
        setenv("TT_PF_ROWS", "0", 1);
    if (path == 2)
        setenv("TT_PREFILL_GENERIC", "1", 1);
    tt_status s = tt_attention_host(ctx, sh, p, q, kk, vv, o, NULL, st);
    unsetenv("TT_PF_ROWS");
    unsetenv("TT_PREFILL_GENERIC");
    ck_assert_msg(s == TT_SUCCESS, "%s: %s", tt_status_name(s), tt_last_error(ctx));
    ck_assert_int_eq(tt_reference_attention(sh, p, q, kk, vv, o_ref, st_ref), TT_SUCCESS);
    tt_context_destroy(ctx);
}

/* Loop index: bit 0 q_len (prefill 61 rows or decode), bit 1 fp16 KV, bits 2-3 the prefill
 * path: 0 the device's own, 1 the tiled kernel, 2 the generic path. */
static void check_case(int idx)
{
    const int ql = idx & 1 ? 1 : 61, f16 = (idx >> 1) & 1, path = idx >> 2;
    if ((path && ql == 1) || path > 2)
        return; /* decode has one path */
    const tt_attn_shape sh = {1, H, G, D, ql, N, f16 ? TT_DTYPE_F16 : TT_DTYPE_F32};
    unsigned rng = tt_test_seed() * 2654435761u + (unsigned)idx;
    float *q = malloc(sizeof(float) * H * ql * D), *o = malloc(sizeof(float) * H * ql * D);
    float *o_ref = malloc(sizeof(float) * H * ql * D);
    float *k = malloc(sizeof(float) * G * N * D), *v = malloc(sizeof(float) * G * N * D);
    uint16_t *kh = malloc(2u * G * N * D), *vh = malloc(2u * G * N * D);
    const size_t nst = tt_stats_size(&sh) / 4;
    uint32_t *st = malloc(nst * 4), *st_ref = malloc(nst * 4);
    ck_assert(q && o && o_ref && k && v && kh && vh && st && st_ref);
    for (int i = 0; i < H * ql * D; i++)
        q[i] = tt_test_uniform(&rng, -1, 1);
    for (int i = 0; i < G * N * D; i++)
        k[i] = tt_test_uniform(&rng, -1, 1), v[i] = tt_test_uniform(&rng, -1, 1);
    /* KV head 0: keys 0..7 are one key A and keys 8..17 one key B, scoring above the random
     * keys (queries of heads 0 and 1 lean on dimension 1): the top k = 12 of a long row are the
     * 8 A's and 4 of the B's, so the k-th largest is tied ten times and 18 are kept */
    for (int h = 0; h < 2; h++)
        for (int i = 0; i < ql; i++)
            q[(h * ql + i) * D + 1] = 0.5f + tt_test_uniform(&rng, 0, 1);
    for (int j = 0; j < 18; j++)
        for (int e = 0; e < D; e++)
            k[j * D + e] = e == 1 ? (j < 8 ? 16.0f : 10.0f) : 0.0f;
    /* KV head 1: only keys 40..44 finite, the rest -Inf scores (the first dimension -Inf against
     * queries whose first element is positive); so every row of it has at most 5 < k finite
     * scores, and rows of n <= 40 none */
    for (int h = 2; h < 4; h++)
        for (int i = 0; i < ql; i++)
            q[(h * ql + i) * D] = 0.5f + tt_test_uniform(&rng, 0, 1);
    for (int j = 0; j < N; j++)
        if (j < 40 || j > 44)
            k[(N + j) * D] = -INFINITY;
    tt_attn_params p;
    tt_attn_params_init(&p);
    p.mode = TT_MODE_TOPK, p.k = K, p.sdc = TT_SDC_EXP_THRESHOLD, p.vmc = 1;
    run_on_path(&sh, &p, path, f16, (size_t)G * N * D, q, k, v, kh, vh, o, o_ref, st, st_ref);
    const char *what = ql == 1      ? "decode"
                       : path == 1 ? "prefill, tiled kernel"
                       : path == 2 ? "prefill, generic path"
                                   : "prefill";
    for (int r = 0; r < H * ql; r++) {
        ck_assert_msg(st[r] == st_ref[r], "%s%s: row %d (head %d) kept %u, reference %u", what,
                      f16 ? " f16" : "", r, r / ql, st[r], st_ref[r]);
        for (int e = 0; e < D; e++) {
            const float a = o[r * D + e], b = o_ref[r * D + e];
            ck_assert_msg((isnan(a) && isnan(b)) || fabsf(a - b) <= 2e-4f + 2e-3f * fabsf(b),
                          "%s%s: row %d (head %d) dim %d: %g, reference %g", what,
                          f16 ? " f16" : "", r, r / ql, e, a, b);
        }
    }
    /* the case has what it is for: ties kept beyond k, short rows kept whole, empty rows */
    int ties = 0, shorts = 0, empties = 0;
    for (int r = 0; r < H * ql; r++) {
        const int n = N - ql + r % ql + 1, head = r / ql;
        ties += head < 2 && n > K && st_ref[r] > K;
        shorts += head >= 2 && n > 40 && st_ref[r] > 0 && st_ref[r] < K;
        empties += head >= 2 && n <= 40;
    }
    ck_assert_msg(ties > 0 && shorts > 0 && (ql == 1 || empties > 0),
                  "%s: %d tied, %d short, %d empty rows", what, ties, shorts, empties);
    free(q), free(o), free(o_ref), free(k), free(v), free(kh), free(vh), free(st), free(st_ref);
}

START_TEST(test_topk_edges) { check_case(_i); }
END_TEST

#define LN 2000 /* keys of the long rows */
#define LQ 40
#define LK 300

/* Long rows (n 1961..2000, k = 300) shaped for the tiled kernel's k-th select
 * (prefill_kth.cl), whose histogram spans the row's range: one huge score (60000 in the key)
 * puts the whole cluster in one bin, which then has to be narrowed and binned again. Head 0's
 * cluster is 1000 keys of 50 values 2^-7 apart (20 ties each), head 1's k-th is a run of 700
 * equal scores. Every value is fp16-exact and every score one exact product, so device and
 * reference agree bit for bit. Loop index: bit 0 fp16 KV, bits 1-2 the path as above. */
static void check_long_case(int idx)
{
    const int f16 = idx & 1, path = idx >> 1;
    const tt_attn_shape sh = {1, 2, 1, D, LQ, LN, f16 ? TT_DTYPE_F16 : TT_DTYPE_F32};
    unsigned rng = tt_test_seed() * 2654435761u + 77u * (unsigned)idx;
    float *q = calloc((size_t)2 * LQ * D, sizeof(float)), *o = malloc(sizeof(float) * 2 * LQ * D);
    float *o_ref = malloc(sizeof(float) * 2 * LQ * D);
    float *k = calloc((size_t)LN * D, sizeof(float)), *v = malloc(sizeof(float) * LN * D);
    uint16_t *kh = malloc(2u * LN * D), *vh = malloc(2u * LN * D);
    const size_t nst = tt_stats_size(&sh) / 4;
    uint32_t *st = malloc(nst * 4), *st_ref = malloc(nst * 4);
    ck_assert(q && o && o_ref && k && v && kh && vh && st && st_ref);
    for (int i = 0; i < LQ; i++) { /* head 0 reads dimension 1, head 1 dimension 2 */
        q[i * D + 1] = (float)(4 + (int)tt_test_uniform(&rng, 0, 4.99f)) / 4.0f;
        q[(LQ + i) * D + 2] = (float)(4 + (int)tt_test_uniform(&rng, 0, 4.99f)) / 4.0f;
    }
    for (int j = 0; j < LN; j++) {
        k[j * D + 1] = (float)((int)tt_test_uniform(&rng, -1000, 1000)) / 128.0f; /* < 7.9 */
        k[j * D + 2] = (float)((int)tt_test_uniform(&rng, -512, 512)) / 128.0f;   /* < 4 */
        if (j >= 100 && j < 1100)
            k[j * D + 1] = 10.0f + (float)(j % 50) / 128.0f;
        if (j >= 200 && j < 900)
            k[j * D + 2] = 5.0f;
        for (int e = 0; e < D; e++)
            v[j * D + e] = tt_test_uniform(&rng, -1, 1);
    }
    k[1] = k[2] = 60000.0f;
    tt_attn_params p;
    tt_attn_params_init(&p);
    p.mode = TT_MODE_TOPK, p.k = LK;
    run_on_path(&sh, &p, path, f16, (size_t)LN * D, q, k, v, kh, vh, o, o_ref, st, st_ref);
    for (int r = 0; r < 2 * LQ; r++) {
        /* the shape holds: head 0 keeps part of its cluster, head 1 the whole run of ties */
        ck_assert_msg(r < LQ ? st_ref[r] >= LK && st_ref[r] < 1000 : st_ref[r] == 701,
                      "row %d: reference keeps %u", r, st_ref[r]);
        ck_assert_msg(st[r] == st_ref[r], "path %d%s: row %d kept %u, reference %u", path,
                      f16 ? " f16" : "", r, st[r], st_ref[r]);
        for (int e = 0; e < D; e++) {
            const float a = o[r * D + e], b = o_ref[r * D + e];
            ck_assert_msg(fabsf(a - b) <= 2e-4f + 2e-3f * fabsf(b),
                          "path %d%s: row %d dim %d: %g, reference %g", path, f16 ? " f16" : "",
                          r, e, a, b);
        }
    }
    free(q), free(o), free(o_ref), free(k), free(v), free(kh), free(vh), free(st), free(st_ref);
}

START_TEST(test_topk_long_rows) { check_long_case(_i); }
END_TEST

int main(void)
{
    if (!tt_test_have_device())
        return tt_test_skip("no OpenCL device");
    Suite *s = suite_create("topk");
    TCase *tc = tcase_create("topk");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_topk_edges, 0, 12);
    tcase_add_loop_test(tc, test_topk_long_rows, 0, 6);
    suite_add_tcase(s, tc);
    return tt_test_run(s);
}
