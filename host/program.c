/* program.c — builds kernel programs from [common.cl, sources...] with -D options, keeps them per
 * context keyed by (sources, options), goes through the on-disk binary cache and prebuilt
 * binaries (program_cache.c) before compiling, and returns the build log in the context's
 * last-error message when a build fails. */
#include "internal.h"
#include "program_cache.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TT_MAX_SOURCES 12 /* decode, the longest list: up to 10 files after common.cl */

static tt_status build(tt_context *ctx, const char *const *names, int n_names, const char *opts,
                       cl_program *out, unsigned char cache_key[32])
{
    char *texts[TT_MAX_SOURCES + 1] = {0};
    size_t lens[TT_MAX_SOURCES + 1] = {0};
    int n = 0;
    tt_status st = tt__kernel_source(ctx, "common.cl", &texts[n], &lens[n]);
    if (st == TT_SUCCESS)
        n++;
    for (int i = 0; i < n_names && st == TT_SUCCESS; i++) {
        st = tt__kernel_source(ctx, names[i], &texts[n], &lens[n]);
        if (st == TT_SUCCESS)
            n++;
    }
    cl_program prog = NULL;
    char why[4400] = "";
    if (st == TT_SUCCESS) {
        /* A cached or prebuilt binary skips the compiler; the key covers every input of it. */
        tt__pcache_key((const char *const *)texts, lens, n, opts, ctx->info.name,
                       ctx->info.driver_version, ctx->info.platform_version, cache_key);
        prog = tt__pcache_load(ctx, cache_key, opts, why, sizeof why);
        if (prog) {
            for (int i = 0; i < n; i++)
                free(texts[i]);
            *out = prog;
            return TT_SUCCESS;
        }
        if (!tt__pcache_device_compiles(ctx))
            st = tt__fail(ctx, TT_ERR_KERNEL_SOURCE,
                          "the device has no OpenCL C compiler and no usable prebuilt binary was "
                          "found for options \"%s\" (%s); see tt_context_load_binaries",
                          opts, why[0] ? why : "no prebuilt directory set");
    }
    if (st == TT_SUCCESS) {
        cl_int err;
        prog = clCreateProgramWithSource(ctx->context, (cl_uint)n, (const char **)texts, lens,
                                         &err);
        if (err != CL_SUCCESS)
            st = tt__fail(ctx, (tt_status)err, "clCreateProgramWithSource failed: %s",
                          tt_status_name(err));
    }
    for (int i = 0; i < n; i++)
        free(texts[i]);
    if (st != TT_SUCCESS)
        return st;
    cl_int err = clBuildProgram(prog, 1, &ctx->device, opts, NULL, NULL);
    if (err != CL_SUCCESS) {
        size_t log_len = 0;
        clGetProgramBuildInfo(prog, ctx->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &log_len);
        char *log = calloc(log_len + 1, 1);
        if (log)
            clGetProgramBuildInfo(prog, ctx->device, CL_PROGRAM_BUILD_LOG, log_len, log, NULL);
        st = tt__fail(ctx, TT_BUILD_PROGRAM_FAILURE,
                      "kernel build failed (%s) with options \"%s\"; build log:\n%s",
                      tt_status_name(err), opts, log ? log : "(no log)");
        free(log);
        clReleaseProgram(prog);
        return st;
    }
    tt__pcache_store(ctx, cache_key, prog);
    *out = prog;
    return TT_SUCCESS;
}

tt_status tt__get_program(tt_context *ctx, const char *const *sources, int n_sources,
                          const char *options, cl_program *out)
{
    TT_RETURN_IF(ctx, n_sources < 1 || n_sources > TT_MAX_SOURCES, TT_ERR_INTERNAL,
                 "tt__get_program: %d sources", n_sources);
    char opts[4096];
    snprintf(opts, sizeof opts, "-cl-std=CL1.2 %s %s", options ? options : "",
             ctx->extra_options ? ctx->extra_options : "");
    char key[8192];
    size_t kl = 0;
    for (int i = 0; i < n_sources; i++)
        kl += (size_t)snprintf(key + kl, sizeof key - kl, "%s|", sources[i]);
    snprintf(key + kl, sizeof key - kl, "%s", opts);

    pthread_mutex_lock(&ctx->lock);
    for (int i = 0; i < ctx->n_programs; i++) {
        if (!strcmp(ctx->programs[i].key, key)) {
            *out = ctx->programs[i].program;
            clRetainProgram(*out);
            pthread_mutex_unlock(&ctx->lock);
            return TT_SUCCESS;
        }
    }
    pthread_mutex_unlock(&ctx->lock);

    /* Build outside the lock: builds are slow and other threads may use other programs. */
    cl_program prog = NULL;
    unsigned char cache_key[32] = {0};
    tt_status st = build(ctx, sources, n_sources, opts, &prog, cache_key);
    if (st != TT_SUCCESS)
        return st;
    char *kcopy = strdup(key);
    pthread_mutex_lock(&ctx->lock);
    for (int i = 0; i < ctx->n_programs; i++) { /* another thread may have won the race */
        if (!strcmp(ctx->programs[i].key, key)) {
            *out = ctx->programs[i].program;
            clRetainProgram(*out);
            pthread_mutex_unlock(&ctx->lock);
            clReleaseProgram(prog);
            free(kcopy);
            return TT_SUCCESS;
        }
    }
    if (!kcopy || ctx->n_programs == TT_MAX_PROGRAMS) {
        /* Cache full: evict the oldest entry. Kernels created from it keep it alive. */
        if (kcopy) {
            tt__kernel_pool_drop_locked(ctx, ctx->programs[0].program);
            clReleaseProgram(ctx->programs[0].program);
            free(ctx->programs[0].key);
            memmove(ctx->programs, ctx->programs + 1,
                    (size_t)(ctx->n_programs - 1) * sizeof ctx->programs[0]);
            ctx->n_programs--;
        } else {
            pthread_mutex_unlock(&ctx->lock);
            clReleaseProgram(prog);
            return tt__fail(ctx, TT_OUT_OF_HOST_MEMORY, "out of memory");
        }
    }
    ctx->programs[ctx->n_programs].key = kcopy;
    ctx->programs[ctx->n_programs].program = prog;
    memcpy(ctx->programs[ctx->n_programs].cache_key, cache_key, 32);
    ctx->n_programs++;
    *out = prog;
    clRetainProgram(prog); /* the caller's reference: eviction cannot pull it away */
    pthread_mutex_unlock(&ctx->lock);
    return TT_SUCCESS;
}

tt_status tt__create_kernel(tt_context *ctx, cl_program program, const char *name, cl_kernel *out)
{
    if ((*out = tt__kernel_pool_take(ctx, program, name)))
        return TT_SUCCESS;
    cl_int err;
    *out = clCreateKernel(program, name, &err);
    TT_RETURN_IF(ctx, err != CL_SUCCESS, (tt_status)err, "clCreateKernel(%s) failed: %s", name,
                 tt_status_name(err));
    return TT_SUCCESS;
}
