/* test-fa-groups.c — prefill in the FlashAttention-2 form (prefill_fa.cl) for GQA groups that do
 * not divide 16 (5, 7, 12: a warp's 16 rows partly unused, the statistics' unions through local
 * memory), with the tensor cores emulated (TT_PF_MMA_LOCAL=1 TT_PF_FA=1, as CI's selftest lines)
 * against the CPU reference: dense, pre-softmax θ and an exact two-pass cut, each form of
 * PF_FA_CUT once. The selftest sweep covers group 3; the short level (valgrind) skips this. */
#include "support.h"
#include "common/selftest_sweep.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CASES 1024
static tt_case sweep[MAX_CASES], cases[16];
static int n_cases;
static tt_context *ctx;
static const int groups[] = {5, 7, 12};
static const char *const variants[] = {"dense", "theta-pre", "theta-rel-exact"};

static void setup(void)
{
    ck_assert_int_eq(tt_context_create(NULL, &ctx), TT_SUCCESS);
}

static void teardown(void)
{
    tt_context_destroy(ctx);
    ctx = NULL;
}

START_TEST(test_group_matches_reference)
{
    char desc[200];
    tt_sweep_describe(&cases[_i], desc, sizeof desc);
    tt_case_result r;
    tt_status st = tt_sweep_run(ctx, &cases[_i], (uint64_t)tt_test_seed() * 1000003u + (uint64_t)_i, &r);
    ck_assert_msg(st == TT_SUCCESS, "case %d (%s) could not run: %s", _i, desc, r.msg);
    ck_assert_msg(r.ok, "case %d (%s): %s", _i, desc, r.msg);
    ck_assert_msg(r.rows > 0, "case %d (%s) checked no rows", _i, desc);
}
END_TEST

START_TEST(test_every_group_and_variant)
{
    ck_assert_int_eq(n_cases, (int)(sizeof groups / sizeof groups[0] * sizeof variants / sizeof variants[0]));
}
END_TEST

/* The selftest's first fp16 prefill case (q_len > 1) at head size 64 of each variant, with the
 * group replaced: the lengths come from the sweep's odd sizes. */
static int make_cases(void)
{
    int n_sweep = tt_sweep_cases(sweep, MAX_CASES, 1), n = 0;
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++)
        for (int i = 0; i < n_sweep; i++) {
            const tt_case *c = &sweep[i];
            if (c->shape.q_len < 2 || c->shape.kv_dtype != TT_DTYPE_F16 ||
                c->shape.head_dim != 64 ||
                strcmp(tt_sweep_variant_name(c->variant), variants[v]) != 0)
                continue;
            for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++) {
                cases[n] = *c;
                cases[n].shape.n_heads = groups[g] * c->shape.n_kv_heads;
                n++;
            }
            break;
        }
    return n;
}

int main(void)
{
    if (tt_test_small())
        return tt_test_skip("emulated tensor-core builds are too slow for the short level");
    /* Before any call: the host reads these at each prefill launch. */
    setenv("TT_PF_ROWS", "0", 1);
    setenv("TT_PF_MMA_LOCAL", "1", 1);
    setenv("TT_PF_FA", "1", 1);
    if (!tt_test_have_device())
        return tt_test_skip("no OpenCL device");
    n_cases = make_cases();
    Suite *s = suite_create("fa-groups");
    TCase *tc = tcase_create("groups");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 1200);
    tcase_add_test(tc, test_every_group_and_variant);
    tcase_add_loop_test(tc, test_group_matches_reference, 0, n_cases);
    suite_add_tcase(s, tc);
    return tt_test_run(s);
}
