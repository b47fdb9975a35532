/* test-routing.c — when the kernel a device would normally run for a call cannot take it, the call
 * goes to another path with the same semantics instead of a different result: one-pass
 * post-softmax prefill on a device whose local memory cannot hold the tiled kernel (head size 256
 * on the H200's 48 KiB) runs on the row kernel, since the generic path only knows the exact cut. */
#include "support.h"
#include "internal.h"
#include <stdlib.h>
#include <string.h>

#define H 2
#define D 16

/* A post-softmax table with θ = th at every row length of both heads (k = 1: rows past one key
 * are cut). */
static tt_table *post_table(int kv, float th)
{
    tt_table_meta m = {.placement = TT_PLACE_POST, .n_layers = 1, .n_heads = H, .n_kv_heads = 1,
                       .head_dim = D};
    tt_table *t = NULL;
    ck_assert_int_eq(tt_table_create(&m, &t), TT_SUCCESS);
    ck_assert_int_eq(tt_table_set_layer_k(t, 0, 1), TT_SUCCESS);
    const int ns[2] = {1, kv + 1};
    const float ths[2] = {th, th};
    for (int h = 0; h < H; h++)
        ck_assert_int_eq(tt_table_set_curve(t, 0, h, 2, ns, ths, NULL), TT_SUCCESS);
    return t;
}

START_TEST(onepass_without_tiled_local_memory)
{
    unsigned rng = tt_test_seed() * 2654435761u + 77u;
    const int kv = 150, ql = 120;
    const tt_attn_shape sh = {1, H, 1, D, ql, kv, TT_DTYPE_F32};
    float *q = malloc(sizeof(float) * H * ql * D), *k = malloc(sizeof(float) * kv * D);
    float *v = malloc(sizeof(float) * kv * D), *o = malloc(sizeof(float) * H * ql * D);
    const size_t nst = tt_stats_size(&sh) / 4;
    uint32_t *exact = calloc(nst, 4), *one = calloc(nst, 4), *dev = calloc(nst, 4);
    ck_assert(q && k && v && o && exact && one && dev);
    for (int i = 0; i < H * ql * D; i++)
        q[i] = tt_test_uniform(&rng, -1.5f, 1.5f);
    for (int i = 0; i < kv * D; i++)
        k[i] = tt_test_uniform(&rng, -1.5f, 1.5f), v[i] = tt_test_uniform(&rng, -1, 1);
    tt_table *t = post_table(kv, 0.01f);
    tt_attn_params p;
    tt_attn_params_init(&p);
    p.mode = TT_MODE_THETA, p.placement = TT_PLACE_POST, p.table = t;
    ck_assert_int_eq(tt_reference_attention(&sh, &p, q, k, v, o, exact), TT_SUCCESS);
    p.post_variant = TT_POST_ONEPASS;
    ck_assert_int_eq(tt_reference_attention(&sh, &p, q, k, v, o, one), TT_SUCCESS);

    tt_context *ctx = NULL;
    ck_assert_int_eq(tt_context_create(NULL, &ctx), TT_SUCCESS);
    /* the tiled kernel asked for (as on a GPU) with 4 KiB of local memory: it cannot fit */
    setenv("TT_PF_ROWS", "0", 1);
    tt__context_limit_local_mem(ctx, 4096);
    tt_status st = tt_attention_host(ctx, &sh, &p, q, k, v, o, NULL, dev);
    unsetenv("TT_PF_ROWS");
    ck_assert_msg(st == TT_SUCCESS, "%s: %s", tt_status_name(st), tt_last_error(ctx));
    long s_exact = 0, s_one = 0, s_dev = 0;
    for (int r = 0; r < H * ql; r++) {
        const long diff = (long)dev[r] - (long)one[r];
        ck_assert_msg(labs(diff) <= 1, "row %d: device kept %u, one-pass reference %u, exact %u", r,
                      dev[r], one[r], exact[r]);
        s_exact += exact[r], s_one += one[r], s_dev += dev[r];
    }
    /* the case tells the variants apart, and the device ran the one-pass one */
    ck_assert_msg(s_one - s_exact >= 8, "one-pass keeps only %ld more than exact", s_one - s_exact);
    ck_assert_msg(s_dev - s_exact > (s_one - s_exact) / 2, "device kept %ld, one-pass %ld, exact %ld",
                  s_dev, s_one, s_exact);
    tt_context_destroy(ctx);
    tt_table_destroy(t);
    free(q), free(k), free(v), free(o), free(exact), free(one), free(dev);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("routing");
    TCase *tc = tcase_create("routing");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, onepass_without_tiled_local_memory);
    suite_add_tcase(s, tc);
    return tt_test_run(s);
}
