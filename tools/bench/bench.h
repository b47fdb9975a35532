/* bench.h — the parts of `toptheta bench` (tools/cli/cmd_bench.c) that tests/test-bench.c also
 * uses: device-resident LLM-like workloads, thresholds calibrated to a target kept fraction, the
 * byte and FLOP model of design §4, event-timed runs, the copy-bandwidth probe and the CLBlast
 * dense baseline. Functions print nothing; on failure bench_error() says why. */
#ifndef TT_BENCH_H
#define TT_BENCH_H

#include "toptheta.h"
#include <stdio.h>

/* Message of the last failing bench_* call (never NULL). */
const char *bench_error(void);
tt_status bench_fail(tt_status st, const char *fmt, ...);
/* Host threads for `work` independent pieces: min(work, online cores, 32), at least 1. */
int bench_threads(int work);

/* ---- workload (bench_data.c) ----------------------------------------------------------------- */
typedef struct bench_data {
    tt_attn_shape s;
    size_t qn, kn;  /* elements of Q (= O) and of K (= V) */
    size_t elem;    /* bytes per K/V element */
    float *q;       /* host copies, head-major; k/v NULL unless kept (see bench_data_create) */
    void *k, *v;
    float *vsum0;   /* Σ_{j<p0} v_j per (b, g): the VMC running sum a call expects on entry */
    int synth;      /* tt_synth_qkv's llm_like: 1, or TT_SYNTH_CLUSTERED (--data clustered) */
    cl_mem dq, dk, dv, dout, dstats, dvsum; /* NULL when created without a context */
} bench_data;

/* Generates Q/K/V with tt_synth_qkv (llm_like = synth: 1, or TT_SYNTH_CLUSTERED) in independent
 * (sequence, KV head) slices, several threads at once, each slice seeded from seed; uploads them
 * when ctx is not NULL. keep_host = 0 frees the host K/V after the upload (long caches would
 * otherwise be held twice). */
tt_status bench_data_create(tt_context *ctx, const tt_attn_shape *s, uint64_t seed, int synth,
                            int keep_host, bench_data *d);
void bench_data_destroy(bench_data *d);

/* Work of one call after design §4, from the call's stats buffer (NULL: dense, all kept). */
typedef struct bench_work {
    double elems;      /* Σ row lengths over (batch, head, row): the scores computed */
    double kept;       /* Σ kept elements */
    double vrows, vrow_den; /* Σ union of kept V rows over (batch, KV head, row), Σ row lengths */
    double kept_frac, vrow_frac;
    double bytes;      /* decode: d·b·Σ(n + |union|); prefill: Q, O, K, V once */
    double flops;      /* 2·d·Σ(n + kept): Q·Kᵀ over every score, P·V over the kept ones */
} bench_work;
void bench_work_compute(const tt_attn_shape *s, const uint32_t *stats, bench_work *w);

/* Top-k's k for a target kept fraction: round(F·n) for decode, round(F·N/2) for a causal
 * prefill chunk (one k serves every row there); at least 1, at most kv_len. */
int bench_topk_k(const tt_attn_shape *s, double keep);

/* Kept-block occupancy of a prefill call with params p (tools/common/blocks.h) over n_tiles query
 * tiles spread over the workload: the share of (tile, 16-key block) pieces with a kept score, of
 * (tile, key) pieces some row of the tile kept, and of 16-key blocks left when each 32-key tile's
 * kept keys are packed together. Needs the host K (keep_host); NAN for decode or without it. */
typedef struct bench_block_fracs {
    double block, keys, packed;
} bench_block_fracs;
tt_status bench_blocks(const bench_data *d, const tt_attn_params *p, int n_tiles,
                       bench_block_fracs *f);

/* ---- calibration (bench_calib.c) ------------------------------------------------------------- */
/* Separate synthetic samples of a workload's shape: for decode a few sequences at the same n
 * whose last 8 rows (decode steps n−7 .. n) are sampled, for prefill two chunks. K is held as
 * float (fp16 values already rounded). */
typedef struct bench_samples {
    tt_attn_shape s; /* batch = number of sample sequences */
    int decode;
    float *q, *k;
} bench_samples;

tt_status bench_samples_create(const tt_attn_shape *s, uint64_t seed, int synth,
                               bench_samples *out);
void bench_samples_destroy(bench_samples *smp);

/* One-layer tables (layer k = 1), one per target kept fraction F in (0, 1], k_n = max(1,
 * round(F·n)), x = s, softmax(s) or s − max(s) by placement. θ at a sampled length n pools the 8
 * rows ending at n in every sample (prefill: up to 64 lengths per head, interpolated by the table;
 * decode: n itself). pooled = 1 (default): θ is the (Σk+1)-th largest x of those rows together,
 * so they keep F on average. pooled = 0: θ is the mean of each row's (k_n+1)-th largest x, the
 * rule of tt_synth_table and of Top-θ calibration on real models; it overshoots F when the row max
 * varies between rows (rel/post placements). D̂ is the mean dropped exp-weight. F = 1 gives a θ
 * below every score. Scores use the library's default scale 1/sqrt(d). */
tt_status bench_calibrate(const bench_samples *smp, tt_placement placement, int pooled,
                          const double *keeps, int n_keeps, tt_table **tables);

/* ---- timing (bench_timing.c) ----------------------------------------------------------------- */
/* Holding a timed call: DELAY enqueues a one-work-item busy kernel that runs (on the device) for
 * longer than the host takes to enqueue the call, so the call's commands are already queued when
 * it ends and the timing starts; GATE holds a stamp kernel and the call behind a user event (on
 * NVIDIA the first kernel then starts 13-16 us after the stamp); NONE starts at once. */
typedef enum bench_hold { BENCH_HOLD_DELAY, BENCH_HOLD_GATE, BENCH_HOLD_NONE } bench_hold;
const char *bench_hold_name(bench_hold h);

typedef struct bench_kernels {
    cl_context cx;
    cl_device_id dev;
    cl_command_queue queue; /* the library's profiling queue */
    cl_device_type type;
    cl_ulong max_alloc, global_mem;
    cl_uint compute_units;
    cl_program prog;
    cl_kernel stamp, delay, copy4, f16_to_f32, softmax;
    cl_mem stamp_buf;
    size_t softmax_wg;
    bench_hold hold;       /* how a timed call keeps the device from starting before it is enqueued */
    double delay_ns_iter;  /* the delay kernel's time per iteration (0: not measured yet) */
} bench_kernels;

tt_status bench_kernels_create(tt_context *ctx, bench_kernels *bk);
void bench_kernels_destroy(bench_kernels *bk);

/* Enqueues one timed operation on q; *last (when not NULL) gets its final event. */
typedef tt_status (*bench_enqueue_fn)(void *user, cl_command_queue q, cl_event *last);

typedef struct bench_timing {
    double median_ms; /* device time: end of the last event − end of the delay/stamp kernel */
    double min_ms;
    double wall_ms;   /* median host enqueue time + device time (host time to clFinish unless
                         the delay holds the call) */
    int reps;
    int hold_retries; /* timed calls run again because the delay ended before the host enqueued */
    int hold_fallback; /* 1: the enqueue waited for the device, so the runs went unheld */
} bench_timing;

/* warmup untimed calls, then reps timed ones. prep (may be NULL) runs before each call, outside
 * the timed span (e.g. restoring the running V sum). */
tt_status bench_time(bench_kernels *bk, bench_enqueue_fn prep, bench_enqueue_fn run, void *user,
                     int warmup, int reps, bench_timing *t);

/* ---- baselines (bench_baselines.c) ----------------------------------------------------------- */
/* float4 copy of a buffer of *size bytes (clamped to what the device allows; *size gets the size
 * used); *gbps counts bytes read + written, median of reps. */
tt_status bench_copy_gbps(bench_kernels *bk, size_t *size, int reps, double *gbps);

/* Dense attention through CLBlast: per (sequence, KV head) S = Q_g·K_gᵀ (the group's query rows
 * together, strided-batched SGEMM), a causal-masked softmax kernel, O = P·V. fp32 throughout:
 * fp16 K/V are converted once at creation, outside any timing. */
typedef struct bench_clblast bench_clblast;
int bench_have_clblast(void);
tt_status bench_clblast_create(bench_kernels *bk, const bench_data *d, bench_clblast **out);
/* A bench_enqueue_fn: one full dense attention through CLBlast on q. */
tt_status bench_clblast_enqueue(void *cb, cl_command_queue q, cl_event *last);
cl_mem bench_clblast_output(const bench_clblast *cb); /* O, fp32 head-major like bench_data.dout */
void bench_clblast_destroy(bench_clblast *cb);

/* ---- report (bench_report.c) ----------------------------------------------------------------- */
typedef struct bench_run_info {
    int prefill;
    tt_attn_shape s;
    tt_placement placement;
    tt_sdc sdc;
    int vmc;
    double copy_gbps;
    size_t copy_bytes;
    const char *device;
    int reps, warmup;
    double dense_bytes, dense_flops, dense_ms; /* own dense of the same run */
    bench_hold hold;
    const char *data; /* "scattered" or "clustered" (tt_synth_qkv's llm_like 1 or 2) */
} bench_run_info;

typedef struct bench_result {
    const char *impl; /* "own" or "clblast" */
    tt_mode mode;
    double keep;      /* target kept fraction; < 0 when none (dense, --table) */
    int k;            /* top-k's k, else 0 */
    bench_timing t;
    bench_work w;
    double max_rel_err; /* against own dense; < 0 when not checked */
    bench_block_fracs blk; /* prefill: bench_blocks on sampled tiles; else NAN */
} bench_result;

void bench_print_header(FILE *f, const bench_run_info *ri);
void bench_print_row(FILE *f, const bench_run_info *ri, const bench_result *r);
void bench_print_json(FILE *f, const bench_run_info *ri, const bench_result *r);
/* max_i |a_i − b_i| / max_i |b_i| (b the reference). */
double bench_max_rel_err(const float *a, const float *b, size_t n);

#endif
