/* test-table.c — the in-memory threshold table: create / set / get, lookup at samples, between
 * them (linear interpolation) and outside them (end values held), and argument checking. No
 * device is needed. */
#include "support.h"
#include "internal.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static tt_table_meta small_meta(void)
{
    tt_table_meta m;
    memset(&m, 0, sizeof m);
    m.placement = TT_PLACE_POST;
    m.sigma = 0.1f;
    m.score_precision = 32;
    m.n_layers = 2;
    m.n_heads = 4;
    m.n_kv_heads = 2;
    m.head_dim = 8;
    strcpy(m.model_name, "unit");
    return m;
}

static tt_table *small_table(void)
{
    tt_table_meta m = small_meta();
    tt_table *t = NULL;
    ck_assert_int_eq(tt_table_create(&m, &t), TT_SUCCESS);
    static const int ns[] = {10, 20, 40};
    static const float th[] = {1.0f, 2.0f, 4.0f}, dh[] = {100.0f, 200.0f, 300.0f};
    ck_assert_int_eq(tt_table_set_curve(t, 1, 2, 3, ns, th, dh), TT_SUCCESS);
    ck_assert_int_eq(tt_table_set_curve(t, 0, 0, 3, ns, th, NULL), TT_SUCCESS);
    return t;
}

START_TEST(test_create_and_meta)
{
    tt_table_meta m = small_meta(), got;
    strcpy(m.device_name, "dev");
    m.samples = 1234;
    m.created_unix = 1700000000;
    tt_table *t = NULL;
    ck_assert_int_eq(tt_table_create(&m, &t), TT_SUCCESS);
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(tt_table_get_meta(t, &got), TT_SUCCESS);
    ck_assert_int_eq(got.placement, TT_PLACE_POST);
    ck_assert_int_eq(got.n_layers, 2);
    ck_assert_int_eq(got.n_heads, 4);
    ck_assert_str_eq(got.model_name, "unit");
    ck_assert_str_eq(got.device_name, "dev");
    ck_assert_uint_eq(got.samples, 1234);
    ck_assert_int_eq(got.created_unix, 1700000000);
    /* A fresh table has no k and no curves. */
    int k = -1, count = -1;
    ck_assert_int_eq(tt_table_get_layer_k(t, 1, &k), TT_SUCCESS);
    ck_assert_int_eq(k, 0);
    ck_assert_int_eq(tt_table_get_curve(t, 1, 3, &count, NULL, NULL, NULL), TT_SUCCESS);
    ck_assert_int_eq(count, 0);
    tt_table_destroy(t);
    tt_table_destroy(NULL); /* documented as harmless */
}
END_TEST

START_TEST(test_layer_k)
{
    tt_table *t = small_table();
    int k = 0;
    ck_assert_int_eq(tt_table_set_layer_k(t, 0, 32), TT_SUCCESS);
    ck_assert_int_eq(tt_table_get_layer_k(t, 0, &k), TT_SUCCESS);
    ck_assert_int_eq(k, 32);
    ck_assert_int_eq(tt_table_set_layer_k(t, 0, 0), TT_ERR_BAD_K);
    ck_assert_int_eq(tt_table_set_layer_k(t, 2, 8), TT_ERR_TABLE_RANGE);
    ck_assert_int_eq(tt_table_set_layer_k(t, -1, 8), TT_ERR_TABLE_RANGE);
    ck_assert_int_eq(tt_table_get_layer_k(t, 2, &k), TT_ERR_TABLE_RANGE);
    ck_assert_int_eq(tt_table_get_layer_k(t, 0, NULL), TT_ERR_NULL_ARGUMENT);
    tt_table_destroy(t);
}
END_TEST

START_TEST(test_curve_roundtrip)
{
    tt_table *t = small_table();
    int count = 0, ns[3];
    float th[3], dh[3];
    ck_assert_int_eq(tt_table_get_curve(t, 1, 2, &count, ns, th, dh), TT_SUCCESS);
    ck_assert_int_eq(count, 3);
    ck_assert_int_eq(ns[2], 40);
    ck_assert_float_eq(th[1], 2.0f);
    ck_assert_float_eq(dh[0], 100.0f);
    /* Without a D̂ curve the D̂ samples read as NaN. */
    ck_assert_int_eq(tt_table_get_curve(t, 0, 0, &count, ns, th, dh), TT_SUCCESS);
    ck_assert(isnan(dh[0]));
    /* Replacing a curve, and clearing it with count 0. */
    const int ns2[] = {5};
    const float th2[] = {-3.5f};
    ck_assert_int_eq(tt_table_set_curve(t, 1, 2, 1, ns2, th2, NULL), TT_SUCCESS);
    ck_assert_int_eq(tt_table_get_curve(t, 1, 2, &count, ns, th, NULL), TT_SUCCESS);
    ck_assert_int_eq(count, 1);
    ck_assert_float_eq(th[0], -3.5f);
    ck_assert_int_eq(tt_table_set_curve(t, 1, 2, 0, NULL, NULL, NULL), TT_SUCCESS);
    ck_assert_int_eq(tt_table_get_curve(t, 1, 2, &count, NULL, NULL, NULL), TT_SUCCESS);
    ck_assert_int_eq(count, 0);
    tt_table_destroy(t);
}
END_TEST

START_TEST(test_lookup_exact_and_interpolated)
{
    tt_table *t = small_table();
    float th = 0, dh = 0;
    ck_assert_int_eq(tt_table_lookup(t, 1, 2, 20, &th, &dh), TT_SUCCESS);
    ck_assert_float_eq(th, 2.0f);
    ck_assert_float_eq(dh, 200.0f);
    ck_assert_int_eq(tt_table_lookup(t, 1, 2, 15, &th, &dh), TT_SUCCESS);
    ck_assert_float_eq_tol(th, 1.5f, 1e-6f);
    ck_assert_float_eq_tol(dh, 150.0f, 1e-4f);
    ck_assert_int_eq(tt_table_lookup(t, 1, 2, 25, &th, &dh), TT_SUCCESS);
    ck_assert_float_eq_tol(th, 2.5f, 1e-6f);
    ck_assert_float_eq_tol(dh, 225.0f, 1e-4f);
    ck_assert_int_eq(tt_table_lookup(t, 1, 2, 39, &th, NULL), TT_SUCCESS);
    ck_assert_float_eq_tol(th, 2.0f + 2.0f * 19.0f / 20.0f, 1e-6f);
    /* No D̂ curve: NaN. */
    ck_assert_int_eq(tt_table_lookup(t, 0, 0, 15, &th, &dh), TT_SUCCESS);
    ck_assert(isnan(dh));
    tt_table_destroy(t);
}
END_TEST

START_TEST(test_lookup_extrapolation)
{
    tt_table *t = small_table();
    float th = 0, dh = 0;
    /* Below the first sample: the first value; beyond the last: the last value ("hold"). */
    ck_assert_int_eq(tt_table_lookup(t, 1, 2, 1, &th, &dh), TT_SUCCESS);
    ck_assert_float_eq(th, 1.0f);
    ck_assert_float_eq(dh, 100.0f);
    ck_assert_int_eq(tt_table_lookup(t, 1, 2, 9, &th, NULL), TT_SUCCESS);
    ck_assert_float_eq(th, 1.0f);
    ck_assert_int_eq(tt_table_lookup(t, 1, 2, 41, &th, &dh), TT_SUCCESS);
    ck_assert_float_eq(th, 4.0f);
    ck_assert_float_eq(dh, 300.0f);
    ck_assert_int_eq(tt_table_lookup(t, 1, 2, 1 << 30, &th, NULL), TT_SUCCESS);
    ck_assert_float_eq(th, 4.0f);
    /* A one-sample curve is constant. */
    const int ns[] = {7};
    const float v[] = {0.25f};
    ck_assert_int_eq(tt_table_set_curve(t, 0, 3, 1, ns, v, NULL), TT_SUCCESS);
    for (int n = 1; n < 20; n++) {
        ck_assert_int_eq(tt_table_lookup(t, 0, 3, n, &th, NULL), TT_SUCCESS);
        ck_assert_float_eq(th, 0.25f);
    }
    tt_table_destroy(t);
}
END_TEST

START_TEST(test_lookup_errors)
{
    tt_table *t = small_table();
    float th = 0;
    ck_assert_int_eq(tt_table_lookup(t, 0, 1, 10, &th, NULL), TT_ERR_TABLE_RANGE); /* no samples */
    ck_assert_int_eq(tt_table_lookup(t, 2, 0, 10, &th, NULL), TT_ERR_TABLE_RANGE);
    ck_assert_int_eq(tt_table_lookup(t, 0, 4, 10, &th, NULL), TT_ERR_TABLE_RANGE);
    ck_assert_int_eq(tt_table_lookup(t, 0, -1, 10, &th, NULL), TT_ERR_TABLE_RANGE);
    ck_assert_int_eq(tt_table_lookup(t, 0, 0, 0, &th, NULL), TT_ERR_TABLE_RANGE);
    ck_assert_int_eq(tt_table_lookup(t, 0, 0, 10, NULL, NULL), TT_ERR_NULL_ARGUMENT);
    ck_assert_int_eq(tt_table_lookup(NULL, 0, 0, 10, &th, NULL), TT_ERR_NULL_ARGUMENT);
    ck_assert_str_ne(tt_last_error(NULL), "");
    tt_table_destroy(t);
}
END_TEST

/* The per-chunk walk (tt__table_fill) gives exactly the lookup's values: random curves, starts
 * before, inside and past the samples, with and without D-hat. */
START_TEST(test_fill_matches_lookup)
{
    unsigned st = tt_test_seed() + 3;
    tt_table_meta m = small_meta();
    tt_table *t = NULL;
    ck_assert_int_eq(tt_table_create(&m, &t), TT_SUCCESS);
    int ns[40];
    float th[40], dh[40], a[700], b[700], lt, ld;
    for (int round = 0; round < 20; round++) {
        const int count = 1 + (int)tt_test_uniform(&st, 0, 39.99f);
        int n = (int)tt_test_uniform(&st, 1, 50);
        for (int i = 0; i < count; i++) {
            ns[i] = n;
            n += 1 + (int)tt_test_uniform(&st, 0, 30);
            th[i] = tt_test_uniform(&st, -3, 3);
            dh[i] = tt_test_uniform(&st, 0, 5);
        }
        ck_assert_int_eq(tt_table_set_curve(t, 1, 3, count, ns, th, round % 2 ? dh : NULL),
                         TT_SUCCESS);
        const int n0 = 1 + (int)tt_test_uniform(&st, 0, (float)n), len = 1 + round * 30;
        memset(a, 0xff, sizeof a), memset(b, 0xff, sizeof b); /* poisoned: NaN bits */
        ck_assert_int_eq(tt__table_fill(t, 1, 3, n0, len, a, b), TT_SUCCESS);
        for (int i = 0; i < len; i++) {
            ck_assert_int_eq(tt_table_lookup(t, 1, 3, n0 + i, &lt, &ld), TT_SUCCESS);
            ck_assert_msg(memcmp(&a[i], &lt, 4) == 0, "n %d: fill %.9g, lookup %.9g", n0 + i,
                          a[i], lt);
            ck_assert(round % 2 ? memcmp(&b[i], &ld, 4) == 0 : isnan(b[i]) && isnan(ld));
        }
        ck_assert(a[len] != a[len]); /* nothing written past the range */
    }
    /* range errors as the lookup reports them */
    ck_assert_int_eq(tt__table_fill(t, 0, 1, 10, 5, a, NULL), TT_ERR_TABLE_RANGE);
    ck_assert_int_eq(tt__table_fill(t, 1, 4, 10, 5, a, NULL), TT_ERR_TABLE_RANGE);
    ck_assert_int_eq(tt__table_fill(t, 1, 3, 0, 5, a, NULL), TT_ERR_TABLE_RANGE);
    tt_table_destroy(t);
}
END_TEST

START_TEST(test_bad_arguments)
{
    tt_table_meta m = small_meta();
    tt_table *t = (tt_table *)&m; /* must be reset to NULL on failure */
    ck_assert_int_eq(tt_table_create(NULL, &t), TT_ERR_NULL_ARGUMENT);
    ck_assert_int_eq(tt_table_create(&m, NULL), TT_ERR_NULL_ARGUMENT);
    m.n_layers = 0;
    ck_assert_int_eq(tt_table_create(&m, &t), TT_ERR_BAD_SHAPE);
    ck_assert_ptr_null(t);
    m = small_meta();
    m.n_heads = 5000;
    ck_assert_int_eq(tt_table_create(&m, &t), TT_ERR_BAD_SHAPE);
    m = small_meta();
    m.placement = (tt_placement)7;
    ck_assert_int_eq(tt_table_create(&m, &t), TT_ERR_BAD_ENUM);
    m = small_meta();
    m.sigma = NAN;
    ck_assert_int_eq(tt_table_create(&m, &t), TT_ERR_NONFINITE);

    t = small_table();
    const int up[] = {1, 5, 9}, flat[] = {1, 5, 5}, zero[] = {0, 5, 9};
    const float v[] = {1, 2, 3}, bad[] = {1, INFINITY, 3};
    ck_assert_int_eq(tt_table_set_curve(t, 0, 0, 3, flat, v, NULL), TT_ERR_BAD_SHAPE);
    ck_assert_int_eq(tt_table_set_curve(t, 0, 0, 3, zero, v, NULL), TT_ERR_BAD_SHAPE);
    ck_assert_int_eq(tt_table_set_curve(t, 0, 0, 3, up, bad, NULL), TT_ERR_NONFINITE);
    ck_assert_int_eq(tt_table_set_curve(t, 0, 0, 3, up, v, bad), TT_ERR_NONFINITE);
    ck_assert_int_eq(tt_table_set_curve(t, 0, 0, -1, up, v, NULL), TT_ERR_BAD_SHAPE);
    ck_assert_int_eq(tt_table_set_curve(t, 0, 0, 3, NULL, v, NULL), TT_ERR_NULL_ARGUMENT);
    ck_assert_int_eq(tt_table_set_curve(t, 2, 0, 3, up, v, NULL), TT_ERR_TABLE_RANGE);
    ck_assert_int_eq(tt_table_set_curve(t, 0, 4, 3, up, v, NULL), TT_ERR_TABLE_RANGE);
    /* A rejected curve leaves the old one in place. */
    float th = 0;
    ck_assert_int_eq(tt_table_lookup(t, 0, 0, 20, &th, NULL), TT_SUCCESS);
    ck_assert_float_eq(th, 2.0f);
    ck_assert_int_eq(tt_table_get_meta(t, NULL), TT_ERR_NULL_ARGUMENT);
    ck_assert_int_eq(tt_table_get_curve(t, 0, 0, NULL, NULL, NULL, NULL), TT_ERR_NULL_ARGUMENT);
    tt_table_destroy(t);
}
END_TEST

static Suite *table_suite(void)
{
    Suite *s = suite_create("table");
    TCase *tc = tcase_create("memory");
    tcase_add_test(tc, test_create_and_meta);
    tcase_add_test(tc, test_layer_k);
    tcase_add_test(tc, test_curve_roundtrip);
    tcase_add_test(tc, test_lookup_exact_and_interpolated);
    tcase_add_test(tc, test_lookup_extrapolation);
    tcase_add_test(tc, test_lookup_errors);
    tcase_add_test(tc, test_bad_arguments);
    tcase_add_test(tc, test_fill_matches_lookup);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tt_test_run(table_suite()); }
