/* test-calib.c — calibration (calib/): synthetic score rows whose (k+1)-th largest value is known
 * give the expected mean, σ·std and D̂ per placement; missing lengths interpolate, smoothing and
 * seeded sampling behave as documented, k <= 0 layers stay untouched, bad arguments fail; SHA-256
 * against FIPS vectors; and, with ../shared and a device, a 2-sequence calibration end to end.
 * The per-layer k budget (calib/budget.c, `calibrate --budget`): test-calib-budget.inc; compact
 * fitted curves (calib/fit.c, `table fit`): test-calib-fit.inc. */
#include "calib.h"
#include "model/model.h"
#include "support.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define K 3
#define MAXN 64

static tc_config base_cfg(int *ks, int layers, tt_placement p, float sigma)
{
    tc_config c;
    memset(&c, 0, sizeof c);
    c.meta.placement = p;
    c.meta.sigma = sigma;
    c.meta.n_layers = layers;
    c.meta.n_heads = 2;
    c.meta.n_kv_heads = 1;
    c.meta.head_dim = 4;
    strcpy(c.meta.model_name, "synthetic");
    c.layer_k = ks;
    c.max_n = MAXN;
    c.dhat = 1;
    return c;
}

/* A row of length n >= 4 whose top K scores are 10, 11, 12, whose (K+1)-th is a and whose rest
 * lie below a, spread over the row so position cannot matter. */
static void make_row(double *s, int n, double a)
{
    for (int j = 0; j < n; j++)
        s[j] = a - 1.0 - 0.01 * j;
    s[n - 1] = 12, s[0] = 11, s[n / 2] = 10, s[1] = a; /* distinct positions for n >= 4 */
}

/* x and D of a row computed independently of calib.c: the expected answer. */
static void expect_row(const double *s, int n, double a, tt_placement p, double *x, double *d)
{
    double m = 12, z = 0;
    for (int j = 0; j < n; j++)
        z += exp(s[j] - m);
    *x = p == TT_PLACE_PRE ? a : p == TT_PLACE_REL ? a - m : exp(a - m) / z;
    *d = 0;
    for (int j = 0; j < n; j++)
        if (s[j] <= a) /* everything but the top K */
            *d += exp(s[j] - m);
}

static void check_placement(tt_placement p, float sigma)
{
    int ks[1] = {K};
    tc_config cfg = base_cfg(ks, 1, p, sigma);
    tc_acc *acc = NULL;
    ck_assert_int_eq(tc_create(&cfg, &acc, NULL, 0), TT_SUCCESS);
    double s[MAXN];
    const int lens[] = {8, 20, 40};
    const int R = 5;
    for (int li = 0; li < 3; li++) {
        int n = lens[li];
        double xs[5], ds[5];
        for (int r = 0; r < R; r++) {
            double a = 2.0 + 0.5 * r + 0.1 * li;
            make_row(s, n, a);
            expect_row(s, n, a, p, &xs[r], &ds[r]);
            ck_assert_int_eq(tc_add_row(acc, 0, 1, n, s), TT_SUCCESS);
            ck_assert_int_eq(tc_add_row(acc, 0, 0, n, s), TT_SUCCESS);
        }
        double mean = 0, var = 0, dm = 0;
        for (int r = 0; r < R; r++)
            mean += xs[r] / R, dm += ds[r] / R;
        for (int r = 0; r < R; r++)
            var += (xs[r] - mean) * (xs[r] - mean) / R; /* population variance */
        double want = mean + sigma * sqrt(var);
        tt_table *t = NULL;
        ck_assert_int_eq(tc_finish(acc, &t), TT_SUCCESS);
        float th, dh;
        ck_assert_int_eq(tt_table_lookup(t, 0, 1, n, &th, &dh), TT_SUCCESS);
        ck_assert_msg(fabs(th - want) <= 1e-6 * fabs(want) + 1e-12, "n %d: theta %.9g want %.9g",
                      n, th, want);
        ck_assert_msg(fabs(dh - dm) <= 1e-6 * dm, "n %d: dhat %.9g want %.9g", n, dh, dm);
        tt_table_destroy(t);
    }
    tt_table *t = NULL;
    ck_assert_int_eq(tc_finish(acc, &t), TT_SUCCESS);
    tt_table_meta m;
    ck_assert_int_eq(tt_table_get_meta(t, &m), TT_SUCCESS);
    ck_assert_int_eq(m.placement, p);
    ck_assert_uint_eq(m.samples, 3 * R);
    ck_assert_int_eq(m.score_precision, 32);
    ck_assert(m.created_unix > 0);
    ck_assert_str_eq(m.model_name, "synthetic");
    int c = 0, k = 0;
    ck_assert_int_eq(tt_table_get_curve(t, 0, 0, &c, NULL, NULL, NULL), TT_SUCCESS);
    ck_assert_int_eq(c, 3);
    ck_assert_int_eq(tt_table_get_layer_k(t, 0, &k), TT_SUCCESS);
    ck_assert_int_eq(k, K);
    tt_table_destroy(t);
    tc_destroy(acc);
}

START_TEST(test_known_pre)
{
    check_placement(TT_PLACE_PRE, 0.0f);
    check_placement(TT_PLACE_PRE, 0.1f);
}
END_TEST

START_TEST(test_known_post)
{
    check_placement(TT_PLACE_POST, 0.0f);
    check_placement(TT_PLACE_POST, 1.5f);
}
END_TEST

START_TEST(test_known_rel)
{
    check_placement(TT_PLACE_REL, 0.0f);
    check_placement(TT_PLACE_REL, -0.5f);
}
END_TEST

/* Keeping x > θ_row on a calibration row keeps exactly k: θ is the (k+1)-th largest; short rows,
 * non-finite scores and rows with n <= k are not counted. */
START_TEST(test_row_rules)
{
    int ks[1] = {K};
    tc_config cfg = base_cfg(ks, 1, TT_PLACE_PRE, 0);
    tc_acc *acc = NULL;
    ck_assert_int_eq(tc_create(&cfg, &acc, NULL, 0), TT_SUCCESS);
    double s[MAXN];
    for (int j = 0; j < 10; j++)
        s[j] = j;
    ck_assert_int_eq(tc_add_row(acc, 0, 0, K, s), TT_SUCCESS); /* n <= k: ignored */
    s[9] = INFINITY, s[8] = NAN;                                /* 7 6 5 | 4 remain */
    ck_assert_int_eq(tc_add_row(acc, 0, 0, 10, s), TT_SUCCESS);
    s[0] = s[1] = s[2] = s[3] = s[4] = s[5] = s[10] = -INFINITY; /* 2 finite: < k + 1 */
    ck_assert_int_eq(tc_add_row(acc, 0, 0, 11, s), TT_SUCCESS);
    for (int j = 0; j < 10; j++) /* on h = 1 a plain row, so every head has samples */
        s[j] = j;
    ck_assert_int_eq(tc_add_row(acc, 0, 1, 10, s), TT_SUCCESS);
    uint64_t off, smp;
    ck_assert_int_eq(tc_layer_counts(acc, 0, &off, &smp), TT_SUCCESS);
    ck_assert_uint_eq(off, 3);
    ck_assert_uint_eq(smp, 2);
    tt_table *t = NULL;
    ck_assert_int_eq(tc_finish(acc, &t), TT_SUCCESS);
    float th;
    ck_assert_int_eq(tt_table_lookup(t, 0, 0, 10, &th, NULL), TT_SUCCESS);
    ck_assert(th == 4.0f);
    ck_assert_int_eq(tt_table_lookup(t, 0, 1, 10, &th, NULL), TT_SUCCESS);
    ck_assert(th == 6.0f);
    int c;
    tt_table_get_curve(t, 0, 0, &c, NULL, NULL, NULL);
    ck_assert_int_eq(c, 1);
    tt_table_destroy(t);
    /* float rows give the same as double rows */
    float f[10];
    for (int j = 0; j < 10; j++)
        f[j] = (float)j;
    ck_assert_int_eq(tc_add_row_f(acc, 0, 1, 10, f), TT_SUCCESS);
    ck_assert_int_eq(tc_finish(acc, &t), TT_SUCCESS);
    ck_assert_int_eq(tt_table_lookup(t, 0, 1, 10, &th, NULL), TT_SUCCESS);
    ck_assert(th == 6.0f);
    tt_table_destroy(t);
    tc_destroy(acc);
}
END_TEST

/* Only n = 10 and 30 are sampled: the table stores two samples, interpolates linearly between
 * them and holds the ends. */
START_TEST(test_interpolation)
{
    int ks[1] = {K};
    tc_config cfg = base_cfg(ks, 1, TT_PLACE_PRE, 0);
    tc_acc *acc = NULL;
    ck_assert_int_eq(tc_create(&cfg, &acc, NULL, 0), TT_SUCCESS);
    double s[MAXN];
    for (int h = 0; h < 2; h++) {
        make_row(s, 10, 1.0);
        ck_assert_int_eq(tc_add_row(acc, 0, h, 10, s), TT_SUCCESS);
        make_row(s, 30, 3.0);
        ck_assert_int_eq(tc_add_row(acc, 0, h, 30, s), TT_SUCCESS);
    }
    tt_table *t = NULL;
    ck_assert_int_eq(tc_finish(acc, &t), TT_SUCCESS);
    int c;
    tt_table_get_curve(t, 0, 1, &c, NULL, NULL, NULL);
    ck_assert_int_eq(c, 2);
    float th;
    ck_assert_int_eq(tt_table_lookup(t, 0, 1, 20, &th, NULL), TT_SUCCESS);
    ck_assert_float_eq_tol(th, 2.0f, 1e-6f);
    ck_assert_int_eq(tt_table_lookup(t, 0, 1, 15, &th, NULL), TT_SUCCESS);
    ck_assert_float_eq_tol(th, 1.5f, 1e-6f);
    ck_assert_int_eq(tt_table_lookup(t, 0, 1, 500, &th, NULL), TT_SUCCESS); /* hold last */
    ck_assert_float_eq_tol(th, 3.0f, 1e-6f);
    tt_table_destroy(t);
    tc_destroy(acc);
}
END_TEST

/* Window 3 (and 2, widened to 3): interior samples become the mean of three neighbours, the
 * shrinking window leaves both ends as they were. */
START_TEST(test_smoothing)
{
    static const double y[] = {1, 4, 2, 8, 5, 7};
    for (int w = 2; w <= 3; w++) {
        int ks[1] = {K};
        tc_config cfg = base_cfg(ks, 1, TT_PLACE_PRE, 0);
        cfg.smooth = w;
        tc_acc *acc = NULL;
        ck_assert_int_eq(tc_create(&cfg, &acc, NULL, 0), TT_SUCCESS);
        double s[MAXN];
        for (int i = 0; i < 6; i++)
            for (int h = 0; h < 2; h++) {
                make_row(s, 10 + 2 * i, y[i]);
                ck_assert_int_eq(tc_add_row(acc, 0, h, 10 + 2 * i, s), TT_SUCCESS);
            }
        tt_table *t = NULL;
        ck_assert_int_eq(tc_finish(acc, &t), TT_SUCCESS);
        int c, ns[6];
        float th[6];
        ck_assert_int_eq(tt_table_get_curve(t, 0, 0, &c, ns, th, NULL), TT_SUCCESS);
        ck_assert_int_eq(c, 6);
        ck_assert_float_eq_tol(th[0], 1.0f, 1e-6f);
        ck_assert_float_eq_tol(th[5], 7.0f, 1e-6f);
        for (int i = 1; i < 5; i++)
            ck_assert_float_eq_tol(th[i], (float)((y[i - 1] + y[i] + y[i + 1]) / 3), 1e-6f);
        tt_table_destroy(t);
        tc_destroy(acc);
    }
}
END_TEST

/* Builds a table from `rows` rows per length with the given sampling; returns sampled rows. */
static uint64_t sampled_table(double p, int every, uint64_t seed, tt_table **out)
{
    int ks[1] = {K};
    tc_config cfg = base_cfg(ks, 1, TT_PLACE_PRE, 0.1f);
    cfg.sample_p = p, cfg.sample_every = every, cfg.seed = seed;
    tc_acc *acc = NULL;
    ck_assert_int_eq(tc_create(&cfg, &acc, NULL, 0), TT_SUCCESS);
    double s[MAXN];
    for (int r = 0; r < 30; r++)
        for (int n = K + 1; n <= MAXN; n++)
            for (int h = 0; h < 2; h++) {
                make_row(s, n, 0.1 * r + 0.01 * n);
                ck_assert_int_eq(tc_add_row(acc, 0, h, n, s), TT_SUCCESS);
            }
    uint64_t off, smp;
    tc_layer_counts(acc, 0, &off, &smp);
    ck_assert_uint_eq(off, 30 * 2 * (MAXN - K));
    ck_assert_int_eq(tc_finish(acc, out), TT_SUCCESS);
    tc_destroy(acc);
    return smp;
}

static int same_tables(const tt_table *a, const tt_table *b)
{
    for (int h = 0; h < 2; h++) {
        int ca, cb, na[MAXN], nb[MAXN];
        float ta[MAXN], tb[MAXN];
        tt_table_get_curve(a, 0, h, &ca, na, ta, NULL);
        tt_table_get_curve(b, 0, h, &cb, nb, tb, NULL);
        if (ca != cb || memcmp(na, nb, sizeof(int) * ca) || memcmp(ta, tb, sizeof(float) * ca))
            return 0;
    }
    return 1;
}

START_TEST(test_sampling)
{
    tt_table *a, *b, *c;
    uint64_t all = 30 * 2 * (MAXN - K);
    uint64_t sa = sampled_table(0.3, 0, 42, &a), sb = sampled_table(0.3, 0, 42, &b);
    uint64_t sc = sampled_table(0.3, 0, 43, &c);
    ck_assert_uint_eq(sa, sb);
    ck_assert(same_tables(a, b)); /* same seed, same table */
    ck_assert(!same_tables(a, c)); /* another seed picks other rows */
    ck_assert_msg(sa > all / 4 && sa < all * 7 / 20, "sampled %llu of %llu at p = 0.3",
                  (unsigned long long)sa, (unsigned long long)all);
    ck_assert(sc > all / 4 && sc < all * 7 / 20);
    tt_table_destroy(a), tt_table_destroy(b), tt_table_destroy(c);
    ck_assert_uint_eq(sampled_table(1.0, 3, 0, &a), all / 3); /* every 3rd of 30 per key */
    tt_table_destroy(a);
    ck_assert_uint_eq(sampled_table(0.0, 0, 0, &a), all); /* zeroed config: every row */
    tt_table_destroy(a);
}
END_TEST

/* Layers with k <= 0 are never thresholded: no k, no curves, whatever rows arrive. Provenance
 * fields (TAC, token hash, precision) pass through to the table. */
START_TEST(test_unthresholded_layer_and_meta)
{
    int ks[3] = {K, 0, -5};
    tc_config cfg = base_cfg(ks, 3, TT_PLACE_POST, 0);
    cfg.meta.tac = 1;
    cfg.meta.score_precision = 16;
    cfg.meta.created_unix = 1234;
    tc_sha256_hex("abc", 3, cfg.meta.token_hash);
    tc_acc *acc = NULL;
    ck_assert_int_eq(tc_create(&cfg, &acc, NULL, 0), TT_SUCCESS);
    double s[MAXN];
    for (int l = 0; l < 3; l++)
        for (int h = 0; h < 2; h++) {
            make_row(s, 30, 1.0);
            ck_assert_int_eq(tc_add_row(acc, l, h, 30, s), TT_SUCCESS);
        }
    uint64_t off, smp;
    ck_assert_int_eq(tc_layer_counts(acc, 1, &off, &smp), TT_SUCCESS);
    ck_assert_uint_eq(off + smp, 0);
    tt_table *t = NULL;
    ck_assert_int_eq(tc_finish(acc, &t), TT_SUCCESS);
    for (int l = 1; l < 3; l++) {
        int k = -1, c = -1;
        ck_assert_int_eq(tt_table_get_layer_k(t, l, &k), TT_SUCCESS);
        ck_assert_int_eq(k, 0);
        ck_assert_int_eq(tt_table_get_curve(t, l, 0, &c, NULL, NULL, NULL), TT_SUCCESS);
        ck_assert_int_eq(c, 0);
    }
    tt_table_meta m;
    tt_table_get_meta(t, &m);
    ck_assert_int_eq(m.tac, 1);
    ck_assert_int_eq(m.score_precision, 16);
    ck_assert_int_eq(m.created_unix, 1234);
    ck_assert_str_eq(m.token_hash, cfg.meta.token_hash);
    ck_assert_int_eq(m.n_kv_heads, 1);
    tt_table_destroy(t);
    tc_destroy(acc);
}
END_TEST

/* tc_add_qk computes the same rows as scores written out by hand (GQA: head h reads KV h / 2). */
START_TEST(test_add_qk)
{
    enum { H = 2, G = 1, D = 4, P0 = 6, T = 10 };
    int ks[1] = {K};
    tc_config cfg = base_cfg(ks, 1, TT_PLACE_REL, 0.2f);
    tc_acc *a = NULL, *b = NULL;
    ck_assert_int_eq(tc_create(&cfg, &a, NULL, 0), TT_SUCCESS);
    ck_assert_int_eq(tc_create(&cfg, &b, NULL, 0), TT_SUCCESS);
    unsigned seed = tt_test_seed();
    float q[H * T * D], k[G * (P0 + T) * D];
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++)
        q[i] = tt_test_uniform(&seed, -2, 2);
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
        k[i] = tt_test_uniform(&seed, -2, 2);
    ck_assert_int_eq(tc_add_qk(a, 0, T, P0, q, k, 0), TT_SUCCESS);
    double s[P0 + T];
    for (int h = 0; h < H; h++)
        for (int i = 0; i < T; i++) {
            int n = P0 + i + 1;
            for (int j = 0; j < n; j++) {
                double dot = 0;
                for (int x = 0; x < D; x++)
                    dot += (double)q[(h * T + i) * D + x] * k[j * D + x];
                s[j] = dot * 0.5; /* 1/sqrt(4) */
            }
            ck_assert_int_eq(tc_add_row(b, 0, h, n, s), TT_SUCCESS);
        }
    tt_table *ta, *tb;
    ck_assert_int_eq(tc_finish(a, &ta), TT_SUCCESS);
    ck_assert_int_eq(tc_finish(b, &tb), TT_SUCCESS);
    ck_assert(same_tables(ta, tb));
    ck_assert_int_eq(tc_add_qk(a, 0, T, 60, q, k, 0), TT_ERR_BAD_SHAPE); /* beyond max_n */
    ck_assert_int_eq(tc_add_qk(a, 1, T, P0, q, k, 0), TT_ERR_TABLE_RANGE);
    ck_assert_int_eq(tc_add_qk(a, 0, T, P0, NULL, k, 0), TT_ERR_NULL_ARGUMENT);
    tt_table_destroy(ta), tt_table_destroy(tb);
    tc_destroy(a), tc_destroy(b);
}
END_TEST

START_TEST(test_errors)
{
    int ks[2] = {K, K};
    tc_config cfg = base_cfg(ks, 1, TT_PLACE_PRE, 0);
    tc_acc *acc = NULL;
    char msg[256] = "";
    ck_assert_int_eq(tc_create(NULL, &acc, msg, sizeof msg), TT_ERR_NULL_ARGUMENT);
    ck_assert_int_eq(tc_create(&cfg, NULL, msg, sizeof msg), TT_ERR_NULL_ARGUMENT);
    tc_config bad = cfg;
    bad.meta.n_kv_heads = 3;
    ck_assert_int_eq(tc_create(&bad, &acc, msg, sizeof msg), TT_ERR_BAD_SHAPE);
    ck_assert(strlen(msg) > 0);
    ck_assert_ptr_null(acc);
    bad = cfg, bad.max_n = 0;
    ck_assert_int_eq(tc_create(&bad, &acc, NULL, 0), TT_ERR_BAD_SHAPE);
    bad = cfg, bad.meta.placement = (tt_placement)7;
    ck_assert_int_eq(tc_create(&bad, &acc, NULL, 0), TT_ERR_BAD_ENUM);
    bad = cfg, bad.meta.sigma = NAN;
    ck_assert_int_eq(tc_create(&bad, &acc, NULL, 0), TT_ERR_NONFINITE);
    bad = cfg, bad.sample_p = 1.5;
    ck_assert_int_eq(tc_create(&bad, &acc, NULL, 0), TT_INVALID_VALUE);
    bad = cfg, bad.meta.score_precision = 8;
    ck_assert_int_eq(tc_create(&bad, &acc, NULL, 0), TT_INVALID_VALUE);
    int bigk[1] = {1 << 25};
    bad = cfg, bad.layer_k = bigk;
    ck_assert_int_eq(tc_create(&bad, &acc, NULL, 0), TT_ERR_BAD_K);
    ck_assert_int_eq(tc_create(&cfg, &acc, NULL, 0), TT_SUCCESS);
    double s[MAXN + 1] = {0};
    ck_assert_int_eq(tc_add_row(acc, 1, 0, 10, s), TT_ERR_TABLE_RANGE);
    ck_assert_int_eq(tc_add_row(acc, 0, 2, 10, s), TT_ERR_TABLE_RANGE);
    ck_assert_int_eq(tc_add_row(acc, 0, 0, MAXN + 1, s), TT_ERR_BAD_SHAPE);
    ck_assert_int_eq(tc_add_row(acc, 0, 0, 0, s), TT_ERR_BAD_SHAPE);
    ck_assert_int_eq(tc_add_row(acc, 0, 0, 10, NULL), TT_ERR_NULL_ARGUMENT);
    ck_assert_int_eq(tc_add_row(NULL, 0, 0, 10, s), TT_ERR_NULL_ARGUMENT);
    /* A thresholded layer whose heads got no sample cannot make a table. */
    tt_table *t = (tt_table *)1;
    ck_assert_int_eq(tc_finish(acc, &t), TT_INVALID_VALUE);
    ck_assert_ptr_null(t);
    ck_assert(strstr(tc_error(acc), "no sampled row") != NULL);
    tc_destroy(acc);
    tc_destroy(NULL);
}
END_TEST

START_TEST(test_sha256)
{
    char hex[65];
    tc_sha256_hex("", 0, hex);
    ck_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    tc_sha256_hex("abc", 3, hex);
    ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    tc_sha256_hex(m448, strlen(m448), hex);
    ck_assert_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    /* A file hashes like its bytes; a missing file is an I/O error. */
    char path[] = "/tmp/tt-calib-sha-XXXXXX";
    int fd = mkstemp(path);
    ck_assert(fd >= 0);
    FILE *f = fdopen(fd, "wb");
    fwrite(m448, 1, strlen(m448), f);
    fclose(f);
    ck_assert_int_eq(tc_sha256_file(path, hex), TT_SUCCESS);
    ck_assert_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    remove(path);
    ck_assert_int_eq(tc_sha256_file(path, hex), TT_ERR_IO);
}
END_TEST

/* ---- End to end on stories260K (needs ../shared and a device) -------------------------------- */
#define MODEL_REL "models/stories260K/stories260K.bin"

static int observer(void *user, int layer, int H, int G, int d, int T, int p0, const float *q,
                    const float *k)
{
    (void)H, (void)G, (void)d;
    return tc_add_qk(user, layer, T, p0, q, k, 0);
}

/* Calibrates post-softmax, k = 16, on the first `seqs` sequences with prefill chunks of `chunk`. */
static tt_table *calibrate(const tm_model *m, tt_context *ctx, const tm_tokens *toks, int seqs,
                           int chunk)
{
    const tm_config *c = &m->cfg;
    int ks[16];
    for (int l = 0; l < c->n_layers; l++)
        ks[l] = 16;
    tc_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.meta.placement = TT_PLACE_POST;
    cfg.meta.n_layers = c->n_layers, cfg.meta.n_heads = c->n_heads;
    cfg.meta.n_kv_heads = c->n_kv_heads, cfg.meta.head_dim = c->head_size;
    cfg.layer_k = ks;
    cfg.max_n = c->seq_len;
    cfg.dhat = 1;
    tc_acc *acc = NULL;
    ck_assert_int_eq(tc_create(&cfg, &acc, NULL, 0), TT_SUCCESS);
    tm_runner_config rc = {TM_BACKEND_DEVICE, ctx, TT_DTYPE_F32, 0, chunk, 0};
    tm_runner *r = NULL;
    ck_assert_int_eq(tm_runner_create(m, &rc, &r), TT_SUCCESS);
    ck_assert_int_eq(tm_runner_set_observer(r, observer, acc), TT_SUCCESS);
    for (int s = 0; s < seqs; s++) {
        tm_runner_reset(r);
        ck_assert_msg(tm_forward(r, toks->seq[s], toks->len[s], NULL, 0) == TT_SUCCESS, "%s",
                      tm_runner_error(r));
    }
    uint64_t off, smp;
    ck_assert_int_eq(tc_layer_counts(acc, 0, &off, &smp), TT_SUCCESS);
    ck_assert_uint_eq(smp, (uint64_t)seqs * c->n_heads * (toks->len[0] - 16));
    tt_table *t = NULL;
    ck_assert_msg(tc_finish(acc, &t) == TT_SUCCESS, "%s", tc_error(acc));
    tm_runner_destroy(r);
    tc_destroy(acc);
    return t;
}

START_TEST(test_end_to_end)
{
    char msg[512];
    tm_model *m = NULL;
    tm_tokens *cal = NULL, *ev = NULL;
    tt_context *ctx = NULL;
    ck_assert_msg(tm_model_load(tt_test_shared_file(MODEL_REL), &m, msg, sizeof msg) == 0, "%s",
                  msg);
    ck_assert(tm_tokens_load(tt_test_shared_file("data/stories260K/calib.tokens"), 512, &cal, msg,
                             sizeof msg) == TT_SUCCESS);
    ck_assert(tm_tokens_load(tt_test_shared_file("data/stories260K/eval.tokens"), 512, &ev, msg,
                             sizeof msg) == TT_SUCCESS);
    ck_assert_int_eq(tt_context_create(NULL, &ctx), TT_SUCCESS);
    tt_table *t = calibrate(m, ctx, cal, 2, 0);
    /* Chunked prefill and token-by-token decode hand the observer older K rows read back from
     * the device: layer 0 (whose inputs do not depend on attention) must be identical to one
     * whole-sequence prefill, later layers nearly so. */
    tt_table *t1 = calibrate(m, ctx, cal, 1, 0);
    for (int chunk = 1; chunk <= 100; chunk += 99) {
        tt_table *t2 = calibrate(m, ctx, cal, 1, chunk);
        for (int l = 0; l < m->cfg.n_layers; l++)
            for (int n = 17; n <= 512; n += 41) {
                float a, b;
                ck_assert_int_eq(tt_table_lookup(t1, l, 3, n, &a, NULL), TT_SUCCESS);
                ck_assert_int_eq(tt_table_lookup(t2, l, 3, n, &b, NULL), TT_SUCCESS);
                ck_assert_msg(l == 0 ? a == b : fabsf(a - b) <= 1e-4f * fabsf(a) + 1e-9f,
                              "chunk %d layer %d n %d: %g vs %g", chunk, l, n, a, b);
            }
        tt_table_destroy(t2);
    }
    tt_table_destroy(t1);
    /* The table survives the file format and drives an evaluation. */
    char path[] = "/tmp/tt-calib-e2e-XXXXXX";
    int fd = mkstemp(path);
    ck_assert(fd >= 0);
    close(fd);
    ck_assert_int_eq(tt_table_save(t, path), TT_SUCCESS);
    tt_table *loaded = NULL;
    ck_assert_int_eq(tt_table_load(path, &loaded), TT_SUCCESS);
    remove(path);
    tt_attn_params p, params[16];
    tt_attn_params_init(&p);
    p.mode = TT_MODE_THETA, p.placement = TT_PLACE_POST, p.vmc = 1, p.table = loaded;
    tm_params_per_layer(&p, params, m->cfg.n_layers);
    tm_runner_config rc = {TM_BACKEND_DEVICE, ctx, TT_DTYPE_F32, 0, 0, 1};
    tm_runner *r = NULL;
    ck_assert_int_eq(tm_runner_create(m, &rc, &r), TT_SUCCESS);
    tm_eval_config ec = {params, 0, 1, NULL, NULL};
    tm_eval_result res;
    ck_assert_msg(tm_eval(r, ev, &ec, &res, msg, sizeof msg) == TT_SUCCESS, "%s", msg);
    ck_assert_msg(res.kept_frac > 0.03 && res.kept_frac < 0.3, "kept %g", res.kept_frac);
    ck_assert_msg(res.ppl > 0.9 * exp(res.dense_nll) && res.ppl < 1.2 * exp(res.dense_nll),
                  "ppl %g vs dense %g", res.ppl, exp(res.dense_nll));
    tm_eval_result_free(&res);
    tm_runner_destroy(r);
    tt_table_destroy(loaded), tt_table_destroy(t);
    tt_context_destroy(ctx);
    tm_tokens_free(cal), tm_tokens_free(ev);
    tm_model_free(m);
}
END_TEST

#include "test-calib-budget.inc"
#include "test-calib-fit.inc"

static Suite *calib_suite(void)
{
    Suite *s = suite_create("calib");
    TCase *tc = tcase_create("synthetic");
    tcase_add_test(tc, test_known_pre);
    tcase_add_test(tc, test_known_post);
    tcase_add_test(tc, test_known_rel);
    tcase_add_test(tc, test_row_rules);
    tcase_add_test(tc, test_interpolation);
    tcase_add_test(tc, test_smoothing);
    tcase_add_test(tc, test_sampling);
    tcase_add_test(tc, test_unthresholded_layer_and_meta);
    tcase_add_test(tc, test_add_qk);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_sha256);
    suite_add_tcase(s, tc);
    TCase *bt = tcase_create("budget");
    tcase_add_test(bt, test_budget_row_sums);
    tcase_add_test(bt, test_budget_sampling);
    tcase_add_test(bt, test_budget_add_qk);
    tcase_add_test(bt, test_budget_flat_vs_peaked);
    tcase_add_test(bt, test_budget_errors);
    if (tt_test_shared_file(MODEL_REL) && find_budget_cli()) {
        tcase_set_timeout(bt, 120);
        tcase_add_test(bt, test_budget_cli);
    } else {
        printf("# calibrate --budget CLI check skipped: ../shared or the built CLI is missing\n");
    }
    suite_add_tcase(s, bt);
    TCase *ft = tcase_create("fit");
    tcase_add_test(ft, test_fit_bins_exact);
    tcase_add_test(ft, test_fit_power_law_extrapolates);
    tcase_add_test(ft, test_fit_pre_loglinear);
    tcase_add_test(ft, test_fit_clamp_and_flat);
    tcase_add_test(ft, test_fit_errors);
    if (find_budget_cli())
        tcase_add_test(ft, test_fit_cli);
    else
        printf("# table fit CLI check skipped: the built CLI is missing\n");
    suite_add_tcase(s, ft);
    if (tt_test_shared_file(MODEL_REL) && tt_test_have_device()) {
        TCase *e2e = tcase_create("stories260K");
        tcase_set_timeout(e2e, 280);
        tcase_add_test(e2e, test_end_to_end);
        suite_add_tcase(s, e2e);
    } else {
        printf("# stories260K end-to-end skipped: ../shared or an OpenCL device is missing\n");
    }
    return s;
}

int main(void) { return tt_test_run(calib_suite()); }
