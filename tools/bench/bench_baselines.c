/* bench_baselines.c — what the benchmark measures the library against: a plain float4 copy (the
 * device's usable bandwidth, bytes read + written) and dense attention built from CLBlast GEMMs
 * plus a softmax kernel, the reference a user without this library would write. The CLBlast part
 * compiles only with TT_HAVE_CLBLAST; without it bench_have_clblast() is 0. */
#include "bench.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef TT_HAVE_CLBLAST
#include <clblast_c.h>
#endif

typedef struct {
    bench_kernels *bk;
    cl_mem src, dst;
    size_t n4;
} copy_job;

static tt_status copy_run(void *user, cl_command_queue q, cl_event *last)
{
    copy_job *c = user;
    cl_int err = clSetKernelArg(c->bk->copy4, 0, sizeof(cl_mem), &c->src);
    if (!err)
        err = clSetKernelArg(c->bk->copy4, 1, sizeof(cl_mem), &c->dst);
    cl_ulong n = c->n4;
    if (!err)
        err = clSetKernelArg(c->bk->copy4, 2, sizeof n, &n);
    /* One float4 per work-item: on PoCL's CPU device a grid-stride loop defeats its work-group
     * vectorisation (~8x slower), and on the H200 2-16 float4 per item lost 1-5 %. */
    size_t local = c->bk->softmax_wg, global = (c->n4 + local - 1) / local * local;
    if (!err)
        err = clEnqueueNDRangeKernel(q, c->bk->copy4, 1, NULL, &global, &local, 0, NULL, last);
    return err ? bench_fail((tt_status)err, "copy kernel: %s", tt_status_name(err)) : TT_SUCCESS;
}

tt_status bench_copy_gbps(bench_kernels *bk, size_t *size, int reps, double *gbps)
{
    size_t bytes = *size;
    if (bytes > bk->max_alloc)
        bytes = (size_t)bk->max_alloc;
    if (bytes > bk->global_mem / 4) /* two buffers next to the workload */
        bytes = (size_t)(bk->global_mem / 4);
    bytes = bytes / 4096 * 4096;
    *size = bytes;
    copy_job c = {bk, NULL, NULL, bytes / 16};
    cl_int err;
    c.src = clCreateBuffer(bk->cx, CL_MEM_READ_WRITE, bytes, NULL, &err);
    if (!err)
        c.dst = clCreateBuffer(bk->cx, CL_MEM_READ_WRITE, bytes, NULL, &err);
    /* Touch both buffers first so the timed runs do not pay for first-use allocation. */
    const float zero = 0.0f;
    if (!err)
        err = clEnqueueFillBuffer(bk->queue, c.src, &zero, sizeof zero, 0, bytes, 0, NULL, NULL);
    if (!err)
        err = clEnqueueFillBuffer(bk->queue, c.dst, &zero, sizeof zero, 0, bytes, 0, NULL, NULL);
    if (!err)
        err = clFinish(bk->queue);
    tt_status st = err ? bench_fail((tt_status)err, "copy buffers of %zu bytes: %s", bytes,
                                    tt_status_name(err))
                       : TT_SUCCESS;
    bench_timing t;
    if (st == TT_SUCCESS)
        st = bench_time(bk, NULL, copy_run, &c, 2, reps, &t);
    if (st == TT_SUCCESS)
        *gbps = t.median_ms > 0 ? 2.0 * (double)bytes / (t.median_ms * 1e6) : 0.0;
    if (c.src)
        clReleaseMemObject(c.src);
    if (c.dst)
        clReleaseMemObject(c.dst);
    return st;
}

struct bench_clblast {
    bench_kernels *bk;
    tt_attn_shape s;
    cl_mem q, k32, v32, scores, out;
    int own_kv;          /* k32/v32 are conversions owned here (fp16 workloads) */
    size_t pairs, chunk; /* (sequence, KV head) pairs, and how many one batched GEMM takes */
};

int bench_have_clblast(void)
{
#ifdef TT_HAVE_CLBLAST
    return 1;
#else
    return 0;
#endif
}

cl_mem bench_clblast_output(const bench_clblast *cb) { return cb->out; }

void bench_clblast_destroy(bench_clblast *cb)
{
    if (!cb)
        return;
    cl_mem m[] = {cb->scores, cb->out, cb->own_kv ? cb->k32 : NULL, cb->own_kv ? cb->v32 : NULL};
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        if (m[i])
            clReleaseMemObject(m[i]);
    free(cb);
}

#ifdef TT_HAVE_CLBLAST
static cl_mem to_f32(bench_kernels *bk, cl_mem src, size_t n, cl_int *err)
{
    cl_mem dst = clCreateBuffer(bk->cx, CL_MEM_READ_WRITE, n * 4, NULL, err);
    if (*err)
        return NULL;
    *err = clSetKernelArg(bk->f16_to_f32, 0, sizeof(cl_mem), &src);
    if (!*err)
        *err = clSetKernelArg(bk->f16_to_f32, 1, sizeof(cl_mem), &dst);
    if (!*err)
        *err = clEnqueueNDRangeKernel(bk->queue, bk->f16_to_f32, 1, NULL, &n, NULL, 0, NULL, NULL);
    return dst;
}
#endif

tt_status bench_clblast_create(bench_kernels *bk, const bench_data *d, bench_clblast **out)
{
    *out = NULL;
#ifndef TT_HAVE_CLBLAST
    (void)bk;
    (void)d;
    return bench_fail(TT_ERR_UNSUPPORTED, "built without CLBlast");
#else
    const tt_attn_shape *s = &d->s;
    bench_clblast *cb = calloc(1, sizeof *cb);
    if (!cb)
        return bench_fail(TT_OUT_OF_HOST_MEMORY, "out of host memory");
    cb->bk = bk;
    cb->s = *s;
    cb->q = d->dq;
    cb->pairs = (size_t)s->batch * s->n_kv_heads;
    const size_t group_rows = (size_t)s->n_heads / s->n_kv_heads * s->q_len;
    const size_t pair_bytes = group_rows * s->kv_len * 4;
    /* The score matrix is the big scratch (n² per head for prefill): batch as many pairs per GEMM
     * as fit a budget, and loop over chunks of pairs. */
    size_t budget = bk->type & CL_DEVICE_TYPE_CPU ? (size_t)512 << 20 : (size_t)2 << 30;
    if (budget > bk->max_alloc)
        budget = (size_t)bk->max_alloc;
    if (pair_bytes > bk->max_alloc) {
        free(cb);
        return bench_fail(TT_ERR_UNSUPPORTED,
                          "CLBlast baseline: one head group's scores (%zu MiB) exceed the largest "
                          "buffer the device allows",
                          pair_bytes >> 20);
    }
    cb->chunk = budget / pair_bytes;
    cb->chunk = cb->chunk < 1 ? 1 : cb->chunk > cb->pairs ? cb->pairs : cb->chunk;
    cl_int err = CL_SUCCESS;
    if (s->kv_dtype == TT_DTYPE_F16) { /* CLBlast's GEMMs here are fp32: convert once, untimed */
        cb->own_kv = 1;
        cb->k32 = to_f32(bk, d->dk, d->kn, &err);
        if (!err)
            cb->v32 = to_f32(bk, d->dv, d->kn, &err);
    } else {
        cb->k32 = d->dk;
        cb->v32 = d->dv;
    }
    if (!err)
        cb->scores = clCreateBuffer(bk->cx, CL_MEM_READ_WRITE, cb->chunk * pair_bytes, NULL, &err);
    if (!err)
        cb->out = clCreateBuffer(bk->cx, CL_MEM_READ_WRITE, d->qn * 4, NULL, &err);
    /* zeroed so that a GEMM reading C despite beta = 0 never sees NaN garbage */
    const float zero = 0.0f;
    if (!err)
        err = clEnqueueFillBuffer(bk->queue, cb->scores, &zero, 4, 0, cb->chunk * pair_bytes, 0,
                                  NULL, NULL);
    if (!err)
        err = clEnqueueFillBuffer(bk->queue, cb->out, &zero, 4, 0, d->qn * 4, 0, NULL, NULL);
    if (!err)
        err = clFinish(bk->queue);
    if (err) {
        bench_clblast_destroy(cb);
        return bench_fail((tt_status)err, "CLBlast baseline buffers: %s", tt_status_name(err));
    }
    *out = cb;
    return TT_SUCCESS;
#endif
}

tt_status bench_clblast_enqueue(void *user, cl_command_queue q, cl_event *last)
{
#ifndef TT_HAVE_CLBLAST
    (void)user;
    (void)q;
    (void)last;
    return bench_fail(TT_ERR_UNSUPPORTED, "built without CLBlast");
#else
    bench_clblast *cb = user;
    const tt_attn_shape *s = &cb->s;
    const size_t D = s->head_dim, KL = s->kv_len;
    const size_t rows = (size_t)s->n_heads / s->n_kv_heads * s->q_len;
    const float scale = 1.0f / sqrtf((float)D);
    const int QL = s->q_len, KLi = s->kv_len;
    cl_event ev = NULL;
    for (size_t p = 0; p < cb->pairs; p += cb->chunk) {
        const size_t cnt = cb->pairs - p < cb->chunk ? cb->pairs - p : cb->chunk;
        if (ev)
            clReleaseEvent(ev);
        ev = NULL;
        /* S = scale · Q_g · K_gᵀ: the group's query heads share one K, so their rows stack
         * into one GEMM per pair (GEMV-shaped for decode). */
        CLBlastStatusCode cs = CLBlastSgemmStridedBatched(
            CLBlastLayoutRowMajor, CLBlastTransposeNo, CLBlastTransposeYes, rows, KL, D, scale,
            cb->q, p * rows * D, D, rows * D, cb->k32, p * KL * D, D, KL * D, 0.0f, cb->scores, 0,
            KL, rows * KL, cnt, &q, NULL);
        if (cs != CLBlastSuccess)
            return bench_fail(TT_ERR_INTERNAL, "CLBlast Q·Kᵀ GEMM: status %d", (int)cs);
        bench_kernels *bk = cb->bk;
        size_t local = bk->softmax_wg, global = cnt * rows * local;
        cl_int err = clSetKernelArg(bk->softmax, 0, sizeof(cl_mem), &cb->scores);
        if (!err)
            err = clSetKernelArg(bk->softmax, 1, sizeof(int), &QL);
        if (!err)
            err = clSetKernelArg(bk->softmax, 2, sizeof(int), &KLi);
        if (!err)
            err = clEnqueueNDRangeKernel(q, bk->softmax, 1, NULL, &global, &local, 0, NULL, NULL);
        if (err)
            return bench_fail((tt_status)err, "softmax kernel: %s", tt_status_name(err));
        /* O = P · V_g: masked entries are zero, so the GEMM spans all kv_len keys. */
        cs = CLBlastSgemmStridedBatched(CLBlastLayoutRowMajor, CLBlastTransposeNo,
                                        CLBlastTransposeNo, rows, D, KL, 1.0f, cb->scores, 0, KL,
                                        rows * KL, cb->v32, p * KL * D, D, KL * D, 0.0f, cb->out,
                                        p * rows * D, D, rows * D, cnt, &q, &ev);
        if (cs != CLBlastSuccess)
            return bench_fail(TT_ERR_INTERNAL, "CLBlast P·V GEMM: status %d", (int)cs);
    }
    if (last)
        *last = ev;
    else if (ev)
        clReleaseEvent(ev);
    return TT_SUCCESS;
#endif
}

double bench_max_rel_err(const float *a, const float *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - b[i]), m = fabs((double)b[i]);
        num = e > num || e != e ? e : num;
        den = m > den ? m : den;
    }
    return den > 0 ? num / den : num;
}
