/* selftest_sweep.h — the device-vs-reference sweep used by `toptheta selftest`, `toptheta demo`
 * and the kernel test suite: case generation over modes × variants × decode/prefill × GQA × head
 * size × lengths × KV type × layout, and one checked run per case. */
#ifndef TT_SELFTEST_SWEEP_H
#define TT_SELFTEST_SWEEP_H

#include "toptheta.h"

typedef struct tt_case {
    tt_attn_shape shape;
    tt_attn_params params; /* params.table is made per run for Top-θ and offline SDC */
    int variant;           /* index into the variant names */
    int token_major;       /* device tensors token-major at an offset, else head-major */
    int use_vsum;          /* pass a running V sum (VMC) */
    int llm_like;          /* tt_synth_qkv's llm_like: 0 N(0,1), 1 LLM-like, 2 clustered */
    int k;                 /* k the table is calibrated for (Top-θ, offline SDC) */
} tt_case;

typedef struct tt_case_result {
    int ok;
    double max_err;     /* max |dev - ref| / (atol + rtol |ref|) over checked outputs (<= 1 passes) */
    long rows, ambiguous, kept, elements;
    char msg[256];
} tt_case_result;

/* Number of variants and the name of one ("theta-pre-exact+vmc", ...). */
int tt_sweep_n_variants(void);
const char *tt_sweep_variant_name(int variant);

/* Fills up to cap cases; level 0 = short (demo), 1 = full selftest, 2 = a few large cases for
 * GPUs (n up to 131072). Returns the count. */
int tt_sweep_cases(tt_case *cases, int cap, int level);

/* Runs one case on fresh data from seed: reference vs device with poisoned outputs. Returns
 * TT_SUCCESS when the case could be run (r->ok tells whether it matched), else the library's
 * status (r->msg holds the message). */
tt_status tt_sweep_run(tt_context *ctx, const tt_case *c, uint64_t seed, tt_case_result *r);

/* One-line description of a case. */
void tt_sweep_describe(const tt_case *c, char *buf, size_t cap);

#endif
