/* attention_validate.c — argument checks shared by the device path and the CPU reference, so both
 * refuse the same inputs with the same status and message, and the effective k of a call. */
#include "internal.h"
#include <math.h>

#define TT_MAX_HEAD_DIM 256

int tt__effective_k(const tt_attn_shape *shape, const tt_attn_params *p)
{
    (void)shape;
    if (p->mode == TT_MODE_DENSE)
        return 0;
    if (p->mode == TT_MODE_TOPK || p->k > 0)
        return p->k;
    int k = 0;
    if (p->table && tt_table_get_layer_k(p->table, p->layer, &k) != TT_SUCCESS)
        return 0;
    return k;
}

tt_status tt__validate_shape_params(const tt_context *ctx, const tt_attn_shape *s,
                                    const tt_attn_params *p, int *k_eff)
{
    TT_RETURN_IF(ctx, !s || !p, TT_ERR_NULL_ARGUMENT, "attention: shape or params is NULL");
    TT_RETURN_IF(ctx, s->batch < 1 || s->n_heads < 1 || s->n_kv_heads < 1 || s->q_len < 1 ||
                          s->kv_len < 1,
                 TT_ERR_BAD_SHAPE,
                 "attention: batch %d, heads %d, kv heads %d, q_len %d, kv_len %d must all be >= 1",
                 s->batch, s->n_heads, s->n_kv_heads, s->q_len, s->kv_len);
    TT_RETURN_IF(ctx, s->head_dim < 1 || s->head_dim > TT_MAX_HEAD_DIM, TT_ERR_BAD_SHAPE,
                 "attention: head_dim %d outside 1..%d", s->head_dim, TT_MAX_HEAD_DIM);
    TT_RETURN_IF(ctx, s->n_heads % s->n_kv_heads != 0, TT_ERR_GQA_MISMATCH,
                 "attention: %d query heads are not a multiple of %d KV heads", s->n_heads,
                 s->n_kv_heads);
    TT_RETURN_IF(ctx, s->q_len > s->kv_len, TT_ERR_QLEN_EXCEEDS_KV,
                 "attention: q_len %d exceeds kv_len %d", s->q_len, s->kv_len);
    TT_RETURN_IF(ctx, (unsigned)s->kv_dtype > TT_DTYPE_F16, TT_ERR_BAD_ENUM,
                 "attention: kv_dtype %d out of range", (int)s->kv_dtype);
    TT_RETURN_IF(ctx, (unsigned)p->mode > TT_MODE_THETA, TT_ERR_BAD_ENUM,
                 "attention: mode %d out of range", (int)p->mode);
    TT_RETURN_IF(ctx, (unsigned)p->placement > TT_PLACE_REL, TT_ERR_BAD_ENUM,
                 "attention: placement %d out of range", (int)p->placement);
    TT_RETURN_IF(ctx, (unsigned)p->sdc > TT_SDC_OFFLINE, TT_ERR_BAD_ENUM,
                 "attention: sdc %d out of range", (int)p->sdc);
    TT_RETURN_IF(ctx, (unsigned)p->post_variant > TT_POST_ONEPASS, TT_ERR_BAD_ENUM,
                 "attention: post_variant %d out of range", (int)p->post_variant);
    TT_RETURN_IF(ctx, !isfinite(p->sdc_lambda) || p->sdc_lambda < 0, TT_INVALID_VALUE,
                 "attention: sdc_lambda %g must be finite and >= 0", (double)p->sdc_lambda);
    TT_RETURN_IF(ctx, !isfinite(p->scale) || p->scale < 0, TT_INVALID_VALUE,
                 "attention: scale %g must be finite and >= 0", (double)p->scale);
    if (p->mode == TT_MODE_TOPK)
        TT_RETURN_IF(ctx, p->k < 1, TT_ERR_BAD_K, "attention: top-k needs k >= 1 (got %d)", p->k);
    if (p->mode == TT_MODE_THETA) {
        TT_RETURN_IF(ctx, p->k < 0, TT_ERR_BAD_K,
                     "attention: k = %d; Top-theta takes k >= 1, or 0 for the table's k", p->k);
        TT_RETURN_IF(ctx, !p->table, TT_ERR_NO_TABLE, "attention: Top-theta mode needs a table");
        tt_table_meta m;
        tt_table_get_meta(p->table, &m);
        TT_RETURN_IF(ctx, p->layer < 0 || p->layer >= m.n_layers, TT_ERR_TABLE_RANGE,
                     "attention: layer %d outside the table's 0..%d", p->layer, m.n_layers - 1);
        TT_RETURN_IF(ctx, m.n_heads != s->n_heads, TT_ERR_TABLE_SHAPE,
                     "attention: table has %d heads, the call %d", m.n_heads, s->n_heads);
        TT_RETURN_IF(ctx, m.n_kv_heads > 0 && m.n_kv_heads != s->n_kv_heads, TT_ERR_TABLE_SHAPE,
                     "attention: table has %d KV heads, the call %d", m.n_kv_heads, s->n_kv_heads);
        TT_RETURN_IF(ctx, m.head_dim > 0 && m.head_dim != s->head_dim, TT_ERR_TABLE_SHAPE,
                     "attention: table has head_dim %d, the call %d", m.head_dim, s->head_dim);
        TT_RETURN_IF(ctx, m.placement != p->placement, TT_INVALID_VALUE,
                     "attention: table placement %d differs from the call's %d", (int)m.placement,
                     (int)p->placement);
    }
    if (p->sdc == TT_SDC_OFFLINE && p->mode != TT_MODE_DENSE) {
        TT_RETURN_IF(ctx, !p->table, TT_ERR_NO_TABLE, "attention: offline SDC needs a table with D-hat");
        TT_RETURN_IF(ctx, !tt__table_has_dhat(p->table), TT_ERR_NO_TABLE,
                     "attention: offline SDC needs D-hat curves, the table has none");
    }
    int k = tt__effective_k(s, p);
    /* Every row that will be thresholded needs a θ: check each head's curve once. */
    if (p->mode == TT_MODE_THETA && k > 0 && s->kv_len > k) {
        for (int h = 0; h < s->n_heads; h++) {
            float th;
            tt_status st = tt_table_lookup(p->table, p->layer, h, s->kv_len, &th, NULL);
            TT_RETURN_IF(ctx, st != TT_SUCCESS, st, "attention: %s", tt_last_error(NULL));
        }
    }
    if (k_eff)
        *k_eff = k;
    return TT_SUCCESS;
}
