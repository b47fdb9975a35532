/* toptheta.h — public C API of libtoptheta: Top-θ (calibrated-threshold sparse) attention on any
 * OpenCL 1.2+ device, a CPU reference of the same semantics, and threshold tables.
 * Every function returns a tt_status; on failure a message is available from tt_last_error().
 * The library never prints. Thread-safety is documented at the end of this file. */
#ifndef TOPTHETA_H
#define TOPTHETA_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define TT_API __declspec(dllexport)
#elif defined(__GNUC__)
#define TT_API __attribute__((visibility("default")))
#else
#define TT_API
#endif

#define TT_VERSION_MAJOR 0
#define TT_VERSION_MINOR 1
#define TT_VERSION_PATCH 0
#define TT_VERSION_NUMBER (TT_VERSION_MAJOR * 10000 + TT_VERSION_MINOR * 100 + TT_VERSION_PATCH)

/* Runtime version (TT_VERSION_NUMBER of the library actually linked). */
TT_API int tt_version(void);
TT_API const char *tt_version_string(void);

/* ---- Status codes ------------------------------------------------------------------------------
 * Values are pinned. Where OpenCL is the cause, the OpenCL number is reused (other OpenCL codes may
 * also be returned as they are); the library's own errors sit in the band -2000 .. -2099. */
#define TT_STATUS_MAP(X)                                                                           \
    X(TT_SUCCESS, 0, "success")                                                                    \
    X(TT_DEVICE_NOT_FOUND, -1, "no OpenCL device matches the selector")                           \
    X(TT_OUT_OF_RESOURCES, -5, "OpenCL device out of resources")                                  \
    X(TT_OUT_OF_HOST_MEMORY, -6, "out of host memory")                                            \
    X(TT_BUILD_PROGRAM_FAILURE, -11, "kernel build failed (see tt_last_error for the build log)")  \
    X(TT_INVALID_VALUE, -30, "invalid value")                                                     \
    X(TT_INVALID_DEVICE, -33, "invalid OpenCL device")                                            \
    X(TT_INVALID_CONTEXT, -34, "invalid OpenCL context")                                          \
    X(TT_INVALID_COMMAND_QUEUE, -36, "invalid OpenCL command queue")                              \
    X(TT_INVALID_MEM_OBJECT, -38, "invalid OpenCL memory object")                                 \
    X(TT_INVALID_WORK_GROUP_SIZE, -54, "work-group size beyond the device's limit")               \
    X(TT_INVALID_EVENT_WAIT_LIST, -57, "invalid event wait list")                                 \
    X(TT_ERR_NULL_ARGUMENT, -2001, "a required argument is NULL")                                 \
    X(TT_ERR_BAD_SHAPE, -2002, "invalid or inconsistent shape")                                   \
    X(TT_ERR_BAD_STRIDE, -2003, "invalid or overlapping strides")                                 \
    X(TT_ERR_BUFFER_TOO_SMALL, -2004, "a buffer is smaller than the shape needs")                 \
    X(TT_ERR_BAD_K, -2005, "k out of range")                                                      \
    X(TT_ERR_GQA_MISMATCH, -2006, "query heads are not a multiple of KV heads")                   \
    X(TT_ERR_QLEN_EXCEEDS_KV, -2007, "more query rows than keys")                                 \
    X(TT_ERR_LOCAL_MEMORY, -2008, "the device's local memory cannot hold this launch")            \
    X(TT_ERR_UNSUPPORTED, -2009, "the device lacks a feature this call needs")                    \
    X(TT_ERR_NO_TABLE, -2010, "Top-theta mode needs a threshold table")                           \
    X(TT_ERR_TABLE_RANGE, -2011, "layer, head or row length outside the threshold table")         \
    X(TT_ERR_TABLE_SHAPE, -2012, "threshold table was made for another model shape")              \
    X(TT_ERR_BAD_ENUM, -2013, "mode, placement, compensation or dtype out of range")              \
    X(TT_ERR_NONFINITE, -2014, "NaN or Inf where a finite value is required")                     \
    X(TT_ERR_IO, -2020, "file could not be read or written")                                      \
    X(TT_ERR_FORMAT, -2021, "malformed file")                                                     \
    X(TT_ERR_TRUNCATED, -2022, "truncated file")                                                  \
    X(TT_ERR_VERSION, -2023, "unknown file format version")                                       \
    X(TT_ERR_TOO_LARGE, -2024, "file or field larger than allowed")                               \
    X(TT_ERR_KERNEL_SOURCE, -2030, "kernel source not found")                                     \
    X(TT_ERR_INTERNAL, -2099, "internal error")

typedef enum tt_status {
#define TT_STATUS_ENUM_(name, value, text) name = value,
    TT_STATUS_MAP(TT_STATUS_ENUM_)
#undef TT_STATUS_ENUM_
    TT_STATUS_PIN_ = -2100 /* keeps the enum a signed int; never returned */
} tt_status;

/* Human-readable description and symbolic name of any status (OpenCL codes included). */
TT_API const char *tt_status_str(int status);
TT_API const char *tt_status_name(int status);

/* ---- Enumerations ---------------------------------------------------------------------------- */
typedef enum tt_mode { TT_MODE_DENSE = 0, TT_MODE_TOPK = 1, TT_MODE_THETA = 2 } tt_mode;

/* Where the threshold applies: x = s, x = softmax(s), or x = s - max(s). */
typedef enum tt_placement { TT_PLACE_PRE = 0, TT_PLACE_POST = 1, TT_PLACE_REL = 2 } tt_placement;

/* Softmax-denominator compensation for the logit-domain placements (design §1). */
typedef enum tt_sdc {
    TT_SDC_NONE = 0,
    TT_SDC_EXACT = 1,
    TT_SDC_EXP_THRESHOLD = 2,
    TT_SDC_OFFLINE = 3
} tt_sdc;

/* Storage type of K and V (Q, O and all arithmetic are fp32). fp16 is IEEE binary16, read with
 * vload_half, so devices without cl_khr_fp16 support it. */
typedef enum tt_dtype { TT_DTYPE_F32 = 0, TT_DTYPE_F16 = 1 } tt_dtype;

/* Post-softmax prefill: exact (a second Q·Kᵀ pass against the final (m, Z)) or one-pass. */
typedef enum tt_post_variant { TT_POST_EXACT = 0, TT_POST_ONEPASS = 1 } tt_post_variant;

/* ---- Errors without a context ---------------------------------------------------------------- */
/* Message of the last failing call made by this thread (with ctx == NULL), or of the last failing
 * call on ctx. Never NULL; empty when nothing failed. */
typedef struct tt_context tt_context;
TT_API const char *tt_last_error(const tt_context *ctx);

/* ---- Devices ----------------------------------------------------------------------------------- */
typedef struct tt_device_info {
    char name[256];
    char vendor[128];
    char version[128];        /* CL_DEVICE_VERSION */
    char driver_version[128]; /* CL_DRIVER_VERSION */
    char platform_name[128];
    char platform_version[128];
    cl_device_type type;
    int opencl_c_major, opencl_c_minor; /* CL_DEVICE_OPENCL_C_VERSION */
    cl_uint compute_units;
    size_t max_work_group_size;
    cl_ulong local_mem_size;
    int local_mem_is_dedicated; /* CL_LOCAL vs CL_GLOBAL local memory */
    cl_ulong global_mem_size;
    cl_ulong max_mem_alloc_size;
    int has_fp16;      /* cl_khr_fp16 */
    int has_fp64;      /* cl_khr_fp64 */
    int has_subgroups; /* cl_khr_subgroups or cl_intel_subgroups */
    int platform_index, device_index;
} tt_device_info;

/* Describes one device. platform_index / device_index are filled by tt_device_list only. */
TT_API tt_status tt_device_probe(cl_device_id device, tt_device_info *info);

/* Lists every device of every platform (at most cap entries; *count gets the total). */
TT_API tt_status tt_device_list(tt_device_info *infos, size_t cap, size_t *count);

/* Resolves a selector: "P:D" (platform:device indices), "cpu" / "gpu" / "accelerator", or a
 * case-insensitive substring of the device or platform name. NULL or "" means $TOPTHETA_DEVICE,
 * and if that is unset too, the first GPU, else the first device. */
TT_API tt_status tt_device_select(const char *selector, cl_platform_id *platform,
                                  cl_device_id *device);

/* ---- Context ------------------------------------------------------------------------------------ */
/* Creates a context on the device a selector names (see tt_device_select), with its own OpenCL
 * context and an in-order profiling queue for the host convenience calls. */
TT_API tt_status tt_context_create(const char *selector, tt_context **out);

/* Adopts a caller's OpenCL context and device (both retained; released by tt_context_destroy). */
TT_API tt_status tt_context_create_from_cl(cl_context context, cl_device_id device,
                                           tt_context **out);

/* Accepts NULL. Releases every OpenCL object the context owns. */
TT_API void tt_context_destroy(tt_context *ctx);

TT_API tt_status tt_context_device_info(const tt_context *ctx, tt_device_info *info);

/* The context's OpenCL objects (borrowed; do not release). queue is the library's own queue. */
TT_API tt_status tt_context_cl(const tt_context *ctx, cl_context *context, cl_device_id *device,
                               cl_command_queue *queue);

/* Extra options appended to every program build (e.g. "-cl-fast-relaxed-math"); NULL clears.
 * Programs already built are dropped so the next call rebuilds with the new options. */
TT_API tt_status tt_context_set_build_options(tt_context *ctx, const char *options);

/* On-disk program binary cache, on by default: built programs are kept in $TOPTHETA_CACHE_DIR,
 * else $XDG_CACHE_HOME/toptheta, else ~/.cache/toptheta, under a SHA-256 of their sources, build
 * options, device name, driver and platform versions. Damaged or foreign entries are never loaded:
 * the program is rebuilt and the entry rewritten; a cache that cannot be written never fails a
 * call. TOPTHETA_CACHE=0 turns it off for the process; this call turns it off (0) or back on for
 * one context. */
TT_API tt_status tt_context_set_cache(tt_context *ctx, int enabled);

/* Prebuilt binaries for ahead-of-time targets (FPGA boards and other devices without a compiler):
 * programs built after this call are first looked up in dir, read-only, in the cache's entry
 * format. Where the device has no compiler (CL_DEVICE_COMPILER_AVAILABLE false), a program with
 * no usable entry fails with TT_ERR_KERNEL_SOURCE instead of being compiled. NULL or "" clears.
 * Like tt_context_set_build_options, it must not run concurrently with other use of ctx. */
TT_API tt_status tt_context_load_binaries(tt_context *ctx, const char *dir);

/* Writes every program the context has built so far into dir (created if missing) as entries
 * for tt_context_load_binaries, e.g. after one run on a machine with the same device, driver and
 * platform. *count (may be NULL) gets the number written. */
TT_API tt_status tt_context_export_binaries(tt_context *ctx, const char *dir, int *count);

/* ---- Threshold tables (in memory) -------------------------------------------------------------
 * Per (layer, query head) a curve of θ over row length n, given at increasing sample lengths, with
 * an optional D̂ curve (offline SDC). Lookup: exact at a sample, linear interpolation between
 * samples, the first sample's value below it, and the last sample's value beyond the longest
 * calibrated length ("hold last value"). Rows with n <= k[layer] are dense and need no θ. */
typedef struct tt_table tt_table;

typedef struct tt_table_meta {
    tt_placement placement;
    float sigma;          /* θ = mean + sigma · std */
    int score_precision;  /* 32: fp32 scores; 16: scores from fp16 K/V */
    int n_layers, n_heads, n_kv_heads, head_dim;
    char model_name[64];  /* model identity, free text */
    uint64_t model_hash;  /* 0 if unknown */
    char device_name[128]; /* device the table was calibrated for; "" = generic */
    uint64_t samples;      /* calibration rows seen */
    char token_hash[65];   /* hex sha256 of the calibration token file, "" if unknown */
    int64_t created_unix;  /* calibration date */
    int tac;               /* top-k at calibration */
} tt_table_meta;

TT_API tt_status tt_table_create(const tt_table_meta *meta, tt_table **out);
TT_API void tt_table_destroy(tt_table *table);
TT_API tt_status tt_table_get_meta(const tt_table *table, tt_table_meta *meta);

/* k for a layer (k >= 1). Unset layers have k = 0, meaning the layer is never thresholded. */
TT_API tt_status tt_table_set_layer_k(tt_table *table, int layer, int k);
TT_API tt_status tt_table_get_layer_k(const tt_table *table, int layer, int *k);

/* Replaces the curve of (layer, head). ns strictly increasing and >= 1; values finite; dhat may be
 * NULL (no offline-SDC curve). Copies the arrays. */
TT_API tt_status tt_table_set_curve(tt_table *table, int layer, int head, int count,
                                    const int *ns, const float *theta, const float *dhat);

/* Number of samples of a curve and a copy of them (arrays may be NULL to query the count). */
TT_API tt_status tt_table_get_curve(const tt_table *table, int layer, int head, int *count,
                                    int *ns, float *theta, float *dhat);

/* θ (and D̂ if dhat != NULL) at row length n. TT_ERR_TABLE_RANGE for a layer/head outside the
 * table or a curve with no samples; dhat gets NAN when the table has no D̂ curve. */
TT_API tt_status tt_table_lookup(const tt_table *table, int layer, int head, int n, float *theta,
                                 float *dhat);

/* Files: format v1 (docs/TABLE_FORMAT.md). Loading is strict; saving is atomic (temp + rename). */
TT_API tt_status tt_table_load(const char *path, tt_table **out);
TT_API tt_status tt_table_load_memory(const void *data, size_t size, tt_table **out);
TT_API tt_status tt_table_save(const tt_table *table, const char *path);

/* Per-device choice among the *.ttt tables in dir that fit want's model shape and placement:
 * exact device-name match > same score precision > generic (device_name ""). Writes the chosen
 * path and a one-line reason; ties go to the newer table, then more samples. dev may be NULL (no
 * exact match possible); a damaged candidate is passed over. TT_ERR_NO_TABLE when nothing fits. */
TT_API tt_status tt_table_select(const char *dir, const tt_device_info *dev,
                                 const tt_table_meta *want, char *path_out, size_t cap,
                                 char *reason, size_t reason_cap);

/* Imports the reference code's text files: lines "L<layer>_H<head>:<n> <value> <samples> [<k>]".
 * th_path holds θ; sdc_path (may be NULL) holds D̂ at the same keys. A line's optional k sets that
 * layer's k; layers without one get default_k. meta gives the shape and placement. */
TT_API tt_status tt_table_import_ref(const char *th_path, const char *sdc_path,
                                     const tt_table_meta *meta, int default_k, tt_table **out);

/* ---- Attention ---------------------------------------------------------------------------------
 * One call computes attention for q_len query rows per head against kv_len keys, causally: query
 * row i (0-based) is at absolute position p0 + i with p0 = kv_len - q_len, so its row length is
 * n = p0 + i + 1. Prefill is q_len > 1 (a chunk of rows); decode is q_len == 1. */
typedef struct tt_attn_shape {
    int batch;      /* independent sequences, >= 1 */
    int n_heads;    /* query heads */
    int n_kv_heads; /* KV heads; n_heads % n_kv_heads == 0 (GQA) */
    int head_dim;   /* d, 1 .. 256 */
    int q_len;      /* query rows in this call, 1 .. kv_len */
    int kv_len;     /* keys in the cache after this chunk was appended */
    tt_dtype kv_dtype;
} tt_attn_shape;

typedef struct tt_attn_params {
    tt_mode mode;
    tt_placement placement; /* Top-θ only; must match the table's placement */
    tt_sdc sdc;             /* pre / max-relative placements and top-k */
    float sdc_lambda;       /* scales D_miss; default 1 */
    int vmc;                /* V-mean compensation */
    int k;                  /* top-k: k >= 1. Top-θ: 0 = table's k for the layer, else override */
    int layer;              /* table layer */
    const tt_table *table;  /* Top-θ thresholds (not owned) */
    float scale;            /* score scale; 0 = 1/sqrt(head_dim) */
    tt_post_variant post_variant;
} tt_attn_params;

/* Defaults: dense, pre, SDC none, λ = 1, no VMC, k = 0, layer 0, no table, scale 0, exact post. */
TT_API void tt_attn_params_init(tt_attn_params *params);

/* A caller-owned buffer viewed as [batch][heads][rows][head_dim] with explicit strides (elements
 * of the tensor's type). The head_dim axis is contiguous. Head-major and token-major layouts are
 * both expressible: token-major has stride_head = head_dim, stride_row = heads · head_dim. */
typedef struct tt_tensor {
    cl_mem buf;
    size_t offset;       /* elements */
    size_t stride_batch; /* elements between sequences */
    size_t stride_head;  /* elements between heads */
    size_t stride_row;   /* elements between rows (tokens) */
} tt_tensor;

/* Dense head-major strides for a [batch][heads][rows][head_dim] tensor. */
TT_API tt_tensor tt_tensor_head_major(cl_mem buf, int heads, int rows, int head_dim);

/* Size in bytes of the statistics buffer: cl_uint kept[batch][n_heads][q_len] (kept elements per
 * query row) followed by cl_uint vrows[batch][n_kv_heads][q_len] (union of kept V rows per KV head
 * and row). Dense rows count every element as kept. */
TT_API size_t tt_stats_size(const tt_attn_shape *shape);

/* Enqueues attention on the caller's queue. Q and O are fp32 [batch][n_heads][q_len][d]; K and V
 * are kv_dtype [batch][n_kv_heads][kv_len][d]. vsum (optional, VMC only) is a caller-owned
 * float [batch][n_kv_heads][head_dim] running sum of V rows: on entry it must hold Σ_{j<p0} v_j,
 * and the call advances it to Σ_{j<kv_len} v_j, so decode pays O(d) per step for VMC. Without it
 * the library sums the first p0 rows itself. stats (optional) receives tt_stats_size() bytes.
 * The last three arguments behave as in clEnqueueNDRangeKernel; *event (if given) completes when
 * O, vsum and stats are written.
 * NaN/Inf policy: non-finite scores are never kept and never dropped-counted; a row whose scores
 * are all non-finite, or whose Q holds a NaN, yields NaN outputs for that row and head only. */
TT_API tt_status tt_attention_enqueue(tt_context *ctx, cl_command_queue queue,
                                      const tt_attn_shape *shape, const tt_attn_params *params,
                                      const tt_tensor *q, const tt_tensor *k, const tt_tensor *v,
                                      const tt_tensor *o, cl_mem vsum, cl_mem stats,
                                      cl_uint num_wait, const cl_event *wait_list,
                                      cl_event *event);

/* Host-pointer convenience on the context's own queue (blocking). Dense head-major layouts as
 * above; k and v point to float or uint16_t (fp16 bits) per kv_dtype. vsum may be NULL (in/out as
 * above); stats may be NULL (same layout as the stats buffer). */
TT_API tt_status tt_attention_host(tt_context *ctx, const tt_attn_shape *shape,
                                   const tt_attn_params *params, const float *q, const void *k,
                                   const void *v, float *o, float *vsum, uint32_t *stats);

/* ---- CPU reference ----------------------------------------------------------------------------
 * The oracle: the semantics of design §1 computed directly, in double precision, on the same host
 * layouts as tt_attention_host (no vsum: running means are computed from V). Public so that users
 * can verify a device. stats may be NULL. */
TT_API tt_status tt_reference_attention(const tt_attn_shape *shape, const tt_attn_params *params,
                                        const float *q, const void *k, const void *v, float *o,
                                        uint32_t *stats);

/* fp16 (IEEE binary16) conversion, round to nearest even. */
TT_API uint16_t tt_f32_to_f16(float x);
TT_API float tt_f16_to_f32(uint16_t h);

/* ---- Thread safety ------------------------------------------------------------------------------
 * - Different contexts may be used from different threads at the same time.
 * - One context may be used from several threads at the same time for tt_attention_enqueue and
 *   tt_attention_host (internal program caches are locked; scratch memory is per call), provided
 *   each thread enqueues on its own queue or the caller serialises use of a shared queue.
 * - tt_context_set_build_options and tt_context_destroy must not run concurrently with other use
 *   of the same context.
 * - A tt_table may be read (lookup, attention) from many threads; modifying it while it is read is
 *   not allowed.
 * - tt_last_error(NULL) is per thread; tt_last_error(ctx) is the context's most recent message. */

#ifdef __cplusplus
}
#endif
#endif /* TOPTHETA_H */
