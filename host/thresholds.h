/* thresholds.h — per-row thresholds for one attention call (thresholds.c). */
#ifndef TT_THRESHOLDS_H
#define TT_THRESHOLDS_H

#include "internal.h"

/* θ[h][i] and D̂[h][i] (zeros when unused) for the rows of the call; both arrays are malloc'ed
 * and owned by the caller, NULL on failure. */
tt_status tt__row_thresholds(tt_context *ctx, const tt_attn_shape *s, const tt_attn_params *p,
                             float **theta, float **dhat);

#endif
