/* test-blocks.c — kept-block occupancy (tools/common/blocks.c, tools/bench/bench_blocks.c): exact
 * counts on hand-made tiles (keys past a row's length never count), each row rule against a brute
 * force on fresh random scores, the bench's estimate on synthetic data, and the model observer's
 * kept count against the library's own statistics on stories260K (skipped without ../shared). */
#include "support.h"
#include "bench/bench.h"
#include "common/blocks.h"
#include "model/model.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

START_TEST(tile_counts_are_exact)
{
    /* rows see 20 and 40 keys; row 0 keeps key 3, row 1 keeps key 35; everything else of the
     * buffer is poisoned with "kept" past each row's length */
    unsigned char kept[2 * 48];
    memset(kept, 1, sizeof kept);
    memset(kept, 0, 20);
    memset(kept + 48, 0, 40);
    kept[3] = 1, kept[48 + 35] = 1;
    int n[2] = {20, 40};
    tt_blk_counts c = {0};
    tt_blk_add_tile(&c, 2, n, kept, 48);
    ck_assert(c.pairs == 60 && c.kept == 2);
    ck_assert(c.keys == 40 && c.keys_kept == 2);
    ck_assert(c.blocks == 3 && c.blocks_kept == 2); /* [0,16) [16,32) [32,40) */
    ck_assert(c.tiles == 2 && c.tiles_kept == 2);   /* [0,32) [32,40) */
    ck_assert(c.compact == 2);                      /* one kept key per tile: a block each */
    /* a key kept by both rows counts once in the union */
    kept[48 + 3] = 1;
    tt_blk_counts d = {0};
    tt_blk_add_tile(&d, 2, n, kept, 48);
    ck_assert(d.kept == 3 && d.keys_kept == 2 && d.blocks_kept == 2);
    /* 17 kept keys in one 32-key tile need two packed blocks, 16 one */
    unsigned char k17[32] = {0};
    int n32 = 32;
    memset(k17, 1, 17);
    tt_blk_counts e = {0};
    tt_blk_add_tile(&e, 1, &n32, k17, 32);
    ck_assert(e.compact == 2 && e.blocks_kept == 2);
    k17[16] = 0;
    memset(&e, 0, sizeof e);
    tt_blk_add_tile(&e, 1, &n32, k17, 32);
    ck_assert(e.compact == 1 && e.blocks_kept == 1);
    k17[0] = 0, k17[20] = 1; /* 16 keys over both halves: two blocks, packed into one */
    memset(&e, 0, sizeof e);
    tt_blk_add_tile(&e, 1, &n32, k17, 32);
    ck_assert(e.keys_kept == 16 && e.compact == 1 && e.blocks_kept == 2);
    tt_blk_merge(&c, &d);
    ck_assert(c.pairs == 120 && c.kept == 5 && c.blocks == 6 && c.blocks_kept == 4);
    ck_assert(c.compact == 4);
    ck_assert_int_eq(tt_blk_tile_positions(4), 8);
    ck_assert_int_eq(tt_blk_tile_positions(3), 10);
    ck_assert_int_eq(tt_blk_tile_positions(32), 1);
    ck_assert_int_eq(tt_blk_tile_positions(64), 1);
}
END_TEST

/* A one-layer table with a flat θ for every head, at placement pl. */
static tt_table *flat_table(tt_placement pl, int heads, float theta, int k)
{
    tt_table_meta m;
    memset(&m, 0, sizeof m);
    m.placement = pl;
    m.n_layers = 1;
    m.n_heads = heads;
    m.n_kv_heads = 1;
    m.head_dim = 8;
    m.score_precision = 32;
    tt_table *t = NULL;
    ck_assert_int_eq(tt_table_create(&m, &t), TT_SUCCESS);
    ck_assert_int_eq(tt_table_set_layer_k(t, 0, k), TT_SUCCESS);
    int ns[2] = {1, 100000};
    float th[2] = {theta, theta};
    for (int h = 0; h < heads; h++)
        ck_assert_int_eq(tt_table_set_curve(t, 0, h, 2, ns, th, NULL), TT_SUCCESS);
    return t;
}

START_TEST(row_rules_match_brute_force)
{
    unsigned st = tt_test_seed() + 11;
    enum { N = 301 };
    double s[N], work[N];
    unsigned char kept[N];
    for (int j = 0; j < N; j++)
        s[j] = tt_test_uniform(&st, -4.0f, 4.0f);
    tt_attn_params p;
    tt_attn_params_init(&p);
    /* dense, and rows no longer than k, keep everything */
    memset(kept, 0, N);
    ck_assert_int_eq(tt_blk_row_kept(&p, 0, 0, N, s, kept, work), TT_SUCCESS);
    for (int j = 0; j < N; j++)
        ck_assert(kept[j]);
    p.mode = TT_MODE_TOPK;
    p.k = 17;
    ck_assert_int_eq(tt_blk_k_eff(&p), 17);
    memset(kept, 0, N);
    ck_assert_int_eq(tt_blk_row_kept(&p, 17, 0, 17, s, kept, work), TT_SUCCESS);
    for (int j = 0; j < 17; j++)
        ck_assert(kept[j]);
    /* top-k: exactly the 17 largest (random floats: no ties) */
    memset(kept, 0xAA, N);
    ck_assert_int_eq(tt_blk_row_kept(&p, 17, 0, N, s, kept, work), TT_SUCCESS);
    int count = 0;
    for (int j = 0; j < N; j++) {
        int larger = 0;
        for (int i = 0; i < N; i++)
            larger += s[i] > s[j];
        ck_assert_int_eq(kept[j], larger < 17);
        count += kept[j];
    }
    ck_assert_int_eq(count, 17);
    /* Top-θ at each placement against the formula, θ from the table (k 5: long rows cut) */
    const float thetas[3] = {1.5f, 0.01f, -2.0f}; /* pre, post, rel */
    for (int pl = TT_PLACE_PRE; pl <= TT_PLACE_REL; pl++) {
        tt_table *t = flat_table((tt_placement)pl, 2, thetas[pl], 5);
        p.mode = TT_MODE_THETA;
        p.placement = (tt_placement)pl;
        p.table = t;
        p.k = 0;
        ck_assert_int_eq(tt_blk_k_eff(&p), 5);
        ck_assert_int_eq(tt_blk_row_kept(&p, 5, 1, N, s, kept, work), TT_SUCCESS);
        double m = -INFINITY, z = 0;
        for (int j = 0; j < N; j++)
            m = fmax(m, s[j]);
        for (int j = 0; j < N; j++)
            z += exp(s[j] - m);
        int nk = 0;
        for (int j = 0; j < N; j++) {
            int want = pl == TT_PLACE_PRE    ? s[j] > thetas[pl]
                       : pl == TT_PLACE_REL ? s[j] - m > thetas[pl]
                                            : exp(s[j] - m) / z > thetas[pl];
            ck_assert_int_eq(kept[j], want);
            nk += want;
        }
        ck_assert(nk > 0 && nk < N); /* the thresholds cut something and keep something */
        /* a head outside the table is the lookup's error, not garbage */
        ck_assert_int_ne(tt_blk_row_kept(&p, 5, 7, N, s, kept, work), TT_SUCCESS);
        tt_table_destroy(t);
    }
}
END_TEST

START_TEST(bench_estimate_on_synthetic_data)
{
    tt_attn_shape s = {1, 8, 2, 32, 300, 300, TT_DTYPE_F16};
    bench_data d;
    ck_assert_int_eq(bench_data_create(NULL, &s, tt_test_seed(), 1, 1, &d), TT_SUCCESS);
    tt_attn_params p;
    tt_attn_params_init(&p);
    bench_block_fracs f = {-1, -1, -1};
    ck_assert_int_eq(bench_blocks(&d, &p, 16, &f), TT_SUCCESS);
    ck_assert(f.block == 1.0 && f.keys == 1.0 && f.packed == 1.0); /* dense: every block */
    p.mode = TT_MODE_TOPK;
    p.k = 1; /* one key per row: a tile of 32 rows keeps at most 32 of its keys */
    ck_assert_int_eq(bench_blocks(&d, &p, 16, &f), TT_SUCCESS);
    printf("# top-1: block_frac %.4f union_frac %.4f packed %.4f\n", f.block, f.keys, f.packed);
    ck_assert(f.block > 0 && f.block < 1 && f.keys > 0 && f.keys < 0.25);
    ck_assert(f.packed > 0 && f.packed <= f.block);
    bench_data_destroy(&d);
    /* decode has no tiles to count */
    tt_attn_shape ds = {1, 8, 2, 32, 1, 300, TT_DTYPE_F32};
    ck_assert_int_eq(bench_data_create(NULL, &ds, 5, 1, 1, &d), TT_SUCCESS);
    ck_assert_int_eq(bench_blocks(&d, &p, 16, &f), TT_SUCCESS);
    ck_assert(isnan(f.block) && isnan(f.keys) && isnan(f.packed));
    bench_data_destroy(&d);
}
END_TEST

/* The observer's kept count equals the library's (reference backend) over a top-k forward pass of
 * stories260K: both cut the same rows with the same rule. */
START_TEST(observer_matches_library_stats)
{
    const char *path = tt_test_shared_file("models/stories260K/stories260K.bin");
    if (!path) {
        printf("# ../shared absent: observer check skipped\n");
        return;
    }
    char msg[256];
    tm_model *m = NULL;
    ck_assert_msg(tm_model_load(path, &m, msg, sizeof msg) == TT_SUCCESS, "%s", msg);
    const int L = m->cfg.n_layers;
    tt_attn_params *params = calloc((size_t)L, sizeof *params);
    for (int l = 0; l < L; l++) {
        tt_attn_params_init(&params[l]);
        params[l].mode = TT_MODE_TOPK;
        params[l].k = 9;
        params[l].layer = l;
    }
    tm_runner_config rc = {TM_BACKEND_REFERENCE, NULL, TT_DTYPE_F32, 0, 0, 1};
    tm_runner *r = NULL;
    ck_assert_int_eq(tm_runner_create(m, &rc, &r), TT_SUCCESS);
    ck_assert_int_eq(tm_runner_set_params(r, params), TT_SUCCESS);
    tt_blk_observer *ob = tt_blk_observer_create(L, params);
    ck_assert_ptr_nonnull(ob);
    ck_assert_int_eq(tm_runner_set_observer(r, tt_blk_observe, ob), TT_SUCCESS);
    int toks[150];
    unsigned st = tt_test_seed();
    for (int i = 0; i < 150; i++)
        toks[i] = 1 + (int)tt_test_uniform(&st, 0, (float)(m->cfg.vocab_size - 2));
    ck_assert_int_eq(tm_forward(r, toks, 100, NULL, 0), TT_SUCCESS); /* prefill chunk */
    ck_assert_int_eq(tm_forward(r, toks + 100, 50, NULL, 0), TT_SUCCESS); /* second chunk */
    for (int l = 0; l < L; l++) {
        const tt_blk_counts *c = tt_blk_observer_layer(ob, l);
        const tm_layer_stats *ls = tm_runner_stats(r, l);
        ck_assert_msg(c->kept == (double)ls->kept, "layer %d: observer %.0f, library %llu", l,
                      c->kept, (unsigned long long)ls->kept);
        ck_assert(c->pairs == (double)ls->len_sum * m->cfg.n_heads);
        ck_assert(c->blocks_kept <= c->blocks && c->blocks_kept > 0);
    }
    tm_runner_set_observer(r, NULL, NULL);
    tt_blk_observer_destroy(ob);
    tm_runner_destroy(r);
    free(params);
    tm_model_free(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("blocks");
    TCase *tc = tcase_create("blocks");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, tile_counts_are_exact);
    tcase_add_test(tc, row_rules_match_brute_force);
    tcase_add_test(tc, bench_estimate_on_synthetic_data);
    tcase_add_test(tc, observer_matches_library_stats);
    suite_add_tcase(s, tc);
    return tt_test_run(s);
}
