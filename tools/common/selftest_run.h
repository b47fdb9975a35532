/* selftest_run.h — runs the whole sweep on a context and prints the report (used by the
 * selftest and demo subcommands). */
#ifndef TT_SELFTEST_RUN_H
#define TT_SELFTEST_RUN_H

#include "toptheta.h"
#include <stdint.h>
#include <stdio.h>

typedef struct tt_selftest_opts {
    uint64_t seed;
    int level;          /* 0 short, 1 full */
    int verbose;        /* one line per case */
    int json;           /* one JSON object per case, then a summary object */
    const char *filter; /* only cases whose description contains this (NULL: all) */
} tt_selftest_opts;

/* Returns the number of failed cases (a case that cannot run counts as failed). */
int tt_selftest_run(tt_context *ctx, const tt_selftest_opts *o, FILE *out);

#endif
