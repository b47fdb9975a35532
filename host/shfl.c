/* shfl.c — host side of kernels/decode/shfl.cl: decides once per context whether the device runs
 * warp shuffles written as inline PTX (ptx_feature.c: NVIDIA devices only, probe kernel checked);
 * anything else means no, and the caller keeps its portable path. TT_DEC_SHFL=0 switches it off. */
#include "internal.h"

#define PROBE_N 64

/* tt_shfl_probe must return lane t ^ 1 and t ^ 16 for every lane t. */
static int probe(tt_context *ctx)
{
    float got[2 * PROBE_N];
    int ok = tt__ptx_run(ctx, "shfl.cl", "", "tt_shfl_probe", NULL, 0, got, 2 * PROBE_N, PROBE_N);
    for (int t = 0; ok && t < PROBE_N; t++)
        ok = got[2 * t] == (float)(t ^ 1) && got[2 * t + 1] == (float)(t ^ 16);
    return ok;
}

int tt__warp_shuffle(tt_context *ctx)
{
    return tt__ptx_feature(ctx, &ctx->shfl_state, "TT_DEC_SHFL", probe);
}
