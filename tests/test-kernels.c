/* test-kernels.c — every device kernel against the CPU reference over the full selftest matrix
 * (modes × variants × decode/prefill × GQA 1/2/4/8 × head size 8/64/128 × lengths 1, k, k+1, odd
 * and > 4096 × fp32/fp16 KV × head-/token-major), one Check test per case, fresh random inputs
 * every run (seed printed; TT_TEST_SEED replays), outputs poisoned before each launch.
 * TT_TEST_LEVEL=small (valgrind, sanitizers) runs the short sweep of `toptheta demo` instead. */
#include "sweep_check.h"
#include <stdlib.h>

#define MAX_CASES 1024
static tt_case cases[MAX_CASES];
static int n_cases;

START_TEST(test_case_matches_reference)
{
    tt_test_check_sweep_case(&cases[_i], _i);
}
END_TEST

START_TEST(test_sweep_covers_the_matrix)
{
    int seen_dim[3] = {0}, seen_gqa[9] = {0}, f16 = 0, prefill = 0, long_rows = 0, tm = 0;
    for (int i = 0; i < n_cases; i++) {
        const tt_attn_shape *s = &cases[i].shape;
        seen_dim[s->head_dim == 8 ? 0 : s->head_dim == 64 ? 1 : 2]++;
        seen_gqa[s->n_heads / s->n_kv_heads]++;
        f16 += s->kv_dtype == TT_DTYPE_F16;
        prefill += s->q_len > 1;
        long_rows += s->kv_len > 4096;
        tm += cases[i].token_major;
    }
    if (tt_test_small()) { /* the short sweep covers fewer dimensions on purpose */
        ck_assert_int_gt(n_cases, 0);
        return;
    }
    ck_assert_int_ge(n_cases, 300);
    for (int x = 0; x < 3; x++)
        ck_assert_int_gt(seen_dim[x], 0);
    ck_assert(seen_gqa[1] && seen_gqa[2] && seen_gqa[4] && seen_gqa[8]);
    ck_assert(f16 && prefill && long_rows && tm);
}
END_TEST

int main(void)
{
    if (!tt_test_have_device())
        return tt_test_skip("no OpenCL device");
    n_cases = tt_sweep_cases(cases, MAX_CASES, tt_test_small() ? 0 : 1);
    return tt_test_run_sweep_suite("kernels", test_sweep_covers_the_matrix, test_case_matches_reference, n_cases);
}
