/* test-async.c — tt_attention_enqueue never waits for the device: calls queued behind a user event
 * that is still unset return at once (a wait would hang the suite into its timeout), and once the
 * event is set they give, bit for bit, what the same calls give one at a time. The table changes
 * after the calls were enqueued, so each call must carry the thresholds it saw at enqueue time. */
#include "support.h"
#include "internal.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NJOBS 6
#define G 2
#define D 32

typedef struct job {
    tt_attn_shape sh;
    tt_attn_params pa;
    float *q;
    void *k, *v;
    float *want_o;
    uint32_t *want_s;
    cl_mem b[5]; /* q, k, v, o, stats of the gated run */
} job;

static job jobs[NJOBS];
static tt_table *table, *table_post; /* pre-softmax (with D̂) and post-softmax θ */

static size_t q_elems(const tt_attn_shape *s)
{
    return (size_t)s->batch * s->n_heads * s->q_len * s->head_dim;
}
static size_t kv_elems(const tt_attn_shape *s)
{
    return (size_t)s->batch * s->n_kv_heads * s->kv_len * s->head_dim;
}
static size_t kv_bytes(const tt_attn_shape *s)
{
    return kv_elems(s) * (s->kv_dtype == TT_DTYPE_F16 ? 2 : 4);
}

/* θ and D̂ curves for 2·G·2 query heads; shift moves every θ (the change made after enqueue). */
static void set_curves(float shift)
{
    const int ns[3] = {8, 64, 256};
    for (int h = 0; h < 4 * G; h++) {
        const float th[3] = {0.1f + 0.05f * (float)h + shift, 0.5f + shift, 0.8f + shift};
        const float dh[3] = {0.5f, 2.0f, 6.0f};
        const float pth[3] = {0.004f + 0.01f * shift, 0.002f, 0.001f};
        ck_assert_int_eq(tt_table_set_curve(table, 0, h, 3, ns, th, dh), TT_SUCCESS);
        ck_assert_int_eq(tt_table_set_curve(table_post, 0, h, 3, ns, pth, NULL), TT_SUCCESS);
    }
}

static void make_job(job *j, int batch, int heads, int q_len, int kv_len, tt_dtype dt,
                     tt_mode mode, tt_placement place, unsigned seed)
{
    memset(j, 0, sizeof *j);
    j->sh = (tt_attn_shape){batch, heads, G, D, q_len, kv_len, dt};
    tt_attn_params_init(&j->pa);
    j->pa.mode = mode;
    if (mode == TT_MODE_THETA) {
        j->pa.table = place == TT_PLACE_POST ? table_post : table;
        j->pa.placement = place;
        j->pa.vmc = 1;
        if (place == TT_PLACE_PRE)
            j->pa.sdc = TT_SDC_OFFLINE;
    }
    const size_t qn = q_elems(&j->sh), kn = kv_elems(&j->sh);
    j->q = malloc(qn * 4);
    j->k = malloc(kn * 4);
    j->v = malloc(kn * 4);
    j->want_o = malloc(qn * 4);
    j->want_s = malloc(tt_stats_size(&j->sh));
    ck_assert(j->q && j->k && j->v && j->want_o && j->want_s);
    unsigned st = tt_test_seed() * 2654435761u + seed;
    for (size_t i = 0; i < qn; i++)
        j->q[i] = tt_test_uniform(&st, -2, 2);
    tt_test_fill_kv(j->k, j->v, kn, dt, &st);
}

static tt_tensor view(cl_mem b, const tt_attn_shape *s, int heads, int rows)
{
    tt_tensor t = tt_tensor_head_major(b, heads, rows, D);
    t.stride_batch = (size_t)heads * rows * D;
    return t;
}

/* Creates job j's buffers (O and stats poisoned) and enqueues it behind gate. */
static void enqueue_gated(tt_context *ctx, cl_command_queue queue, job *j, cl_event gate,
                          cl_event *done)
{
    cl_context cx;
    tt_context_cl(ctx, &cx, NULL, NULL);
    const tt_attn_shape *s = &j->sh;
    const size_t qb = q_elems(s) * 4, sb = tt_stats_size(s);
    unsigned char *poison = malloc(qb > sb ? qb : sb);
    ck_assert(poison);
    memset(poison, 0xff, qb > sb ? qb : sb); /* NaN floats, 0xffffffff counts */
    const cl_mem_flags in = CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR;
    const cl_mem_flags out = CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR;
    cl_int e[5];
    j->b[0] = clCreateBuffer(cx, in, qb, j->q, &e[0]);
    j->b[1] = clCreateBuffer(cx, in, kv_bytes(s), j->k, &e[1]);
    j->b[2] = clCreateBuffer(cx, in, kv_bytes(s), j->v, &e[2]);
    j->b[3] = clCreateBuffer(cx, out, qb, poison, &e[3]);
    j->b[4] = clCreateBuffer(cx, out, sb, poison, &e[4]);
    free(poison);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(e[i], CL_SUCCESS);
    tt_tensor tq = view(j->b[0], s, s->n_heads, s->q_len);
    tt_tensor tk = view(j->b[1], s, G, s->kv_len), tv = view(j->b[2], s, G, s->kv_len);
    tt_tensor to = view(j->b[3], s, s->n_heads, s->q_len);
    tt_status st = tt_attention_enqueue(ctx, queue, s, &j->pa, &tq, &tk, &tv, &to, NULL, j->b[4],
                                        1, &gate, done);
    ck_assert_msg(st == TT_SUCCESS, "%s: %s", tt_status_name(st), tt_last_error(ctx));
}

/* Reads job j's results after its call and compares them bit for bit with the single calls. */
static void check_job(cl_command_queue queue, job *j, int idx, cl_event done, const char *what)
{
    const size_t qb = q_elems(&j->sh) * 4, sb = tt_stats_size(&j->sh);
    float *o = malloc(qb);
    uint32_t *s = malloc(sb);
    ck_assert(o && s);
    ck_assert_int_eq(clEnqueueReadBuffer(queue, j->b[3], CL_TRUE, 0, qb, o, 1, &done, NULL),
                     CL_SUCCESS);
    ck_assert_int_eq(clEnqueueReadBuffer(queue, j->b[4], CL_TRUE, 0, sb, s, 1, &done, NULL),
                     CL_SUCCESS);
    for (size_t i = 0; i < qb / 4; i++)
        ck_assert_msg(memcmp(&o[i], &j->want_o[i], 4) == 0,
                      "%s: job %d O[%zu] = %g, one call at a time %g", what, idx, i, o[i],
                      j->want_o[i]);
    ck_assert_msg(memcmp(s, j->want_s, sb) == 0, "%s: job %d statistics differ", what, idx);
    free(o);
    free(s);
    for (int i = 0; i < 5; i++)
        clReleaseMemObject(j->b[i]);
}

static void setup(void)
{
    tt_table_meta m;
    memset(&m, 0, sizeof m);
    m.n_layers = 1, m.n_heads = 4 * G, m.n_kv_heads = G, m.head_dim = D, m.score_precision = 32;
    ck_assert_int_eq(tt_table_create(&m, &table), TT_SUCCESS);
    ck_assert_int_eq(tt_table_set_layer_k(table, 0, 4), TT_SUCCESS);
    m.placement = TT_PLACE_POST;
    ck_assert_int_eq(tt_table_create(&m, &table_post), TT_SUCCESS);
    ck_assert_int_eq(tt_table_set_layer_k(table_post, 0, 4), TT_SUCCESS);
    set_curves(0.0f);
    /* prefill dense, Top-θ pre with offline SDC and VMC (fp16 and batch 2), the two-pass
     * post-softmax cut, then decode; two calls of one shape with different data */
    make_job(&jobs[0], 1, 2 * G, 40, 70, TT_DTYPE_F32, TT_MODE_DENSE, TT_PLACE_PRE, 1);
    make_job(&jobs[1], 2, 4 * G, 33, 90, TT_DTYPE_F16, TT_MODE_THETA, TT_PLACE_PRE, 2);
    make_job(&jobs[2], 1, 4 * G, 24, 64, TT_DTYPE_F32, TT_MODE_THETA, TT_PLACE_POST, 3);
    make_job(&jobs[3], 2, 4 * G, 1, 300, TT_DTYPE_F16, TT_MODE_THETA, TT_PLACE_PRE, 4);
    make_job(&jobs[4], 1, 4 * G, 50, 130, TT_DTYPE_F32, TT_MODE_THETA, TT_PLACE_PRE, 5);
    make_job(&jobs[5], 1, 4 * G, 50, 130, TT_DTYPE_F32, TT_MODE_THETA, TT_PLACE_PRE, 6);
    tt_context *ctx = NULL;
    ck_assert_int_eq(tt_context_create(NULL, &ctx), TT_SUCCESS);
    for (int i = 0; i < NJOBS; i++) {
        job *j = &jobs[i];
        tt_status st = tt_attention_host(ctx, &j->sh, &j->pa, j->q, j->k, j->v, j->want_o, NULL,
                                         j->want_s);
        ck_assert_msg(st == TT_SUCCESS, "job %d: %s: %s", i, tt_status_name(st),
                      tt_last_error(ctx));
    }
    /* the change made after enqueue would change every Top-θ job's kept counts */
    set_curves(0.3f);
    for (int i = 0; i < NJOBS; i++) {
        job *j = &jobs[i];
        if (j->pa.mode != TT_MODE_THETA)
            continue;
        const size_t qb = q_elems(&j->sh) * 4, sb = tt_stats_size(&j->sh);
        float *o = malloc(qb);
        uint32_t *s = malloc(sb);
        ck_assert(o && s);
        ck_assert_int_eq(tt_attention_host(ctx, &j->sh, &j->pa, j->q, j->k, j->v, o, NULL, s),
                         TT_SUCCESS);
        ck_assert_msg(memcmp(s, j->want_s, sb) != 0, "job %d: the table change changes nothing", i);
        free(o);
        free(s);
    }
    set_curves(0.0f);
    tt_context_destroy(ctx);
}

static void teardown(void)
{
    for (int i = 0; i < NJOBS; i++) {
        free(jobs[i].q), free(jobs[i].k), free(jobs[i].v);
        free(jobs[i].want_o), free(jobs[i].want_s);
    }
    tt_table_destroy(table);
    tt_table_destroy(table_post);
}

/* All jobs behind one gate on queue, twice over (the second round reuses what the first left). */
static void gated_rounds(tt_context *ctx, cl_command_queue queue, const char *what)
{
    cl_context cx;
    tt_context_cl(ctx, &cx, NULL, NULL);
    set_curves(0.0f); /* a test that failed before this one may have left the change in place */
    for (int round = 0; round < 2; round++) {
        cl_int err;
        cl_event gate = clCreateUserEvent(cx, &err), done[NJOBS];
        ck_assert_int_eq(err, CL_SUCCESS);
        for (int i = 0; i < NJOBS; i++)
            enqueue_gated(ctx, queue, &jobs[i], gate, &done[i]);
        /* every call is still waiting: nothing it needs may come from the host any more */
        for (int i = 0; i < NJOBS; i++) {
            cl_int status = CL_COMPLETE;
            clGetEventInfo(done[i], CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof status, &status,
                           NULL);
            ck_assert_msg(status != CL_COMPLETE, "%s: job %d ran before its gate opened", what,
                          i);
        }
        set_curves(0.3f);
        ck_assert_int_eq(clSetUserEventStatus(gate, CL_COMPLETE), CL_SUCCESS);
        for (int i = 0; i < NJOBS; i++) {
            check_job(queue, &jobs[i], i, done[i], what);
            clReleaseEvent(done[i]);
        }
        clReleaseEvent(gate);
        set_curves(0.0f);
    }
    printf("# %s: %d gated calls x 2 rounds, bit-identical to one call at a time\n", what,
           NJOBS);
}

/* On a context of its own: its in-order queue (param_bytes > 0: with the kernel parameter space
 * cut to that size), or an out-of-order queue where the device has one. */
static void run_on_fresh_context(int out_of_order, size_t param_bytes, const char *what)
{
    tt_context *ctx = NULL;
    ck_assert_int_eq(tt_context_create(NULL, &ctx), TT_SUCCESS);
    if (param_bytes)
        tt__context_limit_param_size(ctx, param_bytes);
    cl_command_queue q = NULL;
    if (out_of_order)
        q = tt_test_out_of_order_queue(ctx);
    else
        tt_context_cl(ctx, NULL, NULL, &q);
    if (q)
        gated_rounds(ctx, q, what);
    if (q && out_of_order)
        clReleaseCommandQueue(q);
    tt_context_destroy(ctx);
}

START_TEST(test_in_order_queue) { run_on_fresh_context(0, 0, "in-order queue"); }
END_TEST

/* A device whose parameter space cannot take per-head θ and D̂ by value gets them uploaded with
 * each decode call: the same results, gated or not. */
START_TEST(test_small_parameter_space) { run_on_fresh_context(0, 256, "256-byte parameter space"); }
END_TEST

START_TEST(test_out_of_order_queue) { run_on_fresh_context(1, 0, "out-of-order queue"); }
END_TEST

int main(void)
{
    if (!tt_test_have_device())
        return tt_test_skip("no OpenCL device");
    Suite *s = suite_create("async");
    TCase *tc = tcase_create("async");
    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_in_order_queue);
    tcase_add_test(tc, test_small_parameter_space);
    tcase_add_test(tc, test_out_of_order_queue);
    suite_add_tcase(s, tc);
    return tt_test_run(s);
}
