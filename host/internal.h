/* internal.h — private declarations shared by the files of host/: the context structure, error
 * reporting helpers (TT_RETURN_IF / TT_CHECK_CL), program building and the table internals.
 * Nothing here is part of the public API; internal non-static names use the tt__ prefix. */
#ifndef TT_INTERNAL_H
#define TT_INTERNAL_H

#include "toptheta.h"
#include <pthread.h>
#include <stdarg.h>

#define TT_MAX_PROGRAMS 64
#define TT_MAX_KERNELS_PER_PROGRAM 8
#define TT_KERNEL_POOL 64 /* idle kernel objects kept for reuse (kernel_pool.c) */

/* Records msg (printf-style) as the last error of ctx (if any) and of this thread; returns st. */
tt_status tt__fail(const tt_context *ctx, tt_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
void tt__clear_error(const tt_context *ctx);

#define TT_RETURN_IF(ctx, cond, st, ...)                                                           \
    do {                                                                                           \
        if (cond)                                                                                  \
            return tt__fail((ctx), (st), __VA_ARGS__);                                             \
    } while (0)

/* Runs an OpenCL call; on failure returns its code with a message naming the call. */
#define TT_CHECK_CL(ctx, expr)                                                                     \
    do {                                                                                           \
        cl_int tt_err_ = (expr);                                                                   \
        if (tt_err_ != CL_SUCCESS)                                                                 \
            return tt__fail((ctx), (tt_status)tt_err_, "%s failed: %s (%d)", #expr,               \
                            tt_status_name(tt_err_), (int)tt_err_);                                \
    } while (0)

/* A pool of reusable scratch buffers for one command queue (scratch.c). */
#define TT_SCRATCH_SLOTS 19 /* buffers one call may take: decode 0-11, prefill 12-18 */
#define TT_SCRATCH_QUEUES 4 /* queues per context with a pool; more fall back to per-call buffers */

typedef struct tt__scratch {
    cl_command_queue queue; /* retained while pooled; NULL: the slot is free */
    int busy;               /* a call on another host thread holds the buffers right now */
    cl_mem mem[TT_SCRATCH_SLOTS];
    size_t cap[TT_SCRATCH_SLOTS];
} tt__scratch;

/* An idle kernel object of a cached program, kept for the next call (kernel_pool.c). */
typedef struct tt__pooled_kernel {
    cl_program program;
    char name[48];
    cl_kernel kernel;
} tt__pooled_kernel;

/* One compiled program: a kernel source set built with one option string. */
typedef struct tt__program {
    char *key; /* source names + options */
    cl_program program;
    unsigned char cache_key[32]; /* on-disk cache key (program_cache.c), for export */
} tt__program;

struct tt_context {
    cl_context context;
    cl_device_id device;
    cl_command_queue queue; /* library's own (profiling, in order) */
    tt_device_info info;
    char *extra_options;
    pthread_mutex_t lock; /* guards programs[] and message */
    tt__program programs[TT_MAX_PROGRAMS];
    int n_programs;
    tt__pooled_kernel kernel_pool[TT_KERNEL_POOL]; /* guarded by lock */
    int n_kernel_pool;
    char message[16384]; /* last error, build logs included */
    int cache_off;            /* tt_context_set_cache(ctx, 0): no on-disk program cache */
    char binaries_dir[4096];  /* tt_context_load_binaries: read-only prebuilt entries, "" = none */
    int tune_state;           /* tune_db.c: 0 not looked up yet, 1 looked up, 2 forced */
    int tune_wg, tune_chunk;  /* the context's launch parameters; guarded by lock */
    size_t max_param_size;    /* CL_DEVICE_MAX_PARAMETER_SIZE */
    int nv_options;           /* cl_nv_compiler_options: -cl-nv-maxrregcount is understood */
    int shfl_state;           /* shfl.c: 0 not probed, 1 no warp shuffles, 2 PTX shuffles work */
    int mma_state;            /* mma.c: likewise for the PTX tensor-core multiply-add */
    tt__scratch scratch[TT_SCRATCH_QUEUES]; /* scratch.c; slots claimed under lock */
};

/* Embedded kernel source by file name ("common.cl"), or read from $TT_KERNEL_DIR/<sub path>. The
 * returned buffer is malloc'ed and NUL-terminated. */
tt_status tt__kernel_source(const tt_context *ctx, const char *name, char **text, size_t *len);

/* Builds (or returns the cached) program made of common.cl followed by the named sources, with
 * options appended to the context's own. The program is returned retained: the caller
 * releases it (the context keeps its own reference for later calls). */
tt_status tt__get_program(tt_context *ctx, const char *const *sources, int n_sources,
                          const char *options, cl_program *out);

/* 1 when the device runs warp shuffles written as inline PTX (kernels/decode/shfl.cl), decided
 * once per context by a probe kernel (shfl.c). */
int tt__warp_shuffle(tt_context *ctx);

/* 1 when the device runs mma.m16n8k16 written as inline PTX (kernels/decode/mma.cl), decided
 * once per context by a probe kernel (mma.c). */
int tt__tensor_mma(tt_context *ctx);

/* shfl.c: the once-per-context answer of a PTX probe kept in *state (0 unknown, 1 no, 2 yes,
 * guarded by ctx->lock): no when $off_env is "0" or eligible says no, else run's answer; the
 * probe's build errors never replace the caller's last error. */
int tt__probe_once(tt_context *ctx, int *state, const char *off_env,
                   int (*eligible)(tt_context *), int (*run)(tt_context *));

/* 1 when the device reports 32-wide warps through cl_nv_device_attribute_query (shfl.c). */
int tt__nv_warp32(const tt_context *ctx);

/* 1 when the device takes NVIDIA's build options such as -cl-nv-maxrregcount
 * (cl_nv_compiler_options; shfl.c). */
int tt__nv_compiler_options(const tt_context *ctx);

/* shfl.c's probe runner, also for tests: builds source alone (after common.cl, with a head size
 * and options), runs kernel(out) on one work-group of wg items and reads n_out floats back; 1
 * when all of that succeeded (the caller checks the values). */
int tt__ptx_run(tt_context *ctx, const char *source, const char *options, const char *kernel,
                float *out, size_t n_out, size_t wg);

/* A kernel of a cached program for the caller's exclusive use: an idle one from the context's
 * pool (kernel_pool.c) or a new one. The caller gives it back with tt__put_kernel once its last
 * enqueue returned (arguments are captured at enqueue), or releases it itself. */
tt_status tt__create_kernel(tt_context *ctx, cl_program program, const char *name,
                            cl_kernel *out);
cl_kernel tt__kernel_pool_take(tt_context *ctx, cl_program program, const char *name);
/* Keeps kernel (of program, named name) for reuse while program is cached and the pool has
 * room, else releases it. NULL kernels are ignored. */
void tt__put_kernel(tt_context *ctx, cl_program program, const char *name, cl_kernel kernel);
/* Releases the pooled kernels of program (NULL: all of them); the caller holds ctx->lock. */
void tt__kernel_pool_drop_locked(tt_context *ctx, cl_program program);

/* Table internals used by the attention dispatch and the file code. */
int tt__table_n_layers(const tt_table *t);
int tt__table_n_heads(const tt_table *t);
int tt__table_has_dhat(const tt_table *t);
/* θ (and D̂ when dhat != NULL) of (layer, head) at the row lengths n0, n0 + 1, ..., n0 + count − 1,
 * the values tt_table_lookup gives, by one walk along the curve (a prefill chunk needs one per
 * row: 8K rows × 32 heads took ~5 ms of host time by separate lookups). n0 >= 1. Returns
 * TT_ERR_TABLE_RANGE like the lookup (the message recorded). */
tt_status tt__table_fill(const tt_table *t, int layer, int head, int n0, int count, float *theta,
                         float *dhat);

/* Validation shared by the device and reference paths (attention_validate.c). */
tt_status tt__validate_shape_params(const tt_context *ctx, const tt_attn_shape *shape,
                                    const tt_attn_params *params, int *k_eff);

/* Test hook (context.c): pretend the device has only this much local memory. */
void tt__context_limit_local_mem(tt_context *ctx, cl_ulong bytes);
/* Test hook (context.c): pretend the kernel parameter space is only this large. */
void tt__context_limit_param_size(tt_context *ctx, size_t bytes);

/* Effective k of a call: 0 when every row is dense. */
int tt__effective_k(const tt_attn_shape *shape, const tt_attn_params *params);

#endif
