/* mma.c — host side of kernels/decode/mma.cl: decides once per context whether the device runs
 * fp16 tensor-core multiply-adds written as inline PTX (mma.sync, compute capability 8.0 and
 * later) with the fragment layouts mma.cl assumes: the probe multiplies two small integer
 * matrices whose product is exact and every element is checked. TT_DEC_MMA=0: never. */
#include "internal.h"

/* tt_mma_probe's matrices, the same formulas as in mma.cl. */
static int probe(tt_context *ctx)
{
    float got[128];
    int ok = tt__ptx_run(ctx, "mma.cl", "", "tt_mma_probe", got, 128, 32);
    for (int m = 0; ok && m < 16; m++)
        for (int n = 0; ok && n < 8; n++) {
            float want = 0.0f;
            for (int k = 0; k < 16; k++)
                want += (float)((m + 2 * k) % 7 - 3) * (float)((3 * k + n) % 5 - 2);
            ok = got[16 * n + m] == want;
        }
    return ok;
}

int tt__tensor_mma(tt_context *ctx)
{
    return tt__ptx_feature(ctx, &ctx->mma_state, "TT_DEC_MMA", probe);
}
