/* test-concurrency.c — the thread-safety promises of toptheta.h: two contexts driven from two
 * threads, and one context driven from two threads with a queue each, give results bit-identical
 * to the same calls made from one thread (dense, top-k, Top-θ; prefill and decode; fp32 and fp16
 * KV), and so does an out-of-order queue; concurrent table lookups agree; failing calls keep
 * per-thread messages apart. */
#include "support.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NJOBS 5
#define H 4
#define G 2
#define D 32

typedef struct job {
    tt_attn_shape sh;
    tt_attn_params pa;
    float *q;        /* [H'][q_len][D] */
    void *k, *v;     /* [G][kv_len][D], float or fp16 bits */
    float *want_o;   /* single-thread results */
    uint32_t *want_s;
} job;

static job jobs[NJOBS];
static tt_table *table;
static int reps; /* repetitions of the job list per thread */

static size_t q_elems(const tt_attn_shape *s) { return (size_t)s->n_heads * s->q_len * s->head_dim; }
static size_t kv_elems(const tt_attn_shape *s) { return (size_t)s->n_kv_heads * s->kv_len * s->head_dim; }

static void make_job(job *j, int heads, int q_len, int kv_len, tt_dtype dt, tt_mode mode, int k,
                     unsigned seed)
{
    memset(j, 0, sizeof *j);
    j->sh = (tt_attn_shape){1, heads, G, D, q_len, kv_len, dt};
    tt_attn_params_init(&j->pa);
    j->pa.mode = mode;
    j->pa.k = k;
    if (mode == TT_MODE_TOPK)
        j->pa.sdc = TT_SDC_EXACT, j->pa.vmc = 1;
    if (mode == TT_MODE_THETA)
        j->pa.table = table;
    size_t qn = q_elems(&j->sh), kn = kv_elems(&j->sh);
    j->q = malloc(qn * 4);
    j->k = malloc(kn * 4);
    j->v = malloc(kn * 4);
    j->want_o = malloc(qn * 4);
    j->want_s = malloc(tt_stats_size(&j->sh));
    ck_assert(j->q && j->k && j->v && j->want_o && j->want_s);
    unsigned st = seed;
    for (size_t i = 0; i < qn; i++)
        j->q[i] = tt_test_uniform(&st, -2, 2);
    tt_test_fill_kv(j->k, j->v, kn, dt, &st);
}

/* Runs job j on (ctx, queue) with buffers of its own; O and stats come back in o and s. */
static tt_status run_job(tt_context *ctx, cl_command_queue queue, const job *j, float *o,
                         uint32_t *s, char *msg)
{
    cl_context cx;
    tt_context_cl(ctx, &cx, NULL, NULL);
    const tt_attn_shape *sh = &j->sh;
    size_t qb = q_elems(sh) * 4, kb = kv_elems(sh) * (sh->kv_dtype == TT_DTYPE_F16 ? 2 : 4);
    size_t sb = tt_stats_size(sh);
    cl_int e[5];
    const cl_mem_flags in = CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR;
    cl_mem b[5] = {clCreateBuffer(cx, in, qb, j->q, &e[0]), clCreateBuffer(cx, in, kb, j->k, &e[1]),
                   clCreateBuffer(cx, in, kb, j->v, &e[2]),
                   clCreateBuffer(cx, CL_MEM_WRITE_ONLY, qb, NULL, &e[3]),
                   clCreateBuffer(cx, CL_MEM_WRITE_ONLY, sb, NULL, &e[4])};
    tt_status st = TT_SUCCESS;
    cl_event done = NULL;
    for (int i = 0; i < 5; i++)
        if (e[i] != CL_SUCCESS)
            st = (tt_status)e[i];
    if (st == TT_SUCCESS) {
        tt_tensor tq = tt_tensor_head_major(b[0], sh->n_heads, sh->q_len, D);
        tt_tensor tk = tt_tensor_head_major(b[1], sh->n_kv_heads, sh->kv_len, D);
        tt_tensor tv = tt_tensor_head_major(b[2], sh->n_kv_heads, sh->kv_len, D);
        tt_tensor to = tt_tensor_head_major(b[3], sh->n_heads, sh->q_len, D);
        st = tt_attention_enqueue(ctx, queue, sh, &j->pa, &tq, &tk, &tv, &to, NULL, b[4], 0, NULL,
                                  &done);
        if (st != TT_SUCCESS)
            snprintf(msg, 256, "%s", tt_last_error(NULL)); /* this thread's own message */
    }
    if (st == TT_SUCCESS) { /* waits on the call's event: the queue may be out of order */
        cl_int err = clEnqueueReadBuffer(queue, b[3], CL_TRUE, 0, qb, o, 1, &done, NULL);
        if (err == CL_SUCCESS)
            err = clEnqueueReadBuffer(queue, b[4], CL_TRUE, 0, sb, s, 1, &done, NULL);
        st = (tt_status)err;
    }
    if (done)
        clReleaseEvent(done);
    for (int i = 0; i < 5; i++)
        if (b[i])
            clReleaseMemObject(b[i]);
    return st;
}

typedef struct worker {
    int id;
    tt_context *ctx;
    cl_command_queue queue;
    tt_status st;
    int mismatches, calls;
    char msg[256];
} worker;

/* Runs the job list reps times, comparing every output bit for bit with the single-thread run. */
static void *work(void *arg)
{
    worker *w = arg;
    for (int r = 0; r < reps && w->st == TT_SUCCESS; r++)
        for (int i = 0; i < NJOBS && w->st == TT_SUCCESS; i++) {
            /* Alternate the order between threads and rounds, so different programs race. */
            const job *j = &jobs[(i + r + w->id) % NJOBS];
            size_t qb = q_elems(&j->sh) * 4, sb = tt_stats_size(&j->sh);
            float *o = malloc(qb);
            uint32_t *s = malloc(sb);
            if (!o || !s)
                w->st = TT_OUT_OF_HOST_MEMORY;
            else if ((w->st = run_job(w->ctx, w->queue, j, o, s, w->msg)) == TT_SUCCESS)
                w->mismatches += memcmp(o, j->want_o, qb) != 0 || memcmp(s, j->want_s, sb) != 0;
            w->calls++;
            free(o);
            free(s);
        }
    return NULL;
}

static void run_threads(worker *w, int n)
{
    pthread_t th[2];
    for (int i = 0; i < n; i++) {
        w[i].id = i;
        ck_assert_int_eq(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < n; i++) {
        ck_assert_msg(w[i].st == TT_SUCCESS, "thread %d: %s: %s", i, tt_status_name(w[i].st),
                      w[i].msg);
        ck_assert_msg(w[i].mismatches == 0, "thread %d: %d of %d calls differ from one thread", i,
                      w[i].mismatches, w[i].calls);
    }
    printf("# %d threads x %d calls, all bit-identical to the single-thread run\n", n,
           w[0].calls);
}

static void setup(void)
{
    reps = tt_test_small() ? 1 : 3;
    tt_table_meta m;
    memset(&m, 0, sizeof m);
    m.n_layers = 1, m.n_heads = 2 * H, m.n_kv_heads = G, m.head_dim = D, m.score_precision = 32;
    ck_assert_int_eq(tt_table_create(&m, &table), TT_SUCCESS);
    ck_assert_int_eq(tt_table_set_layer_k(table, 0, 8), TT_SUCCESS);
    const int ns[3] = {16, 64, 256};
    for (int h = 0; h < 2 * H; h++) {
        const float th[3] = {0.2f + 0.05f * (float)h, 0.6f, 0.9f};
        ck_assert_int_eq(tt_table_set_curve(table, 0, h, 3, ns, th, NULL), TT_SUCCESS);
    }
    make_job(&jobs[0], H, 48, 48, TT_DTYPE_F32, TT_MODE_DENSE, 0, 11);
    make_job(&jobs[1], H, 16, 80, TT_DTYPE_F32, TT_MODE_TOPK, 8, 12);
    make_job(&jobs[2], 2 * H, 32, 96, TT_DTYPE_F32, TT_MODE_THETA, 0, 13);
    make_job(&jobs[3], 2 * H, 1, 300, TT_DTYPE_F16, TT_MODE_THETA, 0, 14);
    make_job(&jobs[4], H, 1, 257, TT_DTYPE_F32, TT_MODE_TOPK, 16, 15);
    /* The single-thread results, on a context of their own. */
    tt_context *ctx = NULL;
    ck_assert_int_eq(tt_context_create(NULL, &ctx), TT_SUCCESS);
    cl_command_queue q;
    tt_context_cl(ctx, NULL, NULL, &q);
    char msg[256] = "";
    for (int i = 0; i < NJOBS; i++)
        ck_assert_msg(run_job(ctx, q, &jobs[i], jobs[i].want_o, jobs[i].want_s, msg) == 0,
                      "job %d: %s", i, msg);
    tt_context_destroy(ctx);
}

static void teardown(void)
{
    for (int i = 0; i < NJOBS; i++) {
        free(jobs[i].q), free(jobs[i].k), free(jobs[i].v);
        free(jobs[i].want_o), free(jobs[i].want_s);
    }
    tt_table_destroy(table);
}

START_TEST(test_two_contexts_two_threads)
{
    worker w[2];
    memset(w, 0, sizeof w);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(tt_context_create(NULL, &w[i].ctx), TT_SUCCESS);
        tt_context_cl(w[i].ctx, NULL, NULL, &w[i].queue); /* each context's own queue */
    }
    run_threads(w, 2);
    tt_context_destroy(w[0].ctx);
    tt_context_destroy(w[1].ctx);
}
END_TEST

/* A fresh context, so both threads also race to build its programs. */
START_TEST(test_one_context_two_queues)
{
    tt_context *ctx = NULL;
    ck_assert_int_eq(tt_context_create(NULL, &ctx), TT_SUCCESS);
    cl_context cx;
    cl_device_id dev;
    tt_context_cl(ctx, &cx, &dev, NULL);
    worker w[2];
    memset(w, 0, sizeof w);
    for (int i = 0; i < 2; i++) {
        cl_int err;
        w[i].ctx = ctx;
        w[i].queue = clCreateCommandQueue(cx, dev, 0, &err);
        ck_assert_int_eq(err, CL_SUCCESS);
    }
    run_threads(w, 2);
    clReleaseCommandQueue(w[0].queue);
    clReleaseCommandQueue(w[1].queue);
    tt_context_destroy(ctx);
}
END_TEST

/* An out-of-order queue: the library must chain its own kernels with events there (on in-order
 * queues it relies on the queue's order and reuses scratch buffers between calls). */
START_TEST(test_out_of_order_queue)
{
    tt_context *ctx = NULL;
    ck_assert_int_eq(tt_context_create(NULL, &ctx), TT_SUCCESS);
    worker w[1];
    memset(w, 0, sizeof w);
    w[0].ctx = ctx;
    w[0].queue = tt_test_out_of_order_queue(ctx);
    if (w[0].queue) {
        run_threads(w, 1);
        clReleaseCommandQueue(w[0].queue);
    }
    tt_context_destroy(ctx);
}
END_TEST

#define LOOKUP_NS 43 /* n = 1, 8, ..., 295 */
static float want_theta[2 * H][LOOKUP_NS];

typedef struct lookups {
    int id, bad;
    tt_status fail; /* a failing call's status, to check the thread's own message */
    char msg[128];
} lookups;

/* Every (head, n) of the table, many times, against what one thread computed; then one failing
 * call whose message must be this thread's, not the other's. */
static void *lookup_work(void *arg)
{
    lookups *l = arg;
    for (int round = 0; round < 20; round++)
        for (int h = 0; h < 2 * H; h++)
            for (int i = 0; i < LOOKUP_NS; i++) {
                float th = 0;
                tt_status st = tt_table_lookup(table, 0, h, 1 + 7 * i, &th, NULL);
                l->bad += st != TT_SUCCESS || memcmp(&th, &want_theta[h][i], sizeof th) != 0;
            }
    float th;
    l->fail = tt_table_lookup(table, 0, 2 * H + l->id, 5, &th, NULL);
    snprintf(l->msg, sizeof l->msg, "%s", tt_last_error(NULL));
    return NULL;
}

START_TEST(test_concurrent_table_lookups)
{
    for (int h = 0; h < 2 * H; h++)
        for (int i = 0; i < LOOKUP_NS; i++)
            ck_assert_int_eq(tt_table_lookup(table, 0, h, 1 + 7 * i, &want_theta[h][i], NULL), 0);
    pthread_t th[2];
    lookups l[2];
    memset(l, 0, sizeof l);
    for (int i = 0; i < 2; i++) {
        l[i].id = i;
        ck_assert_int_eq(pthread_create(&th[i], NULL, lookup_work, &l[i]), 0);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 2; i++) {
        char want[32];
        snprintf(want, sizeof want, "head %d", 2 * H + i);
        ck_assert_int_eq(l[i].bad, 0);
        ck_assert_int_eq(l[i].fail, TT_ERR_TABLE_RANGE);
        ck_assert_msg(strstr(l[i].msg, want), "thread %d got \"%s\"", i, l[i].msg);
    }
}
END_TEST

int main(void)
{
    if (!tt_test_have_device())
        return tt_test_skip("no OpenCL device");
    Suite *s = suite_create("concurrency");
    TCase *tc = tcase_create("threads");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_concurrent_table_lookups);
    tcase_add_test(tc, test_two_contexts_two_threads);
    tcase_add_test(tc, test_one_context_two_queues);
    tcase_add_test(tc, test_out_of_order_queue);
    suite_add_tcase(s, tc);
    return tt_test_run(s);
}
