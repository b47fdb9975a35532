/* support.h — helpers shared by the Check suites: a TAP-printing runner with clean skips, device
 * and shared-data detection, seeded random inputs, and a context fixture. */
#ifndef TT_TEST_SUPPORT_H
#define TT_TEST_SUPPORT_H

#include "toptheta.h"
#include <check.h>

/* Runs the suite with CK_ENV settings (TAP on stdout under meson); returns the exit code. Then
 * unloads the OpenCL compiler (tt_test_teardown_cl) so leak checkers see a clean exit. */
int tt_test_run(Suite *s);
/* clUnloadPlatformCompiler on the default device's platform: PoCL keeps LLVM state alive until
 * then, which valgrind and LeakSanitizer would report. Call after every OpenCL object is gone. */
void tt_test_teardown_cl(void);
/* 1 when TT_TEST_LEVEL=small (valgrind and sanitizer runs): heavy suites shrink their sizes. */
int tt_test_small(void);
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

/* Fills n elements of K with U(-2, 2) and of V with U(-1, 1), fp32 or fp16 bits by dt, in the
 * order K[0], V[0], K[1], ... from the state. */
void tt_test_fill_kv(void *k, void *v, size_t n, tt_dtype dt, unsigned *state);
/* An out-of-order queue on ctx's device, or NULL (with a TAP comment) when it has none. */
cl_command_queue tt_test_out_of_order_queue(tt_context *ctx);

/* ---- Files (fault and bad-input suites) ---- */
/* Creates a fresh directory /tmp/<prefix>-XXXXXX into buf (cap >= 64); fails the test if it
 * cannot. */
void tt_test_mkdtemp(char *buf, size_t cap, const char *prefix);
/* Removes dir and the files directly inside it (the suites create no subdirectories). */
void tt_test_rmdir(const char *dir);
/* Whole file into a malloc'ed buffer (NULL if it cannot be read); *size gets its length. */
unsigned char *tt_test_read_file(const char *path, size_t *size);
/* Writes size bytes to path (replacing it); fails the test if it cannot. */
void tt_test_write_file(const char *path, const void *data, size_t size);
/* Number of entries of dir (dot files included, "." and ".." not) whose name contains needle
 * (NULL: every entry). */
int tt_test_count_files(const char *dir, const char *needle);

#endif
