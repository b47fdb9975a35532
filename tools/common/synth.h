/* synth.h — synthetic attention inputs shared by selftest, demo and bench: uniform random data,
 * an LLM-like workload (attention sink, local window, heavy tail), and thresholds calibrated on
 * such data to keep about k scores per row. */
#ifndef TT_SYNTH_H
#define TT_SYNTH_H

#include "toptheta.h"

typedef struct tt_rng {
    uint64_t s;
} tt_rng;

void tt_rng_seed(tt_rng *r, uint64_t seed);
uint32_t tt_rng_u32(tt_rng *r);
float tt_rng_uniform(tt_rng *r);  /* [0, 1) */
float tt_rng_normal(tt_rng *r);   /* N(0, 1) */

/* Fills head-major Q [b][h][q_len][d] and K, V [b][g][kv_len][d] (float, or fp16 bits when
 * kv_dtype is f16). llm_like = 0: N(0,1) entries; 1: a sink key at position 0 and a local window
 * that align with the queries, plus a heavy-tailed background; 2 (TT_SYNTH_CLUSTERED): 1 plus
 * what makes neighbouring queries keep the same keys in real models — a salience per key that
 * every query sees, and a RoPE-like band that favours keys near the query's position (d >= 4).
 * 0 and 1 draw the same numbers as before 2 existed. */
#define TT_SYNTH_CLUSTERED 2
void tt_synth_qkv(const tt_attn_shape *s, int llm_like, tt_rng *r, float *q, void *k, void *v);

/* A one-layer table whose θ(n) per head is the mean, over the rows of this data with n > k, of
 * the (k+1)-th largest x in the placement (so keeping x > θ keeps about k per row). Lengths
 * between sampled rows are interpolated by the table. meta's shape comes from s. */
tt_status tt_synth_table(const tt_attn_shape *s, tt_placement placement, int k, float scale,
                         const float *q, const void *kbuf, tt_table **out);

/* Score of key j for query row i of head h (double, from the host arrays). */
double tt_synth_score(const tt_attn_shape *s, const float *q, const void *kbuf, int b, int h,
                      int i, int j, float scale);

#endif
