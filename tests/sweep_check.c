/* sweep_check.c — see sweep_check.h. Kept out of support.c so that only the suites that run
 * sweep cases depend on the tools' selftest sweep. */
#include "sweep_check.h"

tt_context *tt_test_ctx;

void tt_test_ctx_setup(void)
{
    ck_assert_int_eq(tt_context_create(NULL, &tt_test_ctx), TT_SUCCESS);
}

void tt_test_ctx_teardown(void)
{
    tt_context_destroy(tt_test_ctx);
    tt_test_ctx = NULL;
}

void tt_test_check_sweep_case(const tt_case *c, int i)
{
    char desc[200];
    tt_sweep_describe(c, desc, sizeof desc);
    tt_case_result r;
    tt_status st = tt_sweep_run(tt_test_ctx, c, (uint64_t)tt_test_seed() * 1000003u + (uint64_t)i, &r);
    ck_assert_msg(st == TT_SUCCESS, "case %d (%s) could not run: %s", i, desc, r.msg);
    ck_assert_msg(r.ok, "case %d (%s): %s", i, desc, r.msg);
    ck_assert_msg(r.ambiguous * 2 <= r.rows || r.rows < 4, "case %d (%s): %ld of %ld rows ambiguous",
                  i, desc, r.ambiguous, r.rows);
}

int tt_test_run_sweep_suite(const char *name, const TTest *once, const TTest *per_case, int n)
{
    Suite *s = suite_create(name);
    TCase *tc = tcase_create("cases");
    tcase_add_unchecked_fixture(tc, tt_test_ctx_setup, tt_test_ctx_teardown);
    tcase_set_timeout(tc, 1200);
    tcase_add_test(tc, once);
    tcase_add_loop_test(tc, per_case, 0, n);
    suite_add_tcase(s, tc);
    return tt_test_run(s);
}
