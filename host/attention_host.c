/* attention_host.c — small conveniences around tt_attention_enqueue: parameter defaults, dense
 * head-major tensor views, the statistics size, and tt_attention_host, which copies host arrays
 * to the device, runs one call on the context's own queue and copies the results back. */
#include "internal.h"
#include <string.h>

void tt_attn_params_init(tt_attn_params *p)
{
    if (!p)
        return;
    memset(p, 0, sizeof *p);
    p->mode = TT_MODE_DENSE;
    p->placement = TT_PLACE_PRE;
    p->sdc = TT_SDC_NONE;
    p->sdc_lambda = 1.0f;
    p->post_variant = TT_POST_EXACT;
}

tt_tensor tt_tensor_head_major(cl_mem buf, int heads, int rows, int head_dim)
{
    tt_tensor t;
    t.buf = buf;
    t.offset = 0;
    t.stride_row = (size_t)head_dim;
    t.stride_head = (size_t)rows * head_dim;
    t.stride_batch = (size_t)heads * rows * head_dim;
    return t;
}

size_t tt_stats_size(const tt_attn_shape *s)
{
    if (!s || s->batch < 1 || s->q_len < 1 || s->n_heads < 1 || s->n_kv_heads < 1)
        return 0;
    return sizeof(cl_uint) * (size_t)s->batch * s->q_len * ((size_t)s->n_heads + s->n_kv_heads);
}

static cl_mem make(tt_context *ctx, cl_mem_flags flags, size_t bytes, const void *host,
                   tt_status *st)
{
    cl_int err;
    cl_mem m = clCreateBuffer(ctx->context, flags | (host ? CL_MEM_COPY_HOST_PTR : 0), bytes,
                              (void *)host, &err);
    if (err != CL_SUCCESS && *st == TT_SUCCESS)
        *st = tt__fail(ctx, (tt_status)err, "attention_host: buffer of %zu bytes: %s", bytes,
                       tt_status_name(err));
    return err == CL_SUCCESS ? m : NULL;
}

tt_status tt_attention_host(tt_context *ctx, const tt_attn_shape *s, const tt_attn_params *p,
                            const float *q, const void *k, const void *v, float *o, float *vsum,
                            uint32_t *stats)
{
    TT_RETURN_IF(NULL, !ctx, TT_ERR_NULL_ARGUMENT, "attention_host: context is NULL");
    tt_status st = tt__validate_shape_params(ctx, s, p, NULL);
    if (st != TT_SUCCESS)
        return st;
    TT_RETURN_IF(ctx, !q || !k || !v || !o, TT_ERR_NULL_ARGUMENT,
                 "attention_host: q, k, v and o must not be NULL");
    const size_t d = (size_t)s->head_dim;
    const size_t elem = s->kv_dtype == TT_DTYPE_F16 ? 2 : 4;
    const size_t qn = (size_t)s->batch * s->n_heads * s->q_len * d;
    const size_t kn = (size_t)s->batch * s->n_kv_heads * s->kv_len * d;
    const size_t vs = (size_t)s->batch * s->n_kv_heads * d * sizeof(float);
    cl_mem bq = make(ctx, CL_MEM_READ_ONLY, qn * 4, q, &st);
    cl_mem bk = make(ctx, CL_MEM_READ_ONLY, kn * elem, k, &st);
    cl_mem bv = make(ctx, CL_MEM_READ_ONLY, kn * elem, v, &st);
    cl_mem bo = make(ctx, CL_MEM_WRITE_ONLY, qn * 4, NULL, &st);
    cl_mem bs = vsum ? make(ctx, CL_MEM_READ_WRITE, vs, vsum, &st) : NULL;
    cl_mem bst = stats ? make(ctx, CL_MEM_WRITE_ONLY, tt_stats_size(s), NULL, &st) : NULL;
    if (st == TT_SUCCESS) {
        tt_tensor tq = tt_tensor_head_major(bq, s->n_heads, s->q_len, s->head_dim);
        tt_tensor tk = tt_tensor_head_major(bk, s->n_kv_heads, s->kv_len, s->head_dim);
        tt_tensor tv = tt_tensor_head_major(bv, s->n_kv_heads, s->kv_len, s->head_dim);
        tt_tensor to = tt_tensor_head_major(bo, s->n_heads, s->q_len, s->head_dim);
        st = tt_attention_enqueue(ctx, ctx->queue, s, p, &tq, &tk, &tv, &to, bs, bst, 0, NULL,
                                  NULL);
    }
    if (st == TT_SUCCESS) {
        cl_int err = clEnqueueReadBuffer(ctx->queue, bo, CL_TRUE, 0, qn * 4, o, 0, NULL, NULL);
        if (err == CL_SUCCESS && bs)
            err = clEnqueueReadBuffer(ctx->queue, bs, CL_TRUE, 0, vs, vsum, 0, NULL, NULL);
        if (err == CL_SUCCESS && bst)
            err = clEnqueueReadBuffer(ctx->queue, bst, CL_TRUE, 0, tt_stats_size(s), stats, 0,
                                      NULL, NULL);
        if (err != CL_SUCCESS)
            st = tt__fail(ctx, (tt_status)err, "attention_host: reading results: %s",
                          tt_status_name(err));
    }
    cl_mem all[] = {bq, bk, bv, bo, bs, bst};
    for (size_t x = 0; x < sizeof all / sizeof all[0]; x++)
        if (all[x])
            clReleaseMemObject(all[x]);
    return st;
}
