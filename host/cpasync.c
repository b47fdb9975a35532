/* cpasync.c — host side of kernels/decode/cpasync.cl: decides once per context whether the
 * device runs cp.async (global to local copies, inline PTX, compute capability 8.0 and later)
 * correctly (ptx_feature.c: NVIDIA devices only, probe kernel checked). TT_DEC_CPA=0 switches it
 * off; decode.c then keeps K loads in registers. */
#include "internal.h"

#define PROBE_N 512 /* floats: 2 stages of 64 float4 */

/* tt_cpa_probe: out4[64s + t] = in4[64s + (t + 1) % 64] + 1 for 64 work-items. */
int tt__cp_async_probe(tt_context *ctx, const char *options)
{
    float in[PROBE_N], got[PROBE_N];
    for (int i = 0; i < PROBE_N; i++)
        in[i] = (float)(i * 7 % 1000);
    int ok = tt__ptx_run(ctx, "cpasync.cl", options, "tt_cpa_probe", in, PROBE_N, got, PROBE_N, 64);
    for (int i = 0; ok && i < PROBE_N; i++) {
        const int q = i / 4, s = q / 64, src = (s * 64 + (q % 64 + 1) % 64) * 4 + i % 4;
        ok = got[i] == in[src] + 1.0f;
    }
    return ok;
}

static int probe(tt_context *ctx)
{
    return tt__cp_async_probe(ctx, "");
}

int tt__cp_async(tt_context *ctx)
{
    return tt__ptx_feature(ctx, &ctx->cpa_state, "TT_DEC_CPA", probe);
}
