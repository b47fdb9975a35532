/* reference.c — placeholder until the CPU reference lands. */
#include "internal.h"
tt_status tt_reference_attention(const tt_attn_shape *shape, const tt_attn_params *params,
                                 const float *q, const void *k, const void *v, float *o,
                                 uint32_t *stats)
{
    (void)shape; (void)params; (void)q; (void)k; (void)v; (void)o; (void)stats;
    return tt__fail(NULL, TT_ERR_UNSUPPORTED, "reference not built yet");
}
