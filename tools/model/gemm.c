/* gemm.c — Y[T][out] = X[T][in] · W[out][in]ᵀ for the model runner. The host path tiles 4 X rows
 * against 2 W rows with 8-lane accumulators (vectorised without -ffast-math: each lane is its own
 * sum), blocks W so it stays in L2 while every X tile passes, and splits W's rows over threads.
 * With CLBlast the product runs on the runner's OpenCL device against a device copy of the weights. */
#include "model/gemm.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef TT_HAVE_CLBLAST
#include <clblast_c.h>
#endif

#define TILE_T 4    /* X rows per micro-tile */
#define TILE_O 2    /* W rows per micro-tile: 8 accumulators + 4 X vectors + 1 W fit 16 registers */
#define BLOCK_O 64  /* W rows per cache block: 64 x in(<=1536) floats <= 384 KiB, inside L2 */
#define LANES 8
#define MAX_THREADS 8
#define MIN_PARALLEL_FLOPS (1L << 22) /* smaller products (decode GEMVs) stay on one thread */

#if defined(__GNUC__) || defined(__clang__)
typedef float v8 __attribute__((vector_size(LANES * sizeof(float))));
#define HAVE_V8 1
#endif
/* One build runs on any x86-64, the AVX2+FMA clone where the CPU has it (no -march needed). ISO C
 * mode turns FP contraction off; the kernel turns it back on (GCC) so its mul+add become FMAs. */
#if defined(__x86_64__) && defined(__has_attribute)
#if __has_attribute(target_clones) && !defined(__SANITIZE_ADDRESS__)
#if defined(__clang__)
#define CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define CLONES                                                                                     \
    __attribute__((target_clones("arch=x86-64-v3", "default"), optimize("fp-contract=fast")))
#endif
#endif
#endif
#ifndef CLONES
#define CLONES
#endif

/* Rows [o0, o1) of Y. Partial tiles point their missing rows at a valid row and drop the result,
 * so the inner loop has no branches. */
CLONES static void gemm_rows(float *y, const float *x, const float *w, int T, int in, int out,
                             int o0, int o1)
{
    int in8 = in - in % LANES;
    for (int ob = o0; ob < o1; ob += BLOCK_O) {
        int oe = ob + BLOCK_O < o1 ? ob + BLOCK_O : o1;
        for (int t0 = 0; t0 < T; t0 += TILE_T) {
            const float *xr[TILE_T];
            for (int a = 0; a < TILE_T; a++)
                xr[a] = x + (size_t)(t0 + a < T ? t0 + a : t0) * in;
            for (int o = ob; o < oe; o += TILE_O) {
                const float *wr[TILE_O];
                for (int b = 0; b < TILE_O; b++)
                    wr[b] = w + (size_t)(o + b < oe ? o + b : o) * in;
                float s[TILE_T][TILE_O];
#ifdef HAVE_V8
                /* Named accumulators: arrays of vectors end up on the stack at -O2. */
                v8 c00 = {0}, c01 = {0}, c10 = {0}, c11 = {0}, c20 = {0}, c21 = {0}, c30 = {0},
                   c31 = {0}, x0, x1, x2, x3, w0, w1;
                for (int i = 0; i < in8; i += LANES) {
                    memcpy(&w0, wr[0] + i, sizeof(v8)), memcpy(&w1, wr[1] + i, sizeof(v8));
                    memcpy(&x0, xr[0] + i, sizeof(v8)), memcpy(&x1, xr[1] + i, sizeof(v8));
                    memcpy(&x2, xr[2] + i, sizeof(v8)), memcpy(&x3, xr[3] + i, sizeof(v8));
                    c00 += x0 * w0, c01 += x0 * w1, c10 += x1 * w0, c11 += x1 * w1;
                    c20 += x2 * w0, c21 += x2 * w1, c30 += x3 * w0, c31 += x3 * w1;
                }
                v8 acc[TILE_T][TILE_O] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}};
                for (int a = 0; a < TILE_T; a++)
                    for (int b = 0; b < TILE_O; b++) { /* fixed pairwise order of the lanes */
                        v8 v = acc[a][b];
                        s[a][b] = ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
                    }
#else
                for (int a = 0; a < TILE_T; a++)
                    for (int b = 0; b < TILE_O; b++) {
                        float l[LANES] = {0};
                        for (int i = 0; i < in8; i += LANES)
                            for (int j = 0; j < LANES; j++)
                                l[j] += xr[a][i + j] * wr[b][i + j];
                        s[a][b] = ((l[0] + l[4]) + (l[1] + l[5])) + ((l[2] + l[6]) + (l[3] + l[7]));
                    }
#endif
                for (int a = 0; a < TILE_T; a++)
                    for (int b = 0; b < TILE_O; b++)
                        for (int i = in8; i < in; i++)
                            s[a][b] += xr[a][i] * wr[b][i];
                for (int a = 0; a < TILE_T && t0 + a < T; a++)
                    for (int b = 0; b < TILE_O && o + b < oe; b++)
                        y[(size_t)(t0 + a) * out + o + b] = s[a][b];
            }
        }
    }
}

typedef struct job {
    float *y;
    const float *x, *w;
    int T, in, out, o0, o1;
} job;

static void *run_job(void *p)
{
    job *j = p;
    gemm_rows(j->y, j->x, j->w, j->T, j->in, j->out, j->o0, j->o1);
    return NULL;
}

static int thread_count(void)
{
    static int n; /* benign race: every thread computes the same value */
    if (n)
        return n;
    const char *e = getenv("TOPTHETA_THREADS");
    long v = e && *e ? strtol(e, NULL, 10) : sysconf(_SC_NPROCESSORS_ONLN);
    n = v < 1 ? 1 : v > MAX_THREADS ? MAX_THREADS : (int)v;
    return n;
}

void tm_gemm_host(float *y, const float *x, const float *w, int T, int in, int out)
{
    int nt = thread_count();
    if ((long)T * in * out < MIN_PARALLEL_FLOPS || out < nt * BLOCK_O)
        nt = 1;
    job jobs[MAX_THREADS];
    pthread_t tid[MAX_THREADS];
    int started[MAX_THREADS] = {0};
    /* Split on BLOCK_O boundaries so each thread keeps whole cache blocks. */
    int blocks = (out + BLOCK_O - 1) / BLOCK_O;
    for (int i = 0; i < nt; i++) {
        int b0 = blocks * i / nt, b1 = blocks * (i + 1) / nt;
        int o1 = b1 * BLOCK_O < out ? b1 * BLOCK_O : out;
        jobs[i] = (job){y, x, w, T, in, out, b0 * BLOCK_O, o1};
    }
    for (int i = 1; i < nt; i++) /* the caller's thread takes part 0 */
        started[i] = pthread_create(&tid[i], NULL, run_job, &jobs[i]) == 0;
    run_job(&jobs[0]);
    for (int i = 1; i < nt; i++) {
        if (started[i])
            pthread_join(tid[i], NULL);
        else /* could not start a thread: do its share here */
            run_job(&jobs[i]);
    }
}

struct tm_gemm {
    int device, force; /* device path on; device for every T */
    int min_rows;
    char note[256];
    const float *base;
    size_t n_floats;
#ifdef TT_HAVE_CLBLAST
    cl_command_queue queue;
    cl_mem wbuf, xbuf, ybuf;
    size_t x_cap, y_cap; /* floats */
#endif
};

/* Rows from which the device pays off by default: below, transfers and launch dominate. Weights
 * smaller than MIN_DEVICE_WEIGHTS (stories260K's) always stay on the host. */
#define DEFAULT_MIN_ROWS 32
#define MIN_DEVICE_WEIGHTS 65536
#define Y_CAP_FLOATS ((size_t)64 << 20) /* 256 MiB: classifier rows go through in passes */

tm_gemm *tm_gemm_create(cl_context clc, cl_command_queue queue, const float *weights,
                        size_t n_floats, int max_rows, int max_in, int max_out)
{
    tm_gemm *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->base = weights;
    g->n_floats = n_floats;
    const char *mode = getenv("TOPTHETA_GEMM");
    const char *rows = getenv("TOPTHETA_GEMM_MIN_ROWS");
    g->min_rows = rows && *rows ? atoi(rows) : DEFAULT_MIN_ROWS;
    g->force = mode && !strcmp(mode, "device");
    snprintf(g->note, sizeof g->note, "host GEMM");
#ifndef TT_HAVE_CLBLAST
    (void)clc, (void)queue, (void)max_rows, (void)max_in, (void)max_out;
    snprintf(g->note, sizeof g->note, "built without CLBlast");
#else
    if (!queue || !weights || (mode && !strcmp(mode, "host")))
        return g;
    /* On a CPU device (PoCL) CLBlast would run on the same cores as the host GEMM, only through
     * extra copies and a different summation order: keep the host unless asked. */
    cl_device_id dev;
    cl_device_type type = 0;
    if (!g->force && clGetCommandQueueInfo(queue, CL_QUEUE_DEVICE, sizeof dev, &dev, NULL) == 0 &&
        clGetDeviceInfo(dev, CL_DEVICE_TYPE, sizeof type, &type, NULL) == 0 &&
        (type & CL_DEVICE_TYPE_CPU)) {
        snprintf(g->note, sizeof g->note, "CPU device: host GEMM ($TOPTHETA_GEMM=device for "
                 "CLBlast)");
        return g;
    }
    cl_int e = CL_SUCCESS;
    g->queue = queue;
    g->x_cap = (size_t)max_rows * (size_t)max_in;
    g->y_cap = (size_t)max_rows * (size_t)max_out;
    g->y_cap = g->y_cap < Y_CAP_FLOATS ? g->y_cap : Y_CAP_FLOATS;
    g->wbuf = clCreateBuffer(clc, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, n_floats * 4,
                             (void *)weights, &e);
    if (e == CL_SUCCESS)
        g->xbuf = clCreateBuffer(clc, CL_MEM_READ_WRITE, g->x_cap * 4, NULL, &e);
    if (e == CL_SUCCESS)
        g->ybuf = clCreateBuffer(clc, CL_MEM_READ_WRITE, g->y_cap * 4, NULL, &e);
    if (e != CL_SUCCESS) { /* e.g. a device without room for the weights: the host still works */
        snprintf(g->note, sizeof g->note, "device GEMM buffers (%zu MiB of weights): %s",
                 n_floats * 4 >> 20, tt_status_name((tt_status)e));
        return g;
    }
    g->device = 1;
    g->note[0] = '\0';
#endif
    return g;
}

void tm_gemm_destroy(tm_gemm *g)
{
    if (!g)
        return;
#ifdef TT_HAVE_CLBLAST
    cl_mem b[3] = {g->wbuf, g->xbuf, g->ybuf};
    for (int i = 0; i < 3; i++)
        if (b[i])
            clReleaseMemObject(b[i]);
#endif
    free(g);
}

int tm_gemm_on_device(const tm_gemm *g) { return g && g->device; }
const char *tm_gemm_note(const tm_gemm *g) { return g ? g->note : "no GEMM engine"; }

#ifdef TT_HAVE_CLBLAST
/* Row passes of at most x_cap / in and y_cap / out rows; 0 on success, else the failing status
 * (already noted). The queue is in order, so each pass's write, GEMM and blocking read follow. */
static int run_device(tm_gemm *g, float *y, const float *x, const float *w, int T, int in, int out)
{
    size_t off = (size_t)(w - g->base), R = g->y_cap / (size_t)out;
    R = R < g->x_cap / (size_t)in ? R : g->x_cap / (size_t)in;
    if (R == 0)
        return snprintf(g->note, sizeof g->note, "a %d x %d product exceeds the device buffers",
                        in, out), -1;
    for (size_t r0 = 0; r0 < (size_t)T; r0 += R) {
        size_t n = (size_t)T - r0 < R ? (size_t)T - r0 : R;
        cl_int e = clEnqueueWriteBuffer(g->queue, g->xbuf, CL_FALSE, 0, n * in * 4,
                                        x + r0 * in, 0, NULL, NULL);
        if (e != CL_SUCCESS)
            return snprintf(g->note, sizeof g->note, "X write: %s", tt_status_name(e)), e;
        CLBlastStatusCode c = CLBlastSgemm(CLBlastLayoutRowMajor, CLBlastTransposeNo,
                                           CLBlastTransposeYes, n, (size_t)out, (size_t)in, 1.0f,
                                           g->xbuf, 0, (size_t)in, g->wbuf, off, (size_t)in, 0.0f,
                                           g->ybuf, 0, (size_t)out, &g->queue, NULL);
        if (c != CLBlastSuccess)
            return clFinish(g->queue),
                   snprintf(g->note, sizeof g->note, "CLBlastSgemm: status %d", (int)c), -1;
        e = clEnqueueReadBuffer(g->queue, g->ybuf, CL_TRUE, 0, n * out * 4, y + r0 * out, 0,
                                NULL, NULL);
        if (e != CL_SUCCESS)
            return snprintf(g->note, sizeof g->note, "Y read: %s", tt_status_name(e)), e;
    }
    return 0;
}
#endif

void tm_gemm_run(tm_gemm *g, float *y, const float *x, const float *w, int T, int in, int out)
{
#ifdef TT_HAVE_CLBLAST
    int inside = g && w >= g->base && (size_t)(w - g->base) + (size_t)in * out <= g->n_floats;
    int big = (long)in * out >= MIN_DEVICE_WEIGHTS;
    if (g && g->device && inside && (g->force || (T >= g->min_rows && big))) {
        if (run_device(g, y, x, w, T, in, out) == 0)
            return;
        g->device = 0; /* the note says why; the host redoes this product and all later ones */
    }
#else
    (void)g;
#endif
    tm_gemm_host(y, x, w, T, in, out);
}
