/* bench_data.c — the benchmark's workload: LLM-like synthetic Q/K/V (tt_synth_qkv) generated in
 * parallel slices and kept on the device, the running V sum that VMC decode expects, the byte and
 * FLOP model of design §4 applied to a call's stats buffer, and top-k's k for a kept fraction. */
#include "bench.h"
#include "common/synth.h"
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char err_msg[512];

const char *bench_error(void) { return err_msg; }

tt_status bench_fail(tt_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err_msg, sizeof err_msg, fmt, ap);
    va_end(ap);
    return st;
}

/* Generation is ~80 ns per K/V element on one core, so a 128K-token batch-8 cache would take over
 * a minute serially: slices of one (sequence, KV head) are independent and run on every core. */
typedef struct {
    const tt_attn_shape *s;
    bench_data *d;
    uint64_t seed;
    int first, step;
} gen_job;

static void *gen_worker(void *arg)
{
    gen_job *j = arg;
    const tt_attn_shape *s = j->s;
    const int G = s->n_kv_heads, group = s->n_heads / G, d = s->head_dim;
    const int p0 = s->kv_len - s->q_len;
    tt_attn_shape slice = *s;
    slice.batch = 1;
    slice.n_heads = group;
    slice.n_kv_heads = 1;
    for (int x = j->first; x < s->batch * G; x += j->step) {
        size_t qoff = (size_t)x * group * s->q_len * d, koff = (size_t)x * s->kv_len * d;
        char *kp = (char *)j->d->k + koff * j->d->elem, *vp = (char *)j->d->v + koff * j->d->elem;
        tt_rng r;
        tt_rng_seed(&r, j->seed * 1000003u + (uint64_t)x);
        tt_synth_qkv(&slice, j->d->synth, &r, j->d->q + qoff, kp, vp);
        /* VMC's running sum on entry covers the keys before this call's first row. */
        for (int e = 0; e < d; e++) {
            double acc = 0;
            for (int t = 0; t < p0; t++) {
                size_t idx = koff + (size_t)t * d + e;
                acc += s->kv_dtype == TT_DTYPE_F16 ? tt_f16_to_f32(((uint16_t *)j->d->v)[idx])
                                                   : ((float *)j->d->v)[idx];
            }
            j->d->vsum0[(size_t)x * d + e] = (float)acc;
        }
    }
    return NULL;
}

int bench_threads(int work)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        n = 1;
    if (n > 32)
        n = 32;
    return work < n ? (work < 1 ? 1 : work) : (int)n;
}

static cl_mem upload(tt_context *ctx, const void *host, size_t bytes, tt_status *st)
{
    if (*st != TT_SUCCESS)
        return NULL;
    cl_context cx;
    tt_context_cl(ctx, &cx, NULL, NULL);
    cl_int err;
    cl_mem m = clCreateBuffer(cx, CL_MEM_READ_WRITE | (host ? CL_MEM_COPY_HOST_PTR : 0), bytes,
                              (void *)host, &err);
    if (err != CL_SUCCESS)
        *st = bench_fail((tt_status)err, "device buffer of %zu bytes: %s", bytes,
                         tt_status_name(err));
    return m;
}

tt_status bench_data_create(tt_context *ctx, const tt_attn_shape *s, uint64_t seed, int synth,
                            int keep_host, bench_data *d)
{
    memset(d, 0, sizeof *d);
    d->s = *s;
    d->synth = synth;
    d->elem = s->kv_dtype == TT_DTYPE_F16 ? 2 : 4;
    d->qn = (size_t)s->batch * s->n_heads * s->q_len * s->head_dim;
    d->kn = (size_t)s->batch * s->n_kv_heads * s->kv_len * s->head_dim;
    const size_t vs = (size_t)s->batch * s->n_kv_heads * s->head_dim;
    d->q = malloc(d->qn * 4);
    d->k = malloc(d->kn * d->elem);
    d->v = malloc(d->kn * d->elem);
    d->vsum0 = malloc(vs * 4);
    if (!d->q || !d->k || !d->v || !d->vsum0) {
        bench_data_destroy(d);
        return bench_fail(TT_OUT_OF_HOST_MEMORY, "out of host memory for the workload");
    }
    const int T = bench_threads(s->batch * s->n_kv_heads);
    pthread_t th[32];
    gen_job jobs[32];
    unsigned started = 0;
    for (int t = 0; t < T; t++) {
        jobs[t] = (gen_job){s, d, seed, t, T};
        if (t > 0 && pthread_create(&th[t], NULL, gen_worker, &jobs[t]) == 0)
            started |= 1u << t;
    }
    gen_worker(&jobs[0]);
    for (int t = 1; t < T; t++) {
        if (started & (1u << t))
            pthread_join(th[t], NULL);
        else
            gen_worker(&jobs[t]); /* no thread: do its share here */
    }
    if (!ctx)
        return TT_SUCCESS;
    tt_status st = TT_SUCCESS;
    d->dq = upload(ctx, d->q, d->qn * 4, &st);
    d->dk = upload(ctx, d->k, d->kn * d->elem, &st);
    d->dv = upload(ctx, d->v, d->kn * d->elem, &st);
    d->dout = upload(ctx, NULL, d->qn * 4, &st);
    d->dstats = upload(ctx, NULL, tt_stats_size(s), &st);
    d->dvsum = upload(ctx, d->vsum0, vs * 4, &st);
    if (st != TT_SUCCESS) {
        bench_data_destroy(d);
        return st;
    }
    if (!keep_host) {
        free(d->k);
        free(d->v);
        d->k = d->v = NULL;
    }
    return TT_SUCCESS;
}

void bench_data_destroy(bench_data *d)
{
    cl_mem m[] = {d->dq, d->dk, d->dv, d->dout, d->dstats, d->dvsum};
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        if (m[i])
            clReleaseMemObject(m[i]);
    free(d->q);
    free(d->k);
    free(d->v);
    free(d->vsum0);
    memset(d, 0, sizeof *d);
}

void bench_work_compute(const tt_attn_shape *s, const uint32_t *stats, bench_work *w)
{
    memset(w, 0, sizeof *w);
    const int p0 = s->kv_len - s->q_len, QL = s->q_len;
    const size_t rows = (size_t)s->batch * s->n_heads * QL;
    const size_t grows = (size_t)s->batch * s->n_kv_heads * QL;
    for (size_t x = 0; x < rows; x++) {
        double n = p0 + (int)(x % (size_t)QL) + 1;
        w->elems += n;
        w->kept += stats ? stats[x] : n;
    }
    for (size_t x = 0; x < grows; x++) {
        double n = p0 + (int)(x % (size_t)QL) + 1;
        w->vrow_den += n;
        w->vrows += stats ? stats[rows + x] : n;
    }
    w->kept_frac = w->elems > 0 ? w->kept / w->elems : 0;
    w->vrow_frac = w->vrow_den > 0 ? w->vrows / w->vrow_den : 0;
    const double d = s->head_dim, b = s->kv_dtype == TT_DTYPE_F16 ? 2 : 4;
    w->flops = 2.0 * d * (w->elems + w->kept);
    if (QL == 1) /* decode: every K row once, only the union of kept V rows (Q/O negligible) */
        w->bytes = d * b * (w->vrow_den + w->vrows);
    else /* prefill is compute-bound; its compulsory traffic is Q, O (fp32) and K, V once */
        w->bytes = 2.0 * (double)rows * d * 4 +
                   2.0 * (double)s->batch * s->n_kv_heads * s->kv_len * d * b;
}

int bench_topk_k(const tt_attn_shape *s, double keep)
{
    double n = s->q_len == 1 ? s->kv_len : s->kv_len / 2.0;
    long k = lround(keep * n);
    if (k < 1)
        k = 1;
    if (k > s->kv_len)
        k = s->kv_len;
    return (int)k;
}
