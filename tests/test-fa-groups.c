/* test-fa-groups.c — prefill in the FlashAttention-2 form (prefill_fa.cl) for GQA groups that do
 * not divide 16 (5, 7, 12: a warp's 16 rows partly unused, the statistics' unions through local
 * memory), with the tensor cores emulated (TT_PF_MMA_LOCAL=1 TT_PF_FA=1, as CI's selftest lines)
 * against the CPU reference: dense, pre-softmax θ, an exact two-pass cut and top-k's last pass,
 * each form of PF_FA_CUT once. The selftest sweep covers group 3; the short level (valgrind)
 * skips this. */
#include "sweep_check.h"
#include <stdlib.h>
#include <string.h>

#define MAX_CASES 1024
static tt_case sweep[MAX_CASES], cases[16];
static int n_cases;
static const int groups[] = {5, 7, 12};
static const char *const variants[] = {"dense", "theta-pre", "theta-rel-exact", "topk"};

START_TEST(test_group_matches_reference)
{
    tt_test_check_sweep_case(&cases[_i], _i);
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
    return tt_test_run_sweep_suite("fa-groups", test_every_group_and_variant, test_group_matches_reference, n_cases);
}
