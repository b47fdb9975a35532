/* test-nonfinite.c — the NaN/Inf policy of toptheta.h on the device, checked against the CPU
 * reference: non-finite scores are never kept; NaN in one head's Q makes only that head's row NaN;
 * an Inf key row is skipped; a KV head whose keys are all -Inf yields NaN rows for its heads
 * only; no crash, and finite heads are unaffected. */
#include "support.h"
#include "common/synth.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define H 4
#define G 2
#define DIM 16
#define N 70

static tt_context *ctx;
static float q[H * DIM], k[G * N * DIM], v[G * N * DIM], o_dev[H * DIM], o_ref[H * DIM];
static uint32_t st_dev[H + G], st_ref[H + G];
static tt_attn_shape shape = {1, H, G, DIM, 1, N, TT_DTYPE_F32};

static void setup(void)
{
    ck_assert_int_eq(tt_context_create(NULL, &ctx), TT_SUCCESS);
    tt_rng r;
    tt_rng_seed(&r, tt_test_seed());
    for (int i = 0; i < H * DIM; i++)
        q[i] = tt_rng_normal(&r);
    for (int i = 0; i < G * N * DIM; i++) {
        k[i] = tt_rng_normal(&r);
        v[i] = tt_rng_normal(&r);
    }
}

static void teardown(void) { tt_context_destroy(ctx); }

/* Runs device and reference with the given mode and compares row by row: both NaN, or close. */
static void run_and_compare(tt_mode mode, int *nan_heads)
{
    tt_attn_params p;
    tt_attn_params_init(&p);
    p.mode = mode;
    p.k = 8;
    p.sdc = TT_SDC_EXACT;
    for (int i = 0; i < H * DIM; i++)
        o_dev[i] = 12345.0f;
    ck_assert_int_eq(tt_attention_host(ctx, &shape, &p, q, k, v, o_dev, NULL, st_dev), TT_SUCCESS);
    ck_assert_int_eq(tt_reference_attention(&shape, &p, q, k, v, o_ref, st_ref), TT_SUCCESS);
    for (int h = 0; h < H; h++) {
        int dn = isnan(o_dev[h * DIM]), rn = isnan(o_ref[h * DIM]);
        ck_assert_msg(dn == rn, "head %d: device NaN %d, reference NaN %d", h, dn, rn);
        nan_heads[h] = dn;
        for (int e = 0; e < DIM; e++) {
            float a = o_dev[h * DIM + e], b = o_ref[h * DIM + e];
            ck_assert_msg((isnan(a) && isnan(b)) || fabsf(a - b) <= 1e-4f + 1e-3f * fabsf(b),
                          "head %d dim %d: %g vs %g", h, e, a, b);
            nan_heads[h] |= isnan(a);
        }
        ck_assert_uint_eq(st_dev[h], st_ref[h]);
    }
}

START_TEST(test_nan_in_one_query_head)
{
    int nan_heads[H];
    q[1 * DIM + 3] = NAN;
    run_and_compare(_i, nan_heads);
    ck_assert(nan_heads[1]);
    ck_assert(!nan_heads[0] && !nan_heads[2] && !nan_heads[3]);
    ck_assert_uint_eq(st_dev[1], 0);
}
END_TEST

START_TEST(test_inf_key_row_is_skipped)
{
    int nan_heads[H];
    for (int e = 0; e < DIM; e++)
        k[(0 * N + 17) * DIM + e] = INFINITY; /* key 17 of KV head 0 */
    run_and_compare(_i, nan_heads);
    for (int h = 0; h < H; h++)
        ck_assert(!nan_heads[h]);
    if (_i == TT_MODE_DENSE) /* the non-finite score is not counted as kept */
        ck_assert_uint_eq(st_dev[0], N - 1);
}
END_TEST

START_TEST(test_all_keys_minus_inf_in_one_kv_head)
{
    int nan_heads[H];
    for (int i = 0; i < N * DIM; i++)
        k[N * DIM + i] = i % DIM == 0 ? -INFINITY : 0.0f; /* KV head 1 */
    for (int h = 0; h < H; h++)
        q[h * DIM] = 1.0f;
    run_and_compare(_i, nan_heads);
    ck_assert(!nan_heads[0] && !nan_heads[1]);
    ck_assert(nan_heads[2] && nan_heads[3]);
}
END_TEST

START_TEST(test_nan_in_value_row_stays_local)
{
    int nan_heads[H];
    v[(1 * N + 5) * DIM + 2] = NAN; /* KV head 1, row 5 */
    run_and_compare(_i, nan_heads);
    ck_assert(!nan_heads[0] && !nan_heads[1]); /* heads of KV head 0 never see it */
    if (_i == TT_MODE_DENSE) /* dense keeps row 5, so only its NaN dimension is NaN */
        ck_assert(isnan(o_dev[2 * DIM + 2]) && !isnan(o_dev[2 * DIM + 1]));
}
END_TEST

int main(void)
{
    if (!tt_test_have_device())
        return tt_test_skip("no OpenCL device");
    Suite *s = suite_create("nonfinite");
    TCase *tc = tcase_create("policy");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_nan_in_one_query_head, TT_MODE_DENSE, TT_MODE_TOPK + 1);
    tcase_add_loop_test(tc, test_inf_key_row_is_skipped, TT_MODE_DENSE, TT_MODE_TOPK + 1);
    tcase_add_loop_test(tc, test_all_keys_minus_inf_in_one_kv_head, TT_MODE_DENSE, TT_MODE_TOPK + 1);
    tcase_add_loop_test(tc, test_nan_in_value_row_stays_local, TT_MODE_DENSE, TT_MODE_TOPK + 1);
    suite_add_tcase(s, tc);
    return tt_test_run(s);
}
