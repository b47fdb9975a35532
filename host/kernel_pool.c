/* kernel_pool.c — kernel objects reused across attention calls. Each call used to create its
 * kernels (clCreateKernel) and release them again; drivers spend from microseconds to, by some
 * reports, milliseconds there, and decode makes one call per layer and token. A kernel taken from
 * the pool belongs to one caller until it is put back (clSetKernelArg on a shared kernel is not
 * thread-safe), and OpenCL captures arguments at enqueue, so it can go back right after. */
#include "internal.h"

#include <string.h>

cl_kernel tt__kernel_pool_take(tt_context *ctx, cl_program program, const char *name)
{
    cl_kernel k = NULL;
    pthread_mutex_lock(&ctx->lock);
    for (int i = ctx->n_kernel_pool - 1; i >= 0; i--) {
        tt__pooled_kernel *e = &ctx->kernel_pool[i];
        if (e->program == program && !strcmp(e->name, name)) {
            k = e->kernel;
            *e = ctx->kernel_pool[--ctx->n_kernel_pool];
            break;
        }
    }
    pthread_mutex_unlock(&ctx->lock);
    return k;
}

void tt__put_kernel(tt_context *ctx, cl_program program, const char *name, cl_kernel kernel)
{
    if (!kernel)
        return;
    int kept = 0;
    if (strlen(name) < sizeof ctx->kernel_pool[0].name) {
        pthread_mutex_lock(&ctx->lock);
        /* Only kernels of programs still cached: an evicted program's kernels would never be
         * asked for again and would hold the program alive. */
        int cached = 0;
        for (int i = 0; i < ctx->n_programs && !cached; i++)
            cached = ctx->programs[i].program == program;
        if (cached && ctx->n_kernel_pool < TT_KERNEL_POOL) {
            tt__pooled_kernel *e = &ctx->kernel_pool[ctx->n_kernel_pool++];
            e->program = program;
            strcpy(e->name, name);
            e->kernel = kernel;
            kept = 1;
        }
        pthread_mutex_unlock(&ctx->lock);
    }
    if (!kept)
        clReleaseKernel(kernel);
}

void tt__kernel_pool_drop_locked(tt_context *ctx, cl_program program)
{
    int n = 0;
    for (int i = 0; i < ctx->n_kernel_pool; i++) {
        if (!program || ctx->kernel_pool[i].program == program)
            clReleaseKernel(ctx->kernel_pool[i].kernel);
        else
            ctx->kernel_pool[n++] = ctx->kernel_pool[i];
    }
    ctx->n_kernel_pool = n;
}
