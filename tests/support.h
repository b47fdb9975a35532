/* support.h — helpers shared by the Check suites: a TAP-printing runner with clean skips, device
 * and shared-data detection, seeded random inputs, and a context fixture. */
#ifndef TT_TEST_SUPPORT_H
#define TT_TEST_SUPPORT_H

#include "toptheta.h"
#include <check.h>

/* Runs the suite with CK_ENV settings (TAP on stdout under meson); returns the exit code. */
int tt_test_run(Suite *s);
/* Prints a TAP skip plan ("1..0 # SKIP why") and returns 0, for suites that cannot run here. */
int tt_test_skip(const char *why);
/* 1 if some OpenCL device can be selected (does not keep any OpenCL object). */
int tt_test_have_device(void);
/* Directory of the shared data ($TT_SHARED_DIR, else ../shared); NULL when absent. */
const char *tt_test_shared_dir(void);
/* Path of a file under the shared directory (static buffer), NULL when it does not exist. */
const char *tt_test_shared_file(const char *rel);
/* Seed for this run: $TT_TEST_SEED or time-based; printed as a TAP comment once. */
unsigned tt_test_seed(void);
/* Uniform float in [lo, hi) from a xorshift state. */
float tt_test_uniform(unsigned *state, float lo, float hi);

#endif
