/* thresholds.c — the per-row θ and D̂ a call needs, looked up once on the host for each query head
 * and row length of the call (identical for every sequence of a batch) and uploaded as small
 * arrays, so kernels never walk a table. */
#include "thresholds.h"
#include <stdlib.h>

tt_status tt__row_thresholds(tt_context *ctx, const tt_attn_shape *s, const tt_attn_params *p,
                             float **theta, float **dhat)
{
    const size_t rows = (size_t)s->n_heads * s->q_len;
    *theta = calloc(rows, sizeof **theta);
    *dhat = calloc(rows, sizeof **dhat);
    if (!*theta || !*dhat) {
        free(*theta);
        free(*dhat);
        *theta = *dhat = NULL;
        return tt__fail(ctx, TT_OUT_OF_HOST_MEMORY, "attention: out of memory");
    }
    /* top-k reads only D̂ (offline SDC) from a table, as the reference does */
    if (!p->table || p->mode == TT_MODE_DENSE ||
        (p->mode == TT_MODE_TOPK && p->sdc != TT_SDC_OFFLINE))
        return TT_SUCCESS;
    const int p0 = s->kv_len - s->q_len;
    const int want_dhat = p->sdc == TT_SDC_OFFLINE;
    for (int h = 0; h < s->n_heads; h++) {
        const size_t at = (size_t)h * s->q_len;
        tt_status st = tt__table_fill(p->table, p->layer, h, p0 + 1, s->q_len, *theta + at,
                                      want_dhat ? *dhat + at : NULL);
        if (st != TT_SUCCESS) {
            free(*theta);
            free(*dhat);
            *theta = *dhat = NULL;
            return tt__fail(ctx, st, "attention: %s", tt_last_error(NULL));
        }
    }
    return TT_SUCCESS;
}
