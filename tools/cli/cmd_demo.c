/* cmd_demo.c — `toptheta demo`, the README's main job: device info, a short selftest, then
 * Top-θ against dense (and top-k) on an LLM-like synthetic decode and prefill workload (attention
 * sink, local window, heavy tail), with thresholds calibrated on separate synthetic samples;
 * prints kept fraction, V-row fraction, output error against dense and the time ratio. */
#include "commands.h"
#include "common/selftest_run.h"
#include "common/synth.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    const char *name;
    tt_mode mode;
    tt_placement placement;
    tt_sdc sdc;
    int vmc;
} demo_variant;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Device-resident inputs for one workload, so timings measure attention, not host copies. */
typedef struct {
    cl_mem q, k, v, o, stats;
} dev_bufs;

static cl_mem upload(cl_context cx, const void *data, size_t bytes)
{
    cl_int err;
    return clCreateBuffer(cx, CL_MEM_READ_WRITE | (data ? CL_MEM_COPY_HOST_PTR : 0), bytes,
                          (void *)data, &err);
}

/* Median wall time of reps enqueue + finish (one warm-up first), then the results read back. */
static tt_status timed(tt_context *ctx, const tt_attn_shape *s, const tt_attn_params *p,
                       const dev_bufs *b, float *o, uint32_t *stats, int reps, double *ms)
{
    cl_command_queue queue;
    tt_context_cl(ctx, NULL, NULL, &queue);
    tt_tensor tq = tt_tensor_head_major(b->q, s->n_heads, s->q_len, s->head_dim);
    tt_tensor tk = tt_tensor_head_major(b->k, s->n_kv_heads, s->kv_len, s->head_dim);
    tt_tensor tv = tt_tensor_head_major(b->v, s->n_kv_heads, s->kv_len, s->head_dim);
    tt_tensor to = tt_tensor_head_major(b->o, s->n_heads, s->q_len, s->head_dim);
    double t[16];
    tt_status st = TT_SUCCESS;
    for (int r = -1; r < reps && st == TT_SUCCESS; r++) {
        double t0 = now_ms();
        st = tt_attention_enqueue(ctx, queue, s, p, &tq, &tk, &tv, &to, NULL, b->stats, 0, NULL,
                                  NULL);
        clFinish(queue);
        if (r >= 0)
            t[r] = now_ms() - t0;
    }
    if (st != TT_SUCCESS)
        return st;
    qsort(t, (size_t)reps, sizeof t[0], cmp_d);
    *ms = t[reps / 2];
    size_t qn = (size_t)s->batch * s->n_heads * s->q_len * s->head_dim;
    cl_int err = clEnqueueReadBuffer(queue, b->o, CL_TRUE, 0, qn * 4, o, 0, NULL, NULL);
    if (!err)
        err = clEnqueueReadBuffer(queue, b->stats, CL_TRUE, 0, tt_stats_size(s), stats, 0, NULL,
                                  NULL);
    return err ? (tt_status)err : TT_SUCCESS;
}

static int workload(tt_context *ctx, const char *title, tt_attn_shape s, int k, int reps)
{
    static const demo_variant variants[] = {
        {"dense", TT_MODE_DENSE, TT_PLACE_PRE, TT_SDC_NONE, 0},
        {"top-k, exact SDC + VMC", TT_MODE_TOPK, TT_PLACE_PRE, TT_SDC_EXACT, 1},
        {"Top-theta post-softmax + VMC", TT_MODE_THETA, TT_PLACE_POST, TT_SDC_NONE, 1},
        {"Top-theta pre-softmax, exact SDC + VMC", TT_MODE_THETA, TT_PLACE_PRE, TT_SDC_EXACT, 1},
        {"Top-theta max-relative, exact SDC + VMC", TT_MODE_THETA, TT_PLACE_REL, TT_SDC_EXACT, 1},
    };
    const size_t elem = s.kv_dtype == TT_DTYPE_F16 ? 2 : 4;
    const size_t qn = (size_t)s.batch * s.n_heads * s.q_len * s.head_dim;
    const size_t kn = (size_t)s.batch * s.n_kv_heads * s.kv_len * s.head_dim;
    float *q = malloc(qn * 4), *o = malloc(qn * 4), *od = malloc(qn * 4), *cq = malloc(qn * 4);
    void *kb = malloc(kn * elem), *vb = malloc(kn * elem), *ck = malloc(kn * elem),
         *cv = malloc(kn * elem);
    uint32_t *stats = malloc(tt_stats_size(&s));
    dev_bufs b = {0};
    int rc = 1;
    if (!q || !o || !od || !cq || !kb || !vb || !ck || !cv || !stats) {
        fprintf(stderr, "error: out of memory\n");
        goto out;
    }
    tt_rng r;
    tt_rng_seed(&r, 1234);
    tt_synth_qkv(&s, 1, &r, q, kb, vb);
    tt_rng_seed(&r, 98765); /* calibration samples: separate data of the same kind */
    tt_synth_qkv(&s, 1, &r, cq, ck, cv);
    cl_context cx;
    tt_context_cl(ctx, &cx, NULL, NULL);
    b = (dev_bufs){upload(cx, q, qn * 4), upload(cx, kb, kn * elem), upload(cx, vb, kn * elem),
                  upload(cx, NULL, qn * 4), upload(cx, NULL, tt_stats_size(&s))};
    if (!b.q || !b.k || !b.v || !b.o || !b.stats) {
        fprintf(stderr, "error: could not create device buffers\n");
        goto out;
    }
    printf("\n%s: batch %d, %d heads / %d KV heads, head size %d, %s KV, %d query row(s), "
           "%d keys, k = %d\n", title, s.batch, s.n_heads, s.n_kv_heads, s.head_dim,
           elem == 2 ? "fp16" : "fp32", s.q_len, s.kv_len, k);
    printf("%-42s %8s %8s %11s %9s %8s\n", "variant", "kept", "V rows", "rel.err", "ms", "speedup");
    double dense_ms = 0;
    const float scale = 1.0f / sqrtf((float)s.head_dim);
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        tt_attn_params p;
        tt_attn_params_init(&p);
        p.mode = variants[v].mode;
        p.placement = variants[v].placement;
        p.sdc = variants[v].sdc;
        p.vmc = variants[v].vmc;
        p.k = p.mode == TT_MODE_TOPK ? k : 0;
        tt_table *table = NULL;
        if (p.mode == TT_MODE_THETA) {
            tt_status st = tt_synth_table(&s, p.placement, k, scale, cq, ck, &table);
            if (st != TT_SUCCESS) {
                rc = cli_error("calibration", st, NULL);
                goto out;
            }
            p.table = table;
        }
        double ms;
        tt_status st = timed(ctx, &s, &p, &b, v ? o : od, stats, reps, &ms);
        tt_table_destroy(table);
        if (st != TT_SUCCESS) {
            rc = cli_error(variants[v].name, st, ctx);
            goto out;
        }
        double kept = 0, vrows = 0, elems = 0, vden = 0, num = 0, den = 0;
        size_t hq = (size_t)s.batch * s.n_heads * s.q_len;
        for (size_t x = 0; x < hq; x++) {
            kept += stats[x];
            elems += s.kv_len - s.q_len + (int)(x % s.q_len) + 1;
        }
        for (size_t x = 0; x < (size_t)s.batch * s.n_kv_heads * s.q_len; x++) {
            vrows += stats[hq + x];
            vden += s.kv_len - s.q_len + (int)(x % s.q_len) + 1;
        }
        for (size_t x = 0; v && x < qn; x++) {
            num += (o[x] - od[x]) * (double)(o[x] - od[x]);
            den += (double)od[x] * od[x];
        }
        if (v == 0)
            dense_ms = ms;
        printf("%-42s %8.3f %8.3f %11.2e %9.2f %7.2fx\n", variants[v].name, kept / elems,
               vrows / vden, v ? sqrt(num / den) : 0.0, ms, dense_ms / ms);
    }
    rc = 0;
out:
    if (b.q) clReleaseMemObject(b.q);
    if (b.k) clReleaseMemObject(b.k);
    if (b.v) clReleaseMemObject(b.v);
    if (b.o) clReleaseMemObject(b.o);
    if (b.stats) clReleaseMemObject(b.stats);
    free(q); free(o); free(od); free(cq); free(kb); free(vb); free(ck); free(cv); free(stats);
    return rc;
}

int cmd_demo(int argc, char **argv)
{
    static const char *const known[] = {"json",  "device",       "len", "reps", "seed", "model",
                                        "calib-tokens", "eval-tokens", "k", "seqs", NULL};
    if (!cli_check_options(argc, argv, known, "demo"))
        return 2;
    tt_context *ctx = cli_context(argc, argv);
    if (!ctx)
        return 1;
    tt_device_info info;
    tt_context_device_info(ctx, &info);
    printf("toptheta %s demo on %s (%s, OpenCL C %d.%d, %u compute units, %llu KiB local memory)\n",
           tt_version_string(), info.name, info.platform_name, info.opencl_c_major,
           info.opencl_c_minor, info.compute_units,
           (unsigned long long)info.local_mem_size / 1024);
    printf("\n== short selftest (device against the CPU reference) ==\n");
    uint64_t seed = (uint64_t)cli_opt_long(argc, argv, "seed", (long)time(NULL));
    tt_selftest_opts so = {seed, 0, 0, 0, NULL};
    int failed = tt_selftest_run(ctx, &so, stdout);
    int len = (int)cli_opt_long(argc, argv, "len", 8192);
    int reps = (int)cli_opt_long(argc, argv, "reps", 5);
    if (reps < 1 || reps > 15 || len < 64) {
        fprintf(stderr, "error: demo: --reps must be 1..15 and --len >= 64\n");
        tt_context_destroy(ctx);
        return 2;
    }
    printf("\n== Top-theta against dense on an LLM-like workload (thresholds calibrated on "
           "separate samples; wall-clock medians of %d runs on device-resident data) ==", reps);
    tt_attn_shape dec = {1, 32, 8, 128, 1, len, TT_DTYPE_F16};
    tt_attn_shape pre = {1, 8, 2, 64, 256, len / 4, TT_DTYPE_F32};
    int rc = workload(ctx, "decode", dec, len / 10, reps);
    if (!rc)
        rc = workload(ctx, "prefill", pre, len / 40, reps);
    tt_context_destroy(ctx);
    const char *model = cli_opt(argc, argv, "model");
    if (!rc && model)
        rc = demo_model(model, cli_opt(argc, argv, "device"), cli_opt(argc, argv, "calib-tokens"),
                        cli_opt(argc, argv, "eval-tokens"), (int)cli_opt_long(argc, argv, "k", 32),
                        (int)cli_opt_long(argc, argv, "seqs", 16));
    if (failed)
        fprintf(stderr, "demo: the selftest failed on this device\n");
    return rc || failed ? 1 : 0;
}
