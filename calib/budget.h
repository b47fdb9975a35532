/* budget.h — per-layer k for a global kept budget: an accumulator that samples attention rows like
 * the threshold accumulator (calib.h) and records, for every candidate k, the softmax mass top-k
 * would drop and the elements it would keep; tc_budget_choose then spends a kept-fraction budget
 * on the layers where more k removes the most dropped mass. Prefix tc_budget_; tools and tests. */
#ifndef TT_CALIB_BUDGET_H
#define TT_CALIB_BUDGET_H

#include "toptheta.h"
#include <stddef.h>
#include <stdint.h>

/* The candidate list used when the caller has no preference (TC_BUDGET_DEFAULT_COUNT entries). */
#define TC_BUDGET_DEFAULT_COUNT 11
extern const int tc_budget_default_k[TC_BUDGET_DEFAULT_COUNT];

typedef struct tc_budget_config {
    int n_layers, n_heads, n_kv_heads, head_dim;
    int max_n;        /* longest row length accepted, >= 1 */
    const int *cands; /* candidate k, strictly increasing, each in 1..2^24; copied */
    int n_cands;      /* >= 1 */
    /* Each row of a (layer, head, n) key is sampled with probability sample_p (in (0, 1]), drawn
     * from a counter-based hash of (seed, layer, head, n, occurrence) as calib.h's rows are, so
     * the choice does not depend on how rows of different keys interleave. Unlike calib.h, rows
     * of every length are sampled: short rows (n <= k) count towards the kept fraction. */
    double sample_p;
    uint64_t seed;
} tc_budget_config;

typedef struct tc_budget_acc tc_budget_acc;

/* Validates cfg (TT_ERR_NULL_ARGUMENT, TT_ERR_BAD_SHAPE, TT_ERR_BAD_K for a candidate out of
 * range, TT_INVALID_VALUE for an empty or unsorted list or a bad probability, TT_ERR_TOO_LARGE,
 * TT_OUT_OF_HOST_MEMORY); msg (may be NULL) gets a one-line reason. */
tt_status tc_budget_create(const tc_budget_config *cfg, tc_budget_acc **out, char *msg,
                           size_t msg_size);
void tc_budget_destroy(tc_budget_acc *acc);
/* Message of the accumulator's last failure; never NULL. */
const char *tc_budget_error(const tc_budget_acc *acc);

/* One score row s[0..n) of (layer, head). If sampled, the softmax probabilities (double, over the
 * finite scores) are sorted and every candidate k adds, to the layer's sums, the dropped mass
 * Σ of all but the largest min(k, n) probabilities (0 when n <= k), the kept count min(k, n) and
 * the row length n. Not thread-safe (one scratch per accumulator). */
tt_status tc_budget_add_row(tc_budget_acc *acc, int layer, int head, int n, const double *scores);

/* Every row of one attention call, with tc_add_qk's layout and scores: q [n_heads][T][head_dim],
 * k [n_kv_heads][p0 + T][head_dim], row i of head h has n = p0 + i + 1, s_j = scale · q·k_j
 * (scale 0 = 1/sqrt(d)), query head h reads KV head h / (n_heads / n_kv_heads). Unsampled rows
 * are not computed. */
tt_status tc_budget_add_qk(tc_budget_acc *acc, int layer, int T, int p0, const float *q,
                           const float *k, double scale);

/* Over the sampled rows of `layer` with candidate k (which must be in the list, else
 * TT_INVALID_VALUE): kept fraction Σ min(k, n) / Σ n, mean dropped mass per row, rows sampled.
 * Any output pointer may be NULL. */
tt_status tc_budget_layer_stats(const tc_budget_acc *acc, int layer, int k, double *kept_frac,
                                double *dropped, uint64_t *rows);

typedef struct tc_budget_result {
    double kept_frac; /* mean over layers of the chosen k's kept fractions (<= budget) */
    double dropped;   /* Σ over layers of the mean dropped mass per row: the objective */
    int uniform_k;    /* the largest candidate whose use in every layer fits the budget */
    double uniform_kept_frac, uniform_dropped; /* the same two numbers for uniform_k */
} tc_budget_result;

/* Chooses layer_k_out[n_layers]: every layer starts at the smallest candidate, then the upgrade
 * (a layer to any larger candidate) with the largest ratio of dropped-mass decrease to kept-
 * fraction increase is taken while the mean kept fraction stays <= budget; looking at every larger
 * candidate, not only the next, lets a layer jump over a flat stretch of a non-convex curve.
 * result may be NULL. Errors: budget outside (0, 1] or below what the smallest candidate keeps
 * (TT_INVALID_VALUE), a layer with no sampled row (TT_INVALID_VALUE, the message names it). */
tt_status tc_budget_choose(tc_budget_acc *acc, double budget, int *layer_k_out,
                           tc_budget_result *result);

#endif
