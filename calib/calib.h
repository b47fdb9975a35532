/* calib.h — threshold calibration (design §1 "Thresholds"): an accumulator that consumes attention
 * score rows one at a time and turns them into a tt_table (θ = mean + σ·std per (layer, head, n),
 * plus D̂ for offline SDC), and the SHA-256 used to record which token file a table came from.
 * Prefix tc_. Not part of the public library API; linked into the tools and the tests. */
#ifndef TT_CALIB_H
#define TT_CALIB_H

#include "toptheta.h"
#include <stddef.h>
#include <stdint.h>

/* ---- Accumulator (calib.c) ------------------------------------------------------------------- */
typedef struct tc_config {
    /* Shape, placement, σ and provenance of the table to produce. meta.samples is computed;
     * meta.score_precision 0 means 32; meta.created_unix 0 means "now" at tc_finish. */
    tt_table_meta meta;
    const int *layer_k; /* [meta.n_layers], copied; k_l <= 0: layer never thresholded */
    int max_n;          /* longest row length tc_add_row accepts, >= 1 */
    /* Row sampling, applied independently to every (layer, head, n) key in the order its rows
     * arrive: a row is kept when it is the 1st, (r+1)-th, (2r+1)-th, ... of its key
     * (sample_every = r; 0 or 1: every row) AND a counter-based RNG draw from (seed, layer,
     * head, n, occurrence) falls below sample_p (0 or 1: always, so a zeroed config takes every
     * row). Keyed draws make the choice independent of how rows of different keys interleave,
     * so the same seed gives the same table. */
    double sample_p;
    int sample_every;
    uint64_t seed;
    /* Smoothing along n: centred moving average over `smooth` neighbouring sampled lengths
     * (0 or 1: off; an even window is widened by one). Near the ends the window shrinks
     * symmetrically, so the first and last samples keep their values. */
    int smooth;
    int dhat; /* also store D̂ curves (offline SDC) */
} tc_config;

typedef struct tc_acc tc_acc;

/* Validates cfg and allocates the per-(layer, head, n) statistics. Errors: TT_ERR_NULL_ARGUMENT,
 * TT_ERR_BAD_SHAPE (shape, max_n), TT_ERR_BAD_ENUM (placement), TT_ERR_NONFINITE (sigma),
 * TT_ERR_BAD_K (k_l beyond 2^24), TT_INVALID_VALUE (sampling, smoothing, precision),
 * TT_ERR_TOO_LARGE, TT_OUT_OF_HOST_MEMORY. msg (may be NULL) gets a one-line reason. */
tt_status tc_create(const tc_config *cfg, tc_acc **out, char *msg, size_t msg_size);
void tc_destroy(tc_acc *acc);
/* Message of the accumulator's last failure; never NULL. */
const char *tc_error(const tc_acc *acc);

/* One score row s[0..n) of (layer, head) with row length n (1 <= n <= max_n). Rows with
 * n <= k_l and rows of a layer with k_l <= 0 are ignored; rows not picked by sampling are only
 * counted as offered. For the others,
 * in double: x = s (pre), s - m (max-relative) or exp(s - m)/Z (post), m and Z over the finite
 * scores; the row threshold is the (k_l+1)-th largest x, so keeping x > θ keeps exactly k_l on
 * this row, and the dropped exp-sum is D = Σ exp(s_j - m) over x_j <= θ_row, exactly what exact
 * SDC counts as missing with θ = θ_row. Non-finite scores are ignored; a row with fewer than
 * k_l + 1 finite scores is skipped. Not thread-safe (one scratch per accumulator). */
tt_status tc_add_row(tc_acc *acc, int layer, int head, int n, const double *scores);
tt_status tc_add_row_f(tc_acc *acc, int layer, int head, int n, const float *scores);

/* Every score row of one attention call of `layer`: q is [n_heads][T][head_dim] (post-RoPE),
 * k is [n_kv_heads][p0 + T][head_dim]; row i of head h has n = p0 + i + 1 and scores
 * s_j = scale · (q · k_j), accumulated in double like the CPU reference (scale 0 = 1/sqrt(d)).
 * Query head h reads KV head h / (n_heads / n_kv_heads). */
tt_status tc_add_qk(tc_acc *acc, int layer, int T, int p0, const float *q, const float *k,
                    double scale);

/* Rows offered with n > k_l and rows sampled, summed over the heads of a layer. */
tt_status tc_layer_counts(const tc_acc *acc, int layer, uint64_t *offered, uint64_t *sampled);

/* Builds the table: k per thresholded layer; per (layer, head) one sample per sampled length n
 * with θ = mean + σ·std (population) and, if cfg.dhat, D̂ = mean D; then the smoothing. Lengths
 * between samples are filled by the table's linear interpolation and lengths beyond the longest
 * calibrated one by its "hold last value" (docs/TABLE_FORMAT.md), so nothing else is stored.
 * meta.samples = the largest number of sampled rows of any (layer, head). A thresholded layer
 * with a head that got no sample is TT_INVALID_VALUE (its rows with n > k would have no θ).
 * The accumulator is unchanged and may keep accumulating. */
tt_status tc_finish(tc_acc *acc, tt_table **out);

/* Shared by calib.c and budget.c: formats a message into msg (if non-NULL) and returns st. */
tt_status tc__fail_msg(char *msg, size_t size, tt_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* ---- SHA-256 digests (sha256.c, on the library's host/sha256.c) ---------------------------- */
/* Lower-case hex digest of a buffer / of a file's bytes (TT_ERR_IO when it cannot be read). */
void tc_sha256_hex(const void *data, size_t len, char hex[65]);
tt_status tc_sha256_file(const char *path, char hex[65]);

#endif
