/* sweep_check.h — what the suites that run selftest sweep cases share (test-kernels.c,
 * test-fa-groups.c): a context fixture and one case checked against the CPU reference. */
#ifndef TT_TEST_SWEEP_CHECK_H
#define TT_TEST_SWEEP_CHECK_H

#include "support.h"
#include "common/selftest_sweep.h"

/* The fixture's context: created by tt_test_ctx_setup, destroyed by tt_test_ctx_teardown
 * (tcase_add_unchecked_fixture). */
extern tt_context *tt_test_ctx;
void tt_test_ctx_setup(void);
void tt_test_ctx_teardown(void);

/* Runs case c, number i of its suite (fresh inputs from tt_test_seed and i, outputs poisoned),
 * on tt_test_ctx; fails the test when it cannot run, does not match the reference, or has
 * most of its rows ambiguous (such a case would check nothing). */
void tt_test_check_sweep_case(const tt_case *c, int i);

/* Runs suite `name` with the fixture: `once`, then `per_case` for _i in [0, n), 1200 s in all;
 * returns tt_test_run's exit code. */
int tt_test_run_sweep_suite(const char *name, const TTest *once, const TTest *per_case, int n);

#endif
