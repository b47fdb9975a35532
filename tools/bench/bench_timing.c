/* bench_timing.c — the benchmark's own OpenCL program (a timestamp kernel, the float4 copy that
 * measures the device's bandwidth, fp16 → fp32 conversion and the CLBlast baseline's softmax) and
 * the timer: warm-up, then per run a delay kernel that keeps the device busy while the host
 * enqueues the operation (or a stamp held behind a user event), timed from its end to the end of
 * the operation's last event. */
#include "bench.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* WG (power of two) is set at build time. Softmax rows are the score rows of the CLBlast
 * baseline: row r belongs to query row i = r % q_len, which sees keys j < kv_len - q_len + i + 1. */
static const char bench_cl_source[] =
    "__kernel void bench_stamp(__global uint *x) { x[0] = 1; }\n"
    /* A serial chain the compiler cannot shorten (the shift makes it non-affine). */
    "__kernel void bench_delay(__global uint *x, uint iters)\n"
    "{ uint v = x[1];\n"
    "  for (uint i = 0; i < iters; i++) v = v * 1664525u + (v >> 13) + 1013904223u;\n"
    "  x[2] = v; }\n"
    "__kernel void bench_copy4(__global const float4 *src, __global float4 *dst, ulong n)\n"
    "{ size_t i = get_global_id(0); if (i < n) dst[i] = src[i]; }\n"
    "__kernel void bench_f16_to_f32(__global const half *src, __global float *dst)\n"
    "{ size_t i = get_global_id(0); dst[i] = vload_half(i, src); }\n"
    "__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))\n"
    "void bench_softmax(__global float *s, int q_len, int kv_len)\n"
    "{\n"
    "    __local float lm[WG], lz[WG];\n"
    "    const int lid = get_local_id(0), row = get_group_id(0);\n"
    "    const int n = kv_len - q_len + row % q_len + 1;\n"
    "    __global float *x = s + (size_t)row * kv_len;\n"
    "    float m = -INFINITY, z = 0.0f;\n"
    "    for (int j = lid; j < n; j += WG) { /* online max and sum: one read for both */\n"
    "        float v = x[j];\n"
    "        if (v > m) { z = z * exp(m - v) + 1.0f; m = v; } else z += exp(v - m);\n"
    "    }\n"
    "    lm[lid] = m; lz[lid] = z;\n"
    "    barrier(CLK_LOCAL_MEM_FENCE);\n"
    "    for (int off = WG / 2; off > 0; off >>= 1) {\n"
    "        if (lid < off) {\n"
    "            float m1 = lm[lid], m2 = lm[lid + off], mm = fmax(m1, m2);\n"
    "            float z1 = m1 == -INFINITY ? 0.0f : lz[lid] * exp(m1 - mm);\n"
    "            float z2 = m2 == -INFINITY ? 0.0f : lz[lid + off] * exp(m2 - mm);\n"
    "            lm[lid] = mm; lz[lid] = z1 + z2;\n"
    "        }\n"
    "        barrier(CLK_LOCAL_MEM_FENCE);\n"
    "    }\n"
    "    m = lm[0];\n"
    "    const float inv = 1.0f / lz[0];\n"
    "    for (int j = lid; j < kv_len; j += WG) x[j] = j < n ? exp(x[j] - m) * inv : 0.0f;\n"
    "}\n";

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

tt_status bench_kernels_create(tt_context *ctx, bench_kernels *bk)
{
    memset(bk, 0, sizeof *bk);
    bk->hold = BENCH_HOLD_DELAY;
    tt_context_cl(ctx, &bk->cx, &bk->dev, &bk->queue);
    size_t max_wg = 1;
    clGetDeviceInfo(bk->dev, CL_DEVICE_TYPE, sizeof bk->type, &bk->type, NULL);
    clGetDeviceInfo(bk->dev, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof bk->max_alloc, &bk->max_alloc,
                    NULL);
    clGetDeviceInfo(bk->dev, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof bk->global_mem, &bk->global_mem,
                    NULL);
    clGetDeviceInfo(bk->dev, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof max_wg, &max_wg, NULL);
    clGetDeviceInfo(bk->dev, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof bk->compute_units,
                    &bk->compute_units, NULL);
    for (bk->softmax_wg = 256; bk->softmax_wg > max_wg; bk->softmax_wg /= 2)
        ;
    const char *src = bench_cl_source;
    cl_int err;
    bk->prog = clCreateProgramWithSource(bk->cx, 1, &src, NULL, &err);
    if (err != CL_SUCCESS)
        return bench_fail((tt_status)err, "bench program: %s", tt_status_name(err));
    char opts[64];
    snprintf(opts, sizeof opts, "-DWG=%zu", bk->softmax_wg);
    err = clBuildProgram(bk->prog, 1, &bk->dev, opts, NULL, NULL);
    if (err != CL_SUCCESS) {
        char log[400] = "";
        clGetProgramBuildInfo(bk->prog, bk->dev, CL_PROGRAM_BUILD_LOG, sizeof log - 1, log, NULL);
        bench_kernels_destroy(bk);
        return bench_fail(TT_BUILD_PROGRAM_FAILURE, "bench program build: %s", log);
    }
    bk->stamp = clCreateKernel(bk->prog, "bench_stamp", &err);
    if (!err)
        bk->delay = clCreateKernel(bk->prog, "bench_delay", &err);
    if (!err)
        bk->copy4 = clCreateKernel(bk->prog, "bench_copy4", &err);
    if (!err)
        bk->f16_to_f32 = clCreateKernel(bk->prog, "bench_f16_to_f32", &err);
    if (!err)
        bk->softmax = clCreateKernel(bk->prog, "bench_softmax", &err);
    if (!err)
        bk->stamp_buf = clCreateBuffer(bk->cx, CL_MEM_READ_WRITE, 16, NULL, &err);
    if (!err) {
        const cl_uint zero[4] = {0, 0, 0, 0};
        err = clEnqueueWriteBuffer(bk->queue, bk->stamp_buf, CL_TRUE, 0, sizeof zero, zero, 0,
                                   NULL, NULL);
    }
    if (!err)
        err = clSetKernelArg(bk->stamp, 0, sizeof(cl_mem), &bk->stamp_buf);
    if (!err)
        err = clSetKernelArg(bk->delay, 0, sizeof(cl_mem), &bk->stamp_buf);
    if (err != CL_SUCCESS) {
        bench_kernels_destroy(bk);
        return bench_fail((tt_status)err, "bench kernels: %s", tt_status_name(err));
    }
    return TT_SUCCESS;
}

void bench_kernels_destroy(bench_kernels *bk)
{
    cl_kernel k[] = {bk->stamp, bk->delay, bk->copy4, bk->f16_to_f32, bk->softmax};
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
        if (k[i])
            clReleaseKernel(k[i]);
    if (bk->stamp_buf)
        clReleaseMemObject(bk->stamp_buf);
    if (bk->prog)
        clReleaseProgram(bk->prog);
    memset(bk, 0, sizeof *bk);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

const char *bench_hold_name(bench_hold h)
{
    return h == BENCH_HOLD_DELAY ? "delay" : h == BENCH_HOLD_GATE ? "gate" : "none";
}

/* Device time of one delay kernel of iters iterations (START to END), in ns; 0 on failure. */
static double delay_ns(bench_kernels *bk, cl_uint iters)
{
    size_t one = 1;
    cl_event ev = NULL;
    cl_ulong a = 0, b = 0;
    cl_int err = clSetKernelArg(bk->delay, 1, sizeof iters, &iters);
    if (!err)
        err = clEnqueueNDRangeKernel(bk->queue, bk->delay, 1, NULL, &one, &one, 0, NULL, &ev);
    if (!err)
        err = clWaitForEvents(1, &ev);
    if (!err)
        err = clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_START, sizeof a, &a, NULL);
    if (!err)
        err = clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_END, sizeof b, &b, NULL);
    if (ev)
        clReleaseEvent(ev);
    return err || b <= a ? 0.0 : (double)(b - a);
}

/* Shortest of 3 launches: a CPU device's launch can be preempted by another process, which
 * once made 4096 iterations look slower than 65536 on the 2-core PoCL machine. */
static double delay_min_ns(bench_kernels *bk, cl_uint iters)
{
    double best = 0.0;
    for (int i = 0; i < 3; i++) {
        const double t = delay_ns(bk, iters);
        if (t > 0.0 && (best == 0.0 || t < best))
            best = t;
    }
    return best;
}

/* Measures the delay kernel's time per iteration once (the first call also builds it). */
static tt_status delay_calibrate(bench_kernels *bk)
{
    if (bk->delay_ns_iter > 0)
        return TT_SUCCESS;
    const cl_uint lo = 1u << 12, hi = 1u << 16;
    delay_ns(bk, lo); /* first launch: the device compiles or loads the kernel */
    double t_lo = delay_min_ns(bk, lo), t_hi = delay_min_ns(bk, hi);
    if (!(t_hi > t_lo) || t_lo <= 0.0)
        return bench_fail(TT_ERR_INTERNAL,
                          "delay kernel: no usable profiling times (%.0f, %.0f ns)", t_lo, t_hi);
    bk->delay_ns_iter = (t_hi - t_lo) / (double)(hi - lo);
    return TT_SUCCESS;
}

/* One call; timed is 0 for a warm-up. hold_ms is how long the delay kernel should run; *late is
 * set when the host needed longer than the delay actually ran to enqueue the call, i.e. the device
 * may have idled inside the timed span. Both the library and CLBlast's strided-batched GEMM only
 * enqueue (nothing blocks on the queue), so a user-event gate cannot deadlock. */
static tt_status one_call(bench_kernels *bk, bench_enqueue_fn prep, bench_enqueue_fn run,
                          void *user, bench_hold hold, double hold_ms, double *dev_ms,
                          double *wall_ms, double *enqueue_ms, int *late)
{
    cl_event gate = NULL, start = NULL, end = NULL;
    *late = 0;
    tt_status st = prep ? prep(user, bk->queue, NULL) : TT_SUCCESS;
    if (st != TT_SUCCESS)
        return st;
    cl_int err = CL_SUCCESS;
    if (hold == BENCH_HOLD_GATE)
        gate = clCreateUserEvent(bk->cx, &err);
    size_t one = 1;
    if (!err && hold == BENCH_HOLD_DELAY) {
        double iters = hold_ms * 1e6 / bk->delay_ns_iter;
        cl_uint n = iters > 4e9 ? 4000000000u : (cl_uint)iters + 1;
        err = clSetKernelArg(bk->delay, 1, sizeof n, &n);
        if (!err)
            err = clEnqueueNDRangeKernel(bk->queue, bk->delay, 1, NULL, &one, &one, 0, NULL,
                                         &start);
        if (!err)
            err = clFlush(bk->queue); /* starts it now: the host enqueues while it runs */
    } else if (!err) {
        err = clEnqueueNDRangeKernel(bk->queue, bk->stamp, 1, NULL, &one, &one, gate ? 1 : 0,
                                     gate ? &gate : NULL, &start);
    }
    if (err) {
        if (gate)
            clReleaseEvent(gate);
        if (start)
            clReleaseEvent(start);
        return bench_fail((tt_status)err, "timing stamp: %s", tt_status_name(err));
    }
    double t0 = now_ms();
    st = run(user, bk->queue, &end);
    /* the delay already over when the enqueue returns: the device may have idled (exact where
     * the driver keeps event status current; the clock test below covers the others) */
    cl_int delay_status = CL_QUEUED;
    if (hold == BENCH_HOLD_DELAY)
        clGetEventInfo(start, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof delay_status,
                       &delay_status, NULL);
    if (gate) {
        clSetUserEventStatus(gate, CL_COMPLETE);
        clReleaseEvent(gate);
    }
    clFlush(bk->queue);
    *enqueue_ms = now_ms() - t0;
    err = clFinish(bk->queue);
    *wall_ms = now_ms() - t0;
    cl_int status = CL_COMPLETE;
    if (st == TT_SUCCESS && end)
        clGetEventInfo(end, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof status, &status, NULL);
    if (st == TT_SUCCESS && (err != CL_SUCCESS || status < 0 || !end))
        st = bench_fail((tt_status)(err ? err : status < 0 ? status : TT_ERR_INTERNAL),
                        "timed call failed on the device (%s)",
                        tt_status_name(err ? err : status));
    if (st == TT_SUCCESS) {
        cl_ulong t_begin = 0, t_start = 0, t_end = 0;
        err = clGetEventProfilingInfo(start, CL_PROFILING_COMMAND_START, sizeof t_begin, &t_begin,
                                      NULL);
        if (!err)
            err = clGetEventProfilingInfo(start, CL_PROFILING_COMMAND_END, sizeof t_start,
                                          &t_start, NULL);
        if (!err)
            err = clGetEventProfilingInfo(end, CL_PROFILING_COMMAND_END, sizeof t_end, &t_end,
                                          NULL);
        if (err)
            st = bench_fail((tt_status)err, "profiling info: %s (is the queue profiling?)",
                            tt_status_name(err));
        *dev_ms = t_end > t_start ? (double)(t_end - t_start) * 1e-6 : 0.0;
        if (hold == BENCH_HOLD_DELAY) /* the rest of the delay is neither enqueue nor operation */
            *wall_ms = *enqueue_ms + *dev_ms;
        /* The delay started after the host's flush, so the host was done in time if it needed
         * less than the delay's own device time (a sufficient test, clocks need not agree). */
        if (hold == BENCH_HOLD_DELAY && (delay_status == CL_COMPLETE ||
                                         *enqueue_ms >= (double)(t_start - t_begin) * 1e-6))
            *late = 1;
    }
    if (start)
        clReleaseEvent(start);
    if (end)
        clReleaseEvent(end);
    return st;
}

tt_status bench_time(bench_kernels *bk, bench_enqueue_fn prep, bench_enqueue_fn run, void *user,
                     int warmup, int reps, bench_timing *t)
{
    memset(t, 0, sizeof *t);
    tt_status st = bk->hold == BENCH_HOLD_DELAY ? delay_calibrate(bk) : TT_SUCCESS;
    if (st != TT_SUCCESS)
        return st;
    double *dev = malloc(sizeof *dev * (size_t)reps), *wall = malloc(sizeof *wall * (size_t)reps);
    if (!dev || !wall) {
        free(dev);
        free(wall);
        return bench_fail(TT_OUT_OF_HOST_MEMORY, "out of host memory");
    }
    /* The delay covers twice the last call's enqueue time plus 0.2 ms (the first warm-up, which
     * may build programs, only sets the first timed call's); a timed call whose enqueue outlasted
     * it is run again with the delay grown from that call (at most 3 retries per timed run).
     * An operation whose enqueue waits for the device cannot be held by a delay kernel at all:
     * each retry's enqueue then lasts as long as the delay before it, which doubled the delay
     * without end (the H200's prefill bench ran past every time limit, 2026-12-05). So when a
     * retry is late again with an enqueue at least half its delay, or a run is still late after
     * two retries, the rest is timed from a stamp kernel, unheld, and the result says so
     * (hold_fallback). */
    double enq = 1.0;
    int retries = 0, run_retries = 0;
    bench_hold hold = bk->hold;
    for (int r = -warmup; r < reps && st == TT_SUCCESS; r++) {
        double d = 0, w = 0, e = 0;
        int late = 0;
        const double hold_ms = 2.0 * enq + 0.2;
        st = one_call(bk, prep, run, user, r >= 0 ? hold : BENCH_HOLD_NONE, hold_ms, &d, &w, &e,
                      &late);
        enq = e;
        /* a retry whose enqueue grew with the delay it was given waits for the device (an
         * enqueue that does not wait takes as long whatever the delay) */
        const int waits = run_retries >= 1 && e >= 0.5 * hold_ms;
        if (st == TT_SUCCESS && late && (waits || run_retries == 2) &&
            hold == BENCH_HOLD_DELAY) {
            fprintf(stderr, "bench: the call's enqueue (%.3f ms) waits for the device, which a "
                            "delay kernel cannot hold; timing it unheld from a stamp kernel\n", e);
            hold = BENCH_HOLD_NONE;
            t->hold_fallback = 1;
            run_retries = 0;
            r--;
            continue;
        }
        if (st == TT_SUCCESS && late && retries < 3 * reps) {
            retries++;
            run_retries++;
            r--;
            continue;
        }
        run_retries = 0;
        if (r >= 0) {
            dev[r] = d;
            wall[r] = w;
        }
    }
    if (st == TT_SUCCESS) {
        t->reps = reps;
        t->hold_retries = retries;
        t->min_ms = dev[0];
        for (int i = 1; i < reps; i++)
            t->min_ms = dev[i] < t->min_ms ? dev[i] : t->min_ms;
        t->median_ms = median(dev, reps);
        t->wall_ms = median(wall, reps);
    }
    free(dev);
    free(wall);
    return st;
}
