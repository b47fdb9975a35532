/* fit.h — a compact θ(n) curve per (layer, head) fitted to a calibrated table (issue 6, 7b):
 * knots at a fixed number per octave of n, each the mean of the calibrated samples in its bin,
 * then a power-law (post) or log-linear (pre, max-relative) tail fitted on the last octaves and
 * used to extend the curve beyond the calibrated length. Prefix tc_fit_; tools and tests. */
#ifndef TT_CALIB_FIT_H
#define TT_CALIB_FIT_H

#include "toptheta.h"
#include <stddef.h>

typedef struct tc_fit_config {
    int per_octave;      /* knots per doubling of n, 1..64; 0 means 4 */
    int to_n;            /* extend each curve up to this length (0: no extension; the table's
                          * "hold last value" then applies beyond the calibrated length) */
    double tail_octaves; /* the tail slope is fitted on samples within this many octaves of the
                          * longest calibrated length, 0.25..16; 0 means 2 */
    double max_slope;    /* |slope| limit of the tail (post: exponent of n; pre / rel: θ per
                          * e-fold of n, in score units); 0 means 1 */
} tc_fit_config;

typedef struct tc_fit_summary {
    int curves;          /* curves fitted (thresholded (layer, head) pairs with samples) */
    long samples_in;     /* samples read, over all curves */
    long knots_out;      /* knots written, over all curves (extension included) */
    double slope_min, slope_median, slope_max; /* tail slopes of θ, after the clamp */
    int clamped;         /* curves whose tail slope hit max_slope */
    int flat;            /* curves with too few tail samples for a slope (tail held flat) */
} tc_fit_summary;

/* Builds *out from in: same meta and per-layer k; every curve replaced by its knots (θ and, when
 * present, D̂), extended to cfg->to_n when that is beyond the curve's last knot. A knot is the
 * arithmetic mean of θ (and D̂) and of n over the samples of its bin, so a flat stretch keeps the
 * calibration's mean exactly. Tail: slope of ln θ (post) or θ (pre, rel) against ln n by least
 * squares over the tail samples, clamped to ±max_slope, flat when fewer than 8 samples or less
 * than a 1.25× span of n; D̂ gets its own log-log slope the same way (clamped to ±2). cfg may be
 * NULL (all defaults); summary may be NULL. Errors: TT_ERR_NULL_ARGUMENT, TT_INVALID_VALUE (cfg
 * out of range, to_n beyond 2^24), TT_OUT_OF_HOST_MEMORY; msg (may be NULL) gets a reason. */
tt_status tc_fit_table(const tt_table *in, const tc_fit_config *cfg, tt_table **out,
                       tc_fit_summary *summary, char *msg, size_t msg_size);

#endif
