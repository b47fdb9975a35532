/* support.c — see support.h. The runner uses Check's CK_ENV so meson's TAP settings apply. */
#include "support.h"
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

int tt_test_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

int tt_test_skip(const char *why)
{
    printf("1..0 # SKIP %s\n", why);
    return 0;
}

int tt_test_have_device(void)
{
    cl_platform_id p;
    cl_device_id d;
    return tt_device_select(NULL, &p, &d) == TT_SUCCESS;
}

const char *tt_test_shared_dir(void)
{
    const char *d = getenv("TT_SHARED_DIR");
    if (!d || !*d)
        d = "../shared";
    struct stat st;
    return stat(d, &st) == 0 && S_ISDIR(st.st_mode) ? d : NULL;
}

const char *tt_test_shared_file(const char *rel)
{
    static char buf[4096];
    const char *d = tt_test_shared_dir();
    if (!d)
        return NULL;
    snprintf(buf, sizeof buf, "%s/%s", d, rel);
    struct stat st;
    return stat(buf, &st) == 0 ? buf : NULL;
}

unsigned tt_test_seed(void)
{
    static unsigned seed;
    static int done;
    if (!done) {
        const char *e = getenv("TT_TEST_SEED");
        seed = e && *e ? (unsigned)strtoul(e, NULL, 0) : (unsigned)time(NULL) ^ (unsigned)clock();
        if (!seed)
            seed = 1;
        printf("# seed %u (replay with TT_TEST_SEED=%u)\n", seed, seed);
        done = 1;
    }
    return seed;
}

float tt_test_uniform(unsigned *state, float lo, float hi)
{
    unsigned x = *state ? *state : 1u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return lo + (hi - lo) * (float)((x >> 8) * (1.0 / 16777216.0));
}
