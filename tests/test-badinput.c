/* test-badinput.c — the bad-input matrix: every public entry point driven through each class of
 * invalid argument (null, zero, negative, out of range, inconsistent shapes and strides, short
 * buffers, k, tables, foreign or released objects, impossible launches), each answered by its
 * named status and a non-empty message. Prints "# bad-input matrix: N cases" as a TAP comment. */
#include "support.h"
#include "internal.h"
#include "model/model.h"
#include "table_file.h"
#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define H 4     /* query heads of the base call */
#define G 2     /* KV heads */
#define D 16    /* head size */
#define N 40    /* rows */
#define HMAX 128 /* Q/O buffers and host arrays hold this many heads, so wide shapes stay in bounds */
#define NA 1     /* "not applicable" in a column of the matrix (never a status) */

static int n_cases; /* counted by expect(); printed at the end */

/* Clears both messages, so that a non-empty one afterwards belongs to the call under test. */
static void clear_messages(tt_context *c)
{
    tt__clear_error(NULL);
    if (c)
        c->message[0] = '\0';
}

static void expect(const char *what, tt_status got, tt_status want, const tt_context *c)
{
    n_cases++;
    ck_assert_msg(got == want, "%s: %s, expected %s (%s)", what, tt_status_name(got),
                  tt_status_name(want), tt_last_error(NULL));
    if (want != TT_SUCCESS) {
        ck_assert_msg(tt_last_error(NULL)[0] != '\0', "%s: no message", what);
        ck_assert_msg(!c || tt_last_error(c)[0] != '\0', "%s: no context message", what);
    }
}

#define EXPECT(call, want)                                                                         \
    do {                                                                                           \
        clear_messages(NULL);                                                                      \
        expect(#call, (call), (want), NULL);                                                       \
    } while (0)

/* ---- Attention: one base call, mutated row by row ------------------------------------------ */
typedef struct call {
    tt_context *ctx;
    cl_command_queue queue;
    const tt_attn_shape *shape;
    const tt_attn_params *params;
    const tt_tensor *q, *k, *v, *o;
    cl_mem vsum, stats;
    cl_uint num_wait;
    const cl_event *wait;
    tt_attn_shape sh;
    tt_attn_params pa;
    tt_tensor tq, tk, tv, to;
    const float *hq;
    const void *hk, *hv;
    float *ho;
} call;

static tt_context *ctx, *other;
static cl_context cx, ocx;
static cl_command_queue queue, oqueue, orphan_queue;
static cl_mem bq, bk, bv, bo, small, foreign, orphan;
static float *hq, *hk, *hv, *ho;
static tt_table *tab, *tab_wide, *tab_kv1, *tab_d32, *tab_post, *tab_hole;
static cl_ulong local_mem;
static cl_event dummy_event;

/* Buffers start with defined contents (a copy of hq): kernels that run on them must not compute
 * on uninitialised memory, which valgrind would rightly report. */
static cl_mem mk(cl_context c, size_t bytes)
{
    cl_int err;
    cl_mem m = clCreateBuffer(c, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, bytes, hq, &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    return m;
}

/* 2 layers; layer 0 has k = 4 and curves at n = 8, 64 on every head but `hole`. */
static tt_table *table(int heads, int kv, int dim, tt_placement place, int hole)
{
    tt_table_meta m;
    memset(&m, 0, sizeof m);
    m.n_layers = 2, m.n_heads = heads, m.n_kv_heads = kv, m.head_dim = dim, m.placement = place;
    m.score_precision = 32;
    tt_table *t = NULL;
    ck_assert_int_eq(tt_table_create(&m, &t), TT_SUCCESS);
    ck_assert_int_eq(tt_table_set_layer_k(t, 0, 4), TT_SUCCESS);
    const int ns[2] = {8, 64};
    const float th[2] = {0.1f, 0.2f};
    for (int h = 0; h < heads; h++)
        if (h != hole)
            ck_assert_int_eq(tt_table_set_curve(t, 0, h, 2, ns, th, NULL), TT_SUCCESS);
    return t;
}

static void setup(void)
{
    ck_assert_int_eq(tt_context_create(NULL, &ctx), TT_SUCCESS);
    ck_assert_int_eq(tt_context_create(NULL, &other), TT_SUCCESS);
    tt_context_cl(ctx, &cx, NULL, &queue);
    tt_context_cl(other, &ocx, NULL, &oqueue);
    size_t hn = (size_t)HMAX * N * D;
    hq = calloc(hn, 4), hk = calloc(hn, 4), hv = calloc(hn, 4), ho = calloc(hn, 4);
    ck_assert(hq && hk && hv && ho);
    for (size_t i = 0; i < hn; i++)
        hq[i] = hk[i] = hv[i] = (float)((i * 7919) % 13) / 13.0f - 0.5f;
    bq = mk(cx, (size_t)HMAX * N * D * 4);
    bo = mk(cx, (size_t)HMAX * N * D * 4);
    bk = mk(cx, (size_t)G * N * D * 4);
    bv = mk(cx, (size_t)G * N * D * 4);
    small = mk(cx, 16);
    foreign = mk(ocx, (size_t)HMAX * N * D * 4);
    /* A buffer and a queue that outlive the tt_context that made them ("released" objects that
     * stay detectable: they still name their own, now private, OpenCL context). */
    tt_context *gone = NULL;
    ck_assert_int_eq(tt_context_create(NULL, &gone), TT_SUCCESS);
    cl_context gcx;
    cl_device_id gdev;
    tt_context_cl(gone, &gcx, &gdev, NULL);
    orphan = mk(gcx, (size_t)HMAX * N * D * 4);
    cl_int err;
    orphan_queue = clCreateCommandQueue(gcx, gdev, 0, &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    tt_context_destroy(gone);
    dummy_event = clCreateUserEvent(cx, &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    clSetUserEventStatus(dummy_event, CL_COMPLETE);
    tab = table(H, G, D, TT_PLACE_PRE, -1);
    tab_wide = table(2 * H, 0, 0, TT_PLACE_PRE, -1);
    tab_kv1 = table(H, 1, 0, TT_PLACE_PRE, -1);
    tab_d32 = table(H, 0, 32, TT_PLACE_PRE, -1);
    tab_post = table(H, 0, 0, TT_PLACE_POST, -1);
    tab_hole = table(H, G, D, TT_PLACE_PRE, H - 1);
    tt_device_info info;
    tt_context_device_info(ctx, &info);
    local_mem = info.local_mem_size;
}

static void teardown(void)
{
    cl_mem all[] = {bq, bk, bv, bo, small, foreign, orphan};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        clReleaseMemObject(all[i]);
    clReleaseCommandQueue(orphan_queue);
    clReleaseEvent(dummy_event);
    tt_table *ts[] = {tab, tab_wide, tab_kv1, tab_d32, tab_post, tab_hole};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++)
        tt_table_destroy(ts[i]);
    free(hq), free(hk), free(hv), free(ho);
    tt_context_destroy(other);
    tt_context_destroy(ctx);
    ctx = other = NULL;
}

/* The valid base call: prefill (q_len = N) or decode (q_len = 1), dense. */
static void base(call *c, int decode)
{
    memset(c, 0, sizeof *c);
    c->ctx = ctx, c->queue = queue;
    c->sh = (tt_attn_shape){1, H, G, D, decode ? 1 : N, N, TT_DTYPE_F32};
    tt_attn_params_init(&c->pa);
    c->tq = tt_tensor_head_major(bq, H, N, D), c->to = tt_tensor_head_major(bo, H, N, D);
    c->tk = tt_tensor_head_major(bk, G, N, D), c->tv = tt_tensor_head_major(bv, G, N, D);
    c->shape = &c->sh, c->params = &c->pa;
    c->q = &c->tq, c->k = &c->tk, c->v = &c->tv, c->o = &c->to;
    c->hq = hq, c->hk = hk, c->hv = hv, c->ho = ho;
    /* Undo what the previous row changed outside the call. */
    tt__context_limit_local_mem(ctx, local_mem);
    unsetenv("TT_WG");
}

static void theta(call *c, const tt_table *t) { c->pa.mode = TT_MODE_THETA, c->pa.table = t; }
static void topk(call *c, int k) { c->pa.mode = TT_MODE_TOPK, c->pa.k = k; }

/* Head size 128 on 5 rows with 1 KiB of local memory: no work-group size can fit. */
static void tiny_local(call *c)
{
    tt__context_limit_local_mem(c->ctx, 1024);
    c->sh.head_dim = 128, c->sh.q_len = c->sh.q_len > 1 ? 5 : 1, c->sh.kv_len = 5;
    c->tq = tt_tensor_head_major(bq, H, 5, 128), c->to = tt_tensor_head_major(bo, H, 5, 128);
    c->tk = tt_tensor_head_major(bk, G, 5, 128), c->tv = tt_tensor_head_major(bv, G, 5, 128);
}

/* One key more than the K buffer holds, with strides that fit the longer view. */
static void long_k(call *c)
{
    c->sh.kv_len = N + 1;
    c->tk = tt_tensor_head_major(bk, G, N + 1, D);
}

/* class, case, mutation, then the expected status of enqueue, host call and reference. */
#define ROWS(X)                                                                                    \
    X("null", "context", c->ctx = NULL, TT_ERR_NULL_ARGUMENT, TT_ERR_NULL_ARGUMENT, NA)            \
    X("null", "queue", c->queue = NULL, TT_ERR_NULL_ARGUMENT, NA, NA)                              \
    X("null", "shape", c->shape = NULL, TT_ERR_NULL_ARGUMENT, TT_ERR_NULL_ARGUMENT,                \
      TT_ERR_NULL_ARGUMENT)                                                                        \
    X("null", "params", c->params = NULL, TT_ERR_NULL_ARGUMENT, TT_ERR_NULL_ARGUMENT,              \
      TT_ERR_NULL_ARGUMENT)                                                                        \
    X("null", "Q", c->q = NULL; c->hq = NULL, TT_ERR_NULL_ARGUMENT, TT_ERR_NULL_ARGUMENT,          \
      TT_ERR_NULL_ARGUMENT)                                                                        \
    X("null", "K", c->k = NULL; c->hk = NULL, TT_ERR_NULL_ARGUMENT, TT_ERR_NULL_ARGUMENT,          \
      TT_ERR_NULL_ARGUMENT)                                                                        \
    X("null", "V", c->v = NULL; c->hv = NULL, TT_ERR_NULL_ARGUMENT, TT_ERR_NULL_ARGUMENT,          \
      TT_ERR_NULL_ARGUMENT)                                                                        \
    X("null", "O", c->o = NULL; c->ho = NULL, TT_ERR_NULL_ARGUMENT, TT_ERR_NULL_ARGUMENT,          \
      TT_ERR_NULL_ARGUMENT)                                                                        \
    X("null", "Q.buf", c->tq.buf = NULL, TT_ERR_NULL_ARGUMENT, NA, NA)                             \
    X("null", "O.buf", c->to.buf = NULL, TT_ERR_NULL_ARGUMENT, NA, NA)                             \
    X("null", "wait list with num_wait 2", c->num_wait = 2, TT_INVALID_EVENT_WAIT_LIST, NA, NA)    \
    X("zero", "num_wait with a wait list", c->wait = &dummy_event, TT_INVALID_EVENT_WAIT_LIST, NA, \
      NA)                                                                                          \
    X("null", "Top-theta table", theta(c, NULL), TT_ERR_NO_TABLE, TT_ERR_NO_TABLE,                 \
      TT_ERR_NO_TABLE)                                                                             \
    X("null", "offline-SDC table", topk(c, 4); c->pa.sdc = TT_SDC_OFFLINE, TT_ERR_NO_TABLE,        \
      TT_ERR_NO_TABLE, TT_ERR_NO_TABLE)                                                            \
    SHAPE_ROWS(X) PARAM_ROWS(X) TENSOR_ROWS(X) TABLE_ROWS(X) OBJECT_ROWS(X) LAUNCH_ROWS(X)
#define BAD3(e) e, e, e
#define SHAPE_ROWS(X)                                                                              \
    X("zero", "batch", c->sh.batch = 0, BAD3(TT_ERR_BAD_SHAPE))                                    \
    X("zero", "n_heads", c->sh.n_heads = 0, BAD3(TT_ERR_BAD_SHAPE))                                \
    X("zero", "n_kv_heads", c->sh.n_kv_heads = 0, BAD3(TT_ERR_BAD_SHAPE))                          \
    X("zero", "head_dim", c->sh.head_dim = 0, BAD3(TT_ERR_BAD_SHAPE))                              \
    X("zero", "q_len", c->sh.q_len = 0, BAD3(TT_ERR_BAD_SHAPE))                                    \
    X("zero", "kv_len", c->sh.kv_len = 0, BAD3(TT_ERR_BAD_SHAPE))                                  \
    X("negative", "batch", c->sh.batch = -1, BAD3(TT_ERR_BAD_SHAPE))                               \
    X("negative", "n_heads", c->sh.n_heads = -4, BAD3(TT_ERR_BAD_SHAPE))                           \
    X("negative", "n_kv_heads", c->sh.n_kv_heads = -2, BAD3(TT_ERR_BAD_SHAPE))                     \
    X("negative", "head_dim", c->sh.head_dim = -16, BAD3(TT_ERR_BAD_SHAPE))                        \
    X("negative", "q_len", c->sh.q_len = -1, BAD3(TT_ERR_BAD_SHAPE))                               \
    X("negative", "kv_len", c->sh.kv_len = INT_MIN, BAD3(TT_ERR_BAD_SHAPE))                        \
    X("range", "head_dim 257", c->sh.head_dim = 257, BAD3(TT_ERR_BAD_SHAPE))                       \
    X("range", "head_dim INT_MAX", c->sh.head_dim = INT_MAX, BAD3(TT_ERR_BAD_SHAPE))               \
    X("inconsistent", "heads % kv heads", c->sh.n_heads = 3, BAD3(TT_ERR_GQA_MISMATCH))           \
    X("inconsistent", "kv heads > heads", c->sh.n_kv_heads = 8, BAD3(TT_ERR_GQA_MISMATCH))        \
    X("inconsistent", "q_len > kv_len", c->sh.q_len = c->sh.kv_len + 1,                           \
      BAD3(TT_ERR_QLEN_EXCEEDS_KV))                                                                \
    X("range", "GQA group 128", c->sh.n_heads = 128; c->sh.n_kv_heads = 1, TT_ERR_UNSUPPORTED,     \
      TT_ERR_UNSUPPORTED, TT_SUCCESS)
#define PARAM_ROWS(X)                                                                              \
    X("zero", "top-k k", topk(c, 0), BAD3(TT_ERR_BAD_K))                                           \
    X("negative", "top-k k", topk(c, -3), BAD3(TT_ERR_BAD_K))                                      \
    X("negative", "Top-theta k", theta(c, tab); c->pa.k = -1, BAD3(TT_ERR_BAD_K))                  \
    X("range", "top-k k > kv_len (all rows dense)", topk(c, INT_MAX), TT_SUCCESS, NA, TT_SUCCESS) \
    X("negative", "mode", c->pa.mode = (tt_mode)-1, BAD3(TT_ERR_BAD_ENUM))                         \
    X("range", "mode", c->pa.mode = (tt_mode)3, BAD3(TT_ERR_BAD_ENUM))                             \
    X("negative", "placement", c->pa.placement = (tt_placement)-1, BAD3(TT_ERR_BAD_ENUM))          \
    X("range", "placement", c->pa.placement = (tt_placement)3, BAD3(TT_ERR_BAD_ENUM))              \
    X("negative", "sdc", c->pa.sdc = (tt_sdc)-1, BAD3(TT_ERR_BAD_ENUM))                            \
    X("range", "sdc", c->pa.sdc = (tt_sdc)4, BAD3(TT_ERR_BAD_ENUM))                                \
    X("negative", "kv_dtype", c->sh.kv_dtype = (tt_dtype)-1, BAD3(TT_ERR_BAD_ENUM))                \
    X("range", "kv_dtype", c->sh.kv_dtype = (tt_dtype)2, BAD3(TT_ERR_BAD_ENUM))                    \
    X("range", "post_variant", c->pa.post_variant = (tt_post_variant)2, BAD3(TT_ERR_BAD_ENUM))     \
    X("negative", "sdc_lambda", c->pa.sdc_lambda = -1, BAD3(TT_INVALID_VALUE))                     \
    X("nonfinite", "sdc_lambda NaN", c->pa.sdc_lambda = NAN, BAD3(TT_INVALID_VALUE))               \
    X("negative", "scale", c->pa.scale = -0.5f, BAD3(TT_INVALID_VALUE))                            \
    X("nonfinite", "scale Inf", c->pa.scale = INFINITY, BAD3(TT_INVALID_VALUE))
#define TENSOR_ROWS(X)                                                                             \
    X("stride", "K rows overlap", c->tk.stride_row = D - 1, TT_ERR_BAD_STRIDE, NA, NA)             \
    X("stride", "K heads overlap rows", c->tk.stride_head = D, TT_ERR_BAD_STRIDE, NA, NA)          \
    X("stride", "V stride_row 0", c->tv.stride_row = 0, TT_ERR_BAD_STRIDE, NA, NA)                 \
    X("stride", "Q stride_head 0", c->tq.stride_head = 0, TT_ERR_BAD_STRIDE, NA, NA)               \
    X("stride", "batch 2, Q stride_batch 0", c->sh.batch = 2; c->tq.stride_batch = 0,              \
      TT_ERR_BAD_STRIDE, NA, NA)                                                                   \
    X("short buffer", "V in a 16-byte buffer", c->tv.buf = small, TT_ERR_BUFFER_TOO_SMALL, NA, NA) \
    X("short buffer", "O in a 16-byte buffer", c->to.buf = small, TT_ERR_BUFFER_TOO_SMALL, NA, NA) \
    X("misaligned", "K offset by one element", c->tk.offset = 1, TT_ERR_BUFFER_TOO_SMALL, NA, NA) \
    X("short buffer", "kv_len beyond K", long_k(c), TT_ERR_BUFFER_TOO_SMALL, NA, NA)               \
    X("short buffer", "stats", c->stats = small, TT_ERR_BUFFER_TOO_SMALL, NA, NA)                  \
    X("short buffer", "vsum", topk(c, 4); c->pa.vmc = 1; c->vsum = small,                          \
      TT_ERR_BUFFER_TOO_SMALL, NA, NA)                                                             \
    X("range", "K offset 2^33", c->tk.offset = (size_t)1 << 33, TT_ERR_BAD_STRIDE, NA, NA)         \
    X("overflow", "batch 2, K stride_batch 2^64-16 (would wrap)", c->sh.batch = 2;                 \
      c->tk.stride_batch = SIZE_MAX - 15, TT_ERR_BAD_STRIDE, NA, NA)                               \
    X("range", "Q heads 2^31 apart (span beyond 2^32)", c->tq.stride_head = (size_t)1 << 31,       \
      TT_ERR_UNSUPPORTED, NA, NA)                                                                  \
    X("inconsistent", "O aliases Q", c->to.buf = bq, TT_INVALID_VALUE, NA, NA)
#define TABLE_ROWS(X)                                                                              \
    X("table", "layer beyond the table", theta(c, tab); c->pa.layer = 2, BAD3(TT_ERR_TABLE_RANGE)) \
    X("negative", "layer", theta(c, tab); c->pa.layer = -1, BAD3(TT_ERR_TABLE_RANGE))             \
    X("table", "empty curves (layer 1, k 4)", theta(c, tab); c->pa.layer = 1; c->pa.k = 4,         \
      BAD3(TT_ERR_TABLE_RANGE))                                                                    \
    X("table", "one head without a curve", theta(c, tab_hole), BAD3(TT_ERR_TABLE_RANGE))           \
    X("table", "another model: heads", theta(c, tab_wide), BAD3(TT_ERR_TABLE_SHAPE))               \
    X("table", "another model: KV heads", theta(c, tab_kv1), BAD3(TT_ERR_TABLE_SHAPE))             \
    X("table", "another model: head_dim", theta(c, tab_d32), BAD3(TT_ERR_TABLE_SHAPE))             \
    X("table", "another placement", theta(c, tab_post), BAD3(TT_INVALID_VALUE))                    \
    X("table", "offline SDC, no D-hat", theta(c, tab); c->pa.sdc = TT_SDC_OFFLINE,                 \
      BAD3(TT_ERR_NO_TABLE))
#define OBJECT_ROWS(X)                                                                             \
    X("wrong context", "O of another context", c->to.buf = foreign, TT_INVALID_CONTEXT, NA, NA)    \
    X("wrong context", "queue of another context", c->queue = oqueue, TT_INVALID_COMMAND_QUEUE,    \
      NA, NA)                                                                                      \
    X("wrong context", "stats of another context", c->stats = foreign, TT_INVALID_CONTEXT, NA, NA) \
    X("released", "Q of a destroyed context", c->tq.buf = orphan, TT_INVALID_CONTEXT, NA, NA)      \
    X("released", "queue of a destroyed context", c->queue = orphan_queue,                         \
      TT_INVALID_COMMAND_QUEUE, NA, NA)
#define LAUNCH_ROWS(X)                                                                             \
    X("launch", "local memory beyond the device", tiny_local(c), TT_ERR_LOCAL_MEMORY,              \
      TT_ERR_LOCAL_MEMORY, TT_SUCCESS)                                                             \
    X("launch", "TT_WG=3 (not a power of two)", setenv("TT_WG", "3", 1),                           \
      TT_INVALID_WORK_GROUP_SIZE, TT_INVALID_WORK_GROUP_SIZE, TT_SUCCESS)                          \
    X("launch", "TT_WG=0", setenv("TT_WG", "0", 1), TT_INVALID_WORK_GROUP_SIZE,                    \
      TT_INVALID_WORK_GROUP_SIZE, TT_SUCCESS)                                                      \
    X("launch", "TT_WG=65536 (clamped to the device)", setenv("TT_WG", "65536", 1), TT_SUCCESS, NA, \
      TT_SUCCESS)

static const struct row {
    const char *cls, *what;
    int want[3];
} rows[] = {
#define ROW_(cls, what, body, ...) {cls, what, {__VA_ARGS__}},
    ROWS(ROW_)
#undef ROW_
};
#define N_ROWS ((int)(sizeof rows / sizeof rows[0]))

static void mutate(int i, call *c)
{
    int n = 0;
#define APPLY_(cls, what, body, ...)                                                                \
    if (i == n++) {                                                                                \
        body;                                                                                      \
    }
    ROWS(APPLY_)
#undef APPLY_
}

/* Row _i of the matrix against enqueue, the host call and the reference, prefill and decode. */
START_TEST(test_attention_matrix)
{
    const struct row *r = &rows[_i];
    for (int decode = 0; decode < 2; decode++)
        for (int fn = 0; fn < 3; fn++) {
            if (r->want[fn] == NA)
                continue;
            call c;
            base(&c, decode);
            mutate(_i, &c);
            clear_messages(ctx);
            tt_status st;
            if (fn == 0)
                st = tt_attention_enqueue(c.ctx, c.queue, c.shape, c.params, c.q, c.k, c.v, c.o,
                                          c.vsum, c.stats, c.num_wait, c.wait, NULL);
            else if (fn == 1)
                st = tt_attention_host(c.ctx, c.shape, c.params, c.hq, c.hk, c.hv, c.ho, NULL,
                                       NULL);
            else
                st = tt_reference_attention(c.shape, c.params, c.hq, c.hk, c.hv, c.ho, NULL);
            char what[200];
            snprintf(what, sizeof what, "%s %s: %s / %s", decode ? "decode" : "prefill",
                     fn == 0 ? "enqueue" : fn == 1 ? "host" : "reference", r->cls, r->what);
            expect(what, st, (tt_status)r->want[fn], fn < 2 && c.ctx ? ctx : NULL);
            if (fn == 0 && st == TT_SUCCESS)
                ck_assert_int_eq(clFinish(queue), CL_SUCCESS);
        }
    base(&(call){0}, 0); /* restores local memory and TT_WG */
}
END_TEST

/* A kernel build failure (an injected bad define) returns the build log, and the context works
 * again once the options are cleared. One build only: it cannot be cached and costs minutes
 * under valgrind. */
START_TEST(test_build_failure_returns_log)
{
    call c;
    base(&c, 0);
    ck_assert_int_eq(tt_context_set_build_options(ctx, "-DTT_INJECTED -DD=not_a_number"), 0);
    clear_messages(ctx);
    tt_status st = tt_attention_enqueue(ctx, queue, c.shape, c.params, c.q, c.k, c.v, c.o, NULL,
                                        NULL, 0, NULL, NULL);
    ck_assert_int_eq(tt_context_set_build_options(ctx, NULL), TT_SUCCESS);
    expect("build: injected bad define", st, TT_BUILD_PROGRAM_FAILURE, ctx);
    ck_assert_ptr_nonnull(strstr(tt_last_error(ctx), "build log"));
    ck_assert_ptr_nonnull(strstr(tt_last_error(ctx), "not_a_number"));
    ck_assert_int_eq(tt_attention_enqueue(ctx, queue, c.shape, c.params, c.q, c.k, c.v, c.o, NULL,
                                          NULL, 0, NULL, NULL), TT_SUCCESS);
    ck_assert_int_eq(clFinish(queue), CL_SUCCESS);
}
END_TEST

#include "test-badinput-api.inc"

int main(void)
{
    Suite *s = suite_create("badinput");
    TCase *host = tcase_create("host functions");
    add_host_tests(host);
    suite_add_tcase(s, host);
    int have = tt_test_have_device();
    if (have) {
        TCase *tc = tcase_create("attention matrix");
        tcase_add_unchecked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 300);
        tcase_add_loop_test(tc, test_attention_matrix, 0, N_ROWS);
        tcase_add_test(tc, test_build_failure_returns_log);
        add_device_tests(tc);
        suite_add_tcase(s, tc);
    }
    int rc = tt_test_run(s);
    printf("# bad-input matrix: %d cases (%d attention rows x prefill/decode x enqueue/host/"
           "reference where applicable)%s\n", n_cases, N_ROWS,
           have ? "" : "; no OpenCL device, host functions only");
    return rc;
}
