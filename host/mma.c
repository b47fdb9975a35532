/* mma.c — host side of kernels/decode/mma.cl: decides once per context whether the device runs
 * the tensor-core multiply-add written as inline PTX. Only NVIDIA devices with 32-wide warps and
 * compute capability 8 or later are asked, and the probe kernel must return the exact product;
 * anything else (a build failure included) means no, and decode keeps its other K paths. Like
 * shfl.c, a failed probe never leaves its log as the caller's last error. TT_DEC_MMA=0: never. */
#include "internal.h"

#define TT_CL_DEVICE_CC_MAJOR_NV 0x4000 /* cl_nv_device_attribute_query */

/* tt_mma_probe: lane l's result i is (A·B + 1)[l / 4 + 8 (i / 2)][2 (l % 4) + i % 2]. */
static int probe(tt_context *ctx)
{
    float got[128];
    if (!tt__ptx_run(ctx, "mma.cl", "", "tt_mma_probe", got, 128, 32))
        return 0;
    for (int l = 0; l < 32; l++)
        for (int i = 0; i < 4; i++) {
            const int m = l / 4 + 8 * (i / 2), n = 2 * (l % 4) + i % 2;
            float want = 1.0f;
            for (int k = 0; k < 16; k++)
                want += (float)((3 * m + 5 * k) % 7 - 3) * (float)((2 * k + 7 * n) % 5 - 2);
            if (got[4 * l + i] != want)
                return 0;
        }
    return 1;
}

/* 32-wide warps and compute capability 8 or later (mma.m16n8k16 needs sm_80). */
static int eligible(tt_context *ctx)
{
    cl_uint major = 0;
    return tt__nv_warp32(ctx) &&
           clGetDeviceInfo(ctx->device, TT_CL_DEVICE_CC_MAJOR_NV, sizeof major, &major, NULL) ==
               CL_SUCCESS &&
           major >= 8;
}

int tt__tensor_mma(tt_context *ctx)
{
    return tt__probe_once(ctx, &ctx->mma_state, "TT_DEC_MMA", eligible, probe);
}
