/* shfl.c — host side of kernels/decode/shfl.cl: decides once per context whether the device runs
 * warp shuffles written as inline PTX. Only NVIDIA devices (32-wide warps reported through
 * cl_nv_device_attribute_query) are asked, and the probe kernel must build and return the right
 * lanes; anything else (a build failure included) means no, and the caller keeps its portable
 * path. A failed build never leaves its log as the caller's last error. TT_DEC_SHFL=0: never. */
#include "internal.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TT_CL_DEVICE_WARP_SIZE_NV 0x4003 /* cl_nv_device_attribute_query */
#define PROBE_N 64

static int has_extension(cl_device_id d, const char *name)
{
    size_t len = 0;
    if (clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, 0, NULL, &len) != CL_SUCCESS || !len)
        return 0;
    char *ext = calloc(len + 1, 1);
    int found = ext && clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, len, ext, NULL) == CL_SUCCESS &&
                strstr(ext, name) != NULL;
    free(ext);
    return found;
}

int tt__nv_warp32(const tt_context *ctx)
{
    cl_uint warp = 0;
    return has_extension(ctx->device, "cl_nv_device_attribute_query") &&
           clGetDeviceInfo(ctx->device, TT_CL_DEVICE_WARP_SIZE_NV, sizeof warp, &warp, NULL) ==
               CL_SUCCESS &&
           warp == 32;
}

int tt__nv_compiler_options(const tt_context *ctx)
{
    return has_extension(ctx->device, "cl_nv_compiler_options");
}

int tt__ptx_run(tt_context *ctx, const char *source, const char *options, const char *kernel,
                float *out, size_t n_out, size_t wg)
{
    const char *srcs[] = {source};
    cl_program prog = NULL;
    char opts[256]; /* common.cl, which every program starts with, needs a head size */
    snprintf(opts, sizeof opts, "-DD=32 %s", options ? options : "");
    if (tt__get_program(ctx, srcs, 1, opts, &prog) != TT_SUCCESS)
        return 0;
    cl_int err;
    cl_kernel kern = clCreateKernel(prog, kernel, &err);
    cl_mem buf = err == CL_SUCCESS ? clCreateBuffer(ctx->context, CL_MEM_WRITE_ONLY,
                                                    n_out * sizeof(float), NULL, &err)
                                   : NULL;
    int ok = err == CL_SUCCESS && clSetKernelArg(kern, 0, sizeof buf, &buf) == CL_SUCCESS &&
             clEnqueueNDRangeKernel(ctx->queue, kern, 1, NULL, &wg, &wg, 0, NULL, NULL) ==
                 CL_SUCCESS &&
             clEnqueueReadBuffer(ctx->queue, buf, CL_TRUE, 0, n_out * sizeof(float), out, 0,
                                 NULL, NULL) == CL_SUCCESS;
    if (buf)
        clReleaseMemObject(buf);
    if (kern)
        clReleaseKernel(kern);
    clReleaseProgram(prog);
    return ok;
}

/* tt_shfl_probe must return lane t ^ 1 and t ^ 16 for every lane t. */
static int probe(tt_context *ctx)
{
    float got[2 * PROBE_N];
    int ok = tt__ptx_run(ctx, "shfl.cl", "", "tt_shfl_probe", got, 2 * PROBE_N, PROBE_N);
    for (int t = 0; ok && t < PROBE_N; t++)
        ok = got[2 * t] == (float)(t ^ 1) && got[2 * t + 1] == (float)(t ^ 16);
    return ok;
}

int tt__probe_once(tt_context *ctx, int *state, const char *off_env,
                   int (*eligible)(tt_context *), int (*run)(tt_context *))
{
    pthread_mutex_lock(&ctx->lock);
    const int known = *state;
    pthread_mutex_unlock(&ctx->lock);
    if (known)
        return known == 2;
    const char *e = getenv(off_env); /* 0: never (experiments, comparisons) */
    int ok = !(e && *e == '0') && eligible(ctx);
    if (ok) {
        char *saved = malloc(sizeof ctx->message);
        if (saved) {
            pthread_mutex_lock(&ctx->lock);
            memcpy(saved, ctx->message, sizeof ctx->message);
            pthread_mutex_unlock(&ctx->lock);
        }
        ok = run(ctx);
        if (saved) {
            pthread_mutex_lock(&ctx->lock);
            memcpy(ctx->message, saved, sizeof ctx->message);
            pthread_mutex_unlock(&ctx->lock);
            free(saved);
        }
    }
    pthread_mutex_lock(&ctx->lock);
    *state = ok ? 2 : 1;
    pthread_mutex_unlock(&ctx->lock);
    return ok;
}

static int nv_warp32(tt_context *ctx)
{
    return tt__nv_warp32(ctx);
}

int tt__warp_shuffle(tt_context *ctx)
{
    return tt__probe_once(ctx, &ctx->shfl_state, "TT_DEC_SHFL", nv_warp32, probe);
}
