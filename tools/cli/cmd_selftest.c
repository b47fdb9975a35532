/* cmd_selftest.c — `toptheta selftest`: the device against the CPU reference over the full sweep
 * (tools/common/selftest_cases.c) on fresh random inputs; prints a table per variant and
 * operation, failures in full, and last `selftest: N passed, M failed`. */
#include "commands.h"
#include "common/selftest_sweep.h"
#include "common/selftest_run.h"
#include <stdlib.h>
#include <time.h>

int cmd_selftest(int argc, char **argv)
{
    static const char *const known[] = {"json",    "device", "seed", "short",
                                        "verbose", "filter", "big",  NULL};
    if (!cli_check_options(argc, argv, known, "selftest"))
        return 2;
    tt_context *ctx = cli_context(argc, argv);
    if (!ctx)
        return 1;
    uint64_t seed = (uint64_t)cli_opt_long(argc, argv, "seed", 0);
    if (!seed)
        seed = (uint64_t)time(NULL) ^ ((uint64_t)clock() << 20);
    tt_selftest_opts o = {seed, cli_flag(argc, argv, "big") ? 2 : cli_flag(argc, argv, "short") ? 0 : 1,
                          cli_flag(argc, argv, "verbose"), cli_flag(argc, argv, "json"),
                          cli_opt(argc, argv, "filter")};
    int failed = tt_selftest_run(ctx, &o, stdout);
    tt_context_destroy(ctx);
    return failed ? 1 : 0;
}
