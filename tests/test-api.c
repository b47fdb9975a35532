/* test-api.c — API validation: one test per class of bad input to tt_attention_enqueue and
 * friends, each answered by its own status and a non-empty message before anything is enqueued:
 * NULL handles, bad shapes, overlapping strides, buffers smaller than the shape, k out of range,
 * GQA mismatch, q_len > kv_len, local memory too small, foreign context/queue, table problems,
 * enums out of range, non-finite parameters, kernel build failures with the build log. */
#include "support.h"
#include "internal.h"
#include <math.h>
#include <string.h>

#define H 4
#define G 2
#define DIM 16
#define N 40

static tt_context *ctx;
static cl_context cx;
static cl_command_queue queue;
static cl_mem bq, bk, bv, bo, small;
static tt_tensor tq, tk, tv, to;
static tt_attn_shape shape;
static tt_attn_params params;

static cl_mem mk(size_t bytes)
{
    cl_int err;
    cl_mem m = clCreateBuffer(cx, CL_MEM_READ_WRITE, bytes, NULL, &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    return m;
}

static void setup(void)
{
    ck_assert_int_eq(tt_context_create(NULL, &ctx), TT_SUCCESS);
    tt_context_cl(ctx, &cx, NULL, &queue);
    bq = mk(H * N * DIM * 4);
    bk = mk(G * N * DIM * 4);
    bv = mk(G * N * DIM * 4);
    bo = mk(H * N * DIM * 4);
    small = mk(64);
    tq = tt_tensor_head_major(bq, H, N, DIM);
    tk = tt_tensor_head_major(bk, G, N, DIM);
    tv = tt_tensor_head_major(bv, G, N, DIM);
    to = tt_tensor_head_major(bo, H, N, DIM);
    shape = (tt_attn_shape){1, H, G, DIM, N, N, TT_DTYPE_F32};
    tt_attn_params_init(&params);
}

static void teardown(void)
{
    cl_mem all[] = {bq, bk, bv, bo, small};
    for (int i = 0; i < 5; i++)
        clReleaseMemObject(all[i]);
    tt_context_destroy(ctx);
}

static tt_status call(void)
{
    return tt_attention_enqueue(ctx, queue, &shape, &params, &tq, &tk, &tv, &to, NULL, NULL, 0,
                                NULL, NULL);
}

#define EXPECT(expr, status)                                                                       \
    do {                                                                                           \
        tt_status st_ = (expr);                                                                    \
        ck_assert_msg(st_ == (status), "%s returned %s, expected %s (%s)", #expr,                  \
                      tt_status_name(st_), tt_status_name(status), tt_last_error(ctx));            \
        ck_assert_msg(strlen(tt_last_error(ctx)) > 0, "no message for %s", #status);               \
    } while (0)

START_TEST(test_valid_call_succeeds)
{
    ck_assert_int_eq(call(), TT_SUCCESS);
    ck_assert_int_eq(clFinish(queue), CL_SUCCESS);
}
END_TEST

START_TEST(test_null_handles)
{
    EXPECT(tt_attention_enqueue(ctx, NULL, &shape, &params, &tq, &tk, &tv, &to, NULL, NULL, 0,
                                NULL, NULL), TT_ERR_NULL_ARGUMENT);
    EXPECT(tt_attention_enqueue(ctx, queue, NULL, &params, &tq, &tk, &tv, &to, NULL, NULL, 0, NULL,
                                NULL), TT_ERR_NULL_ARGUMENT);
    EXPECT(tt_attention_enqueue(ctx, queue, &shape, &params, &tq, NULL, &tv, &to, NULL, NULL, 0,
                                NULL, NULL), TT_ERR_NULL_ARGUMENT);
    tt_tensor nobuf = tq;
    nobuf.buf = NULL;
    EXPECT(tt_attention_enqueue(ctx, queue, &shape, &params, &nobuf, &tk, &tv, &to, NULL, NULL, 0,
                                NULL, NULL), TT_ERR_NULL_ARGUMENT);
    ck_assert_int_eq(tt_attention_enqueue(NULL, queue, &shape, &params, &tq, &tk, &tv, &to, NULL,
                                          NULL, 0, NULL, NULL), TT_ERR_NULL_ARGUMENT);
}
END_TEST

START_TEST(test_bad_shapes)
{
    shape.head_dim = 0;
    EXPECT(call(), TT_ERR_BAD_SHAPE);
    shape.head_dim = 300;
    EXPECT(call(), TT_ERR_BAD_SHAPE);
    shape.head_dim = DIM;
    shape.batch = -1;
    EXPECT(call(), TT_ERR_BAD_SHAPE);
}
END_TEST

START_TEST(test_gqa_mismatch)
{
    shape.n_heads = 3;
    EXPECT(call(), TT_ERR_GQA_MISMATCH);
}
END_TEST

START_TEST(test_more_queries_than_keys)
{
    shape.kv_len = N - 1;
    EXPECT(call(), TT_ERR_QLEN_EXCEEDS_KV);
}
END_TEST

START_TEST(test_overlapping_strides)
{
    tt_tensor bad = to;
    bad.stride_row = DIM - 1; /* rows overlap */
    EXPECT(tt_attention_enqueue(ctx, queue, &shape, &params, &tq, &tk, &tv, &bad, NULL, NULL, 0,
                                NULL, NULL), TT_ERR_BAD_STRIDE);
    bad = tk;
    bad.stride_head = DIM; /* heads land on each other's rows */
    EXPECT(tt_attention_enqueue(ctx, queue, &shape, &params, &tq, &bad, &tv, &to, NULL, NULL, 0,
                                NULL, NULL), TT_ERR_BAD_STRIDE);
}
END_TEST

START_TEST(test_buffer_smaller_than_shape)
{
    tt_tensor bad = tv;
    bad.buf = small;
    EXPECT(tt_attention_enqueue(ctx, queue, &shape, &params, &tq, &tk, &bad, &to, NULL, NULL, 0,
                                NULL, NULL), TT_ERR_BUFFER_TOO_SMALL);
    bad = tq;
    bad.offset = 1; /* one element past the end */
    EXPECT(tt_attention_enqueue(ctx, queue, &shape, &params, &bad, &tk, &tv, &to, NULL, NULL, 0,
                                NULL, NULL), TT_ERR_BUFFER_TOO_SMALL);
    EXPECT(tt_attention_enqueue(ctx, queue, &shape, &params, &tq, &tk, &tv, &to, NULL, small, 0,
                                NULL, NULL), TT_ERR_BUFFER_TOO_SMALL);
    params.vmc = 1;
    params.mode = TT_MODE_TOPK;
    params.k = 4;
    EXPECT(tt_attention_enqueue(ctx, queue, &shape, &params, &tq, &tk, &tv, &to, small, NULL, 0,
                                NULL, NULL), TT_ERR_BUFFER_TOO_SMALL);
}
END_TEST

START_TEST(test_k_out_of_range)
{
    params.mode = TT_MODE_TOPK;
    params.k = 0;
    EXPECT(call(), TT_ERR_BAD_K);
    params.k = -3;
    EXPECT(call(), TT_ERR_BAD_K);
}
END_TEST

START_TEST(test_enums_out_of_range)
{
    params.mode = (tt_mode)7;
    EXPECT(call(), TT_ERR_BAD_ENUM);
    params.mode = TT_MODE_DENSE;
    params.sdc = (tt_sdc)-1;
    EXPECT(call(), TT_ERR_BAD_ENUM);
    params.sdc = TT_SDC_NONE;
    shape.kv_dtype = (tt_dtype)5;
    EXPECT(call(), TT_ERR_BAD_ENUM);
}
END_TEST

START_TEST(test_nonfinite_parameters)
{
    params.sdc_lambda = NAN;
    EXPECT(call(), TT_INVALID_VALUE);
    params.sdc_lambda = 1;
    params.scale = INFINITY;
    EXPECT(call(), TT_INVALID_VALUE);
}
END_TEST

static tt_table *make_table(int heads, int k)
{
    tt_table_meta m;
    memset(&m, 0, sizeof m);
    m.n_layers = 2;
    m.n_heads = heads;
    m.placement = TT_PLACE_PRE;
    tt_table *t = NULL;
    ck_assert_int_eq(tt_table_create(&m, &t), TT_SUCCESS);
    ck_assert_int_eq(tt_table_set_layer_k(t, 0, k), TT_SUCCESS);
    int ns[2] = {8, 64};
    float th[2] = {0.1f, 0.2f};
    for (int h = 0; h < heads; h++)
        ck_assert_int_eq(tt_table_set_curve(t, 0, h, 2, ns, th, NULL), TT_SUCCESS);
    return t;
}

START_TEST(test_table_problems)
{
    params.mode = TT_MODE_THETA;
    EXPECT(call(), TT_ERR_NO_TABLE);
    tt_table *t = make_table(H, 4);
    params.table = t;
    ck_assert_int_eq(call(), TT_SUCCESS);
    params.layer = 2;
    EXPECT(call(), TT_ERR_TABLE_RANGE);
    params.layer = 1; /* layer 1 has k = 0 (dense) but explicit k makes curves necessary */
    params.k = 4;
    EXPECT(call(), TT_ERR_TABLE_RANGE);
    params.layer = 0;
    params.k = 0;
    params.placement = TT_PLACE_POST;
    EXPECT(call(), TT_INVALID_VALUE);
    params.placement = TT_PLACE_PRE;
    params.sdc = TT_SDC_OFFLINE; /* no D̂ curves */
    EXPECT(call(), TT_ERR_NO_TABLE);
    tt_table_destroy(t);
    tt_table *other = make_table(2 * H, 4);
    params.sdc = TT_SDC_NONE;
    params.table = other;
    EXPECT(call(), TT_ERR_TABLE_SHAPE);
    tt_table_destroy(other);
    params.table = NULL;
}
END_TEST

START_TEST(test_local_memory_too_small)
{
    tt__context_limit_local_mem(ctx, 1024);
    shape.head_dim = 128;
    tq = tt_tensor_head_major(bq, H, N / 8, 128);
    tk = tt_tensor_head_major(bk, G, N / 8, 128);
    tv = tt_tensor_head_major(bv, G, N / 8, 128);
    to = tt_tensor_head_major(bo, H, N / 8, 128);
    shape.q_len = shape.kv_len = N / 8;
    EXPECT(call(), TT_ERR_LOCAL_MEMORY);
}
END_TEST

START_TEST(test_foreign_context_and_queue)
{
    tt_context *other = NULL;
    ck_assert_int_eq(tt_context_create(NULL, &other), TT_SUCCESS);
    cl_context ocx;
    cl_command_queue oq;
    tt_context_cl(other, &ocx, NULL, &oq);
    cl_int err;
    cl_mem foreign = clCreateBuffer(ocx, CL_MEM_READ_WRITE, H * N * DIM * 4, NULL, &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    tt_tensor bad = tt_tensor_head_major(foreign, H, N, DIM);
    EXPECT(tt_attention_enqueue(ctx, queue, &shape, &params, &tq, &tk, &tv, &bad, NULL, NULL, 0,
                                NULL, NULL), TT_INVALID_CONTEXT);
    EXPECT(tt_attention_enqueue(ctx, oq, &shape, &params, &tq, &tk, &tv, &to, NULL, NULL, 0, NULL,
                                NULL), TT_INVALID_COMMAND_QUEUE);
    clReleaseMemObject(foreign);
    tt_context_destroy(other);
}
END_TEST

START_TEST(test_wait_list_mismatch)
{
    EXPECT(tt_attention_enqueue(ctx, queue, &shape, &params, &tq, &tk, &tv, &to, NULL, NULL, 2,
                                NULL, NULL), TT_INVALID_EVENT_WAIT_LIST);
}
END_TEST

START_TEST(test_output_aliases_input)
{
    tt_tensor bad = tq;
    EXPECT(tt_attention_enqueue(ctx, queue, &shape, &params, &tq, &tk, &tv, &bad, NULL, NULL, 0,
                                NULL, NULL), TT_INVALID_VALUE);
}
END_TEST

START_TEST(test_build_failure_returns_log)
{
    ck_assert_int_eq(tt_context_set_build_options(ctx, "-DTT_INJECTED=1 -DD=not_a_number"),
                     TT_SUCCESS);
    EXPECT(call(), TT_BUILD_PROGRAM_FAILURE);
    ck_assert_ptr_nonnull(strstr(tt_last_error(ctx), "build log"));
    ck_assert_ptr_nonnull(strstr(tt_last_error(ctx), "not_a_number"));
    ck_assert_int_eq(tt_context_set_build_options(ctx, NULL), TT_SUCCESS);
    ck_assert_int_eq(call(), TT_SUCCESS);
    clFinish(queue);
}
END_TEST

START_TEST(test_host_call_validates_pointers)
{
    float buf[4] = {0};
    EXPECT(tt_attention_host(ctx, &shape, &params, NULL, buf, buf, buf, NULL, NULL),
           TT_ERR_NULL_ARGUMENT);
    EXPECT(tt_reference_attention(&shape, &params, buf, NULL, buf, buf, NULL), TT_ERR_NULL_ARGUMENT);
}
END_TEST

int main(void)
{
    if (!tt_test_have_device())
        return tt_test_skip("no OpenCL device");
    Suite *s = suite_create("api");
    TCase *tc = tcase_create("validation");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_valid_call_succeeds);
    tcase_add_test(tc, test_null_handles);
    tcase_add_test(tc, test_bad_shapes);
    tcase_add_test(tc, test_gqa_mismatch);
    tcase_add_test(tc, test_more_queries_than_keys);
    tcase_add_test(tc, test_overlapping_strides);
    tcase_add_test(tc, test_buffer_smaller_than_shape);
    tcase_add_test(tc, test_k_out_of_range);
    tcase_add_test(tc, test_enums_out_of_range);
    tcase_add_test(tc, test_nonfinite_parameters);
    tcase_add_test(tc, test_table_problems);
    tcase_add_test(tc, test_local_memory_too_small);
    tcase_add_test(tc, test_foreign_context_and_queue);
    tcase_add_test(tc, test_wait_list_mismatch);
    tcase_add_test(tc, test_output_aliases_input);
    tcase_add_test(tc, test_build_failure_returns_log);
    tcase_add_test(tc, test_host_call_validates_pointers);
    suite_add_tcase(s, tc);
    return tt_test_run(s);
}
