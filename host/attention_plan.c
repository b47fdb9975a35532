/* attention_plan.c — everything tt_attention_enqueue checks and decides before enqueueing:
 * queue and buffers belong to the context, tensors fit their buffers (CL_MEM_SIZE) with
 * non-overlapping strides, the launch fits the device (work-group size, local memory), the
 * program for (D, GROUP, WG, KV type) is built, and the keys are split into chunks. */
#include "attention_plan.h"
#include "tune_db.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TT_MAX_GROUP 64
#define TT_SCRATCH_BUDGET ((size_t)512 << 20)

size_t tt__attention_local_bytes(int head_dim, int group, int wg)
{
    /* attend.cl: qloc[GROUP][D] + pl[GROUP][WG] + scan, idx, redf, redu [WG] */
    return 4u * ((size_t)group * head_dim + (size_t)group * wg + 4u * (size_t)wg);
}

/* Largest element index a tensor view touches, and whether its strides nest without overlap. */
static tt_status check_tensor(tt_context *ctx, const char *name, const tt_tensor *t, int batch,
                              int heads, int rows, int d, size_t elem, int writable,
                              cl_uint *lay)
{
    TT_RETURN_IF(ctx, !t, TT_ERR_NULL_ARGUMENT, "attention: tensor %s is NULL", name);
    TT_RETURN_IF(ctx, !t->buf, TT_ERR_NULL_ARGUMENT, "attention: tensor %s has no buffer", name);
    cl_context bc = NULL;
    cl_int err = clGetMemObjectInfo(t->buf, CL_MEM_CONTEXT, sizeof bc, &bc, NULL);
    TT_RETURN_IF(ctx, err != CL_SUCCESS, TT_INVALID_MEM_OBJECT,
                 "attention: tensor %s: not a valid cl_mem (%s)", name, tt_status_name(err));
    TT_RETURN_IF(ctx, bc != ctx->context, TT_INVALID_CONTEXT,
                 "attention: tensor %s belongs to another OpenCL context", name);
    size_t size = 0;
    clGetMemObjectInfo(t->buf, CL_MEM_SIZE, sizeof size, &size, NULL);
    /* Kernels address with 32-bit indices; refusing larger offsets and strides first also keeps
     * the size_t arithmetic below from wrapping around. */
    TT_RETURN_IF(ctx, t->offset > 0xffffffffu || t->stride_batch > 0xffffffffu ||
                          t->stride_head > 0xffffffffu || t->stride_row > 0xffffffffu,
                 TT_ERR_BAD_STRIDE, "attention: tensor %s: offset or stride beyond 2^32 elements",
                 name);
    /* Sort the (stride, count) pairs of the outer axes; each stride must step over everything the
     * inner axes cover, which is what "no two elements alias" means for such a view. */
    size_t st[3] = {t->stride_batch, t->stride_head, t->stride_row};
    size_t cnt[3] = {(size_t)batch, (size_t)heads, (size_t)rows};
    const char *axis[3] = {"stride_batch", "stride_head", "stride_row"};
    int ord[3] = {0, 1, 2};
    for (int x = 0; x < 3; x++)
        for (int y = x + 1; y < 3; y++)
            if (st[ord[y]] < st[ord[x]]) {
                int tmp = ord[x];
                ord[x] = ord[y];
                ord[y] = tmp;
            }
    size_t covered = (size_t)d; /* elements spanned by the axes handled so far */
    for (int x = 0; x < 3; x++) {
        int a = ord[x];
        if (cnt[a] <= 1)
            continue;
        TT_RETURN_IF(ctx, st[a] < covered, TT_ERR_BAD_STRIDE,
                     "attention: tensor %s: %s = %zu overlaps the %zu elements of the inner axes",
                     name, axis[a], st[a], covered);
        covered = st[a] * (cnt[a] - 1) + covered;
    }
    (void)writable;
    size_t last = t->offset + (size_t)(batch - 1) * t->stride_batch +
                  (size_t)(heads - 1) * t->stride_head + (size_t)(rows - 1) * t->stride_row + d;
    TT_RETURN_IF(ctx, last > 0xffffffffu, TT_ERR_UNSUPPORTED,
                 "attention: tensor %s spans %zu elements; at most 2^32 are addressable", name,
                 last);
    TT_RETURN_IF(ctx, last * elem > size, TT_ERR_BUFFER_TOO_SMALL,
                 "attention: tensor %s needs %zu bytes, its buffer has %zu", name, last * elem,
                 size);
    lay[0] = (cl_uint)t->offset;
    lay[1] = (cl_uint)t->stride_batch;
    lay[2] = (cl_uint)t->stride_head;
    lay[3] = (cl_uint)t->stride_row;
    return TT_SUCCESS;
}

static tt_status check_plain(tt_context *ctx, const char *name, cl_mem m, size_t need)
{
    cl_context bc = NULL;
    cl_int err = clGetMemObjectInfo(m, CL_MEM_CONTEXT, sizeof bc, &bc, NULL);
    TT_RETURN_IF(ctx, err != CL_SUCCESS, TT_INVALID_MEM_OBJECT,
                 "attention: %s: not a valid cl_mem (%s)", name, tt_status_name(err));
    TT_RETURN_IF(ctx, bc != ctx->context, TT_INVALID_CONTEXT,
                 "attention: %s belongs to another OpenCL context", name);
    size_t size = 0;
    clGetMemObjectInfo(m, CL_MEM_SIZE, sizeof size, &size, NULL);
    TT_RETURN_IF(ctx, size < need, TT_ERR_BUFFER_TOO_SMALL,
                 "attention: %s needs %zu bytes, its buffer has %zu", name, need, size);
    return TT_SUCCESS;
}

static int env_int(const char *name, int def)
{
    const char *e = getenv(name);
    return e && *e ? atoi(e) : def;
}

tt_status tt__plan_attention(tt_context *ctx, cl_command_queue queue, const tt_attn_shape *s,
                             const tt_attn_params *p, const tt_tensor *q, const tt_tensor *k,
                             const tt_tensor *v, const tt_tensor *o, cl_mem vsum, cl_mem stats,
                             cl_uint num_wait, const cl_event *wait_list, tt__plan *plan)
{
    memset(plan, 0, sizeof *plan);
    tt_status st = tt__validate_shape_params(ctx, s, p, &plan->k_eff);
    if (st != TT_SUCCESS)
        return st;
    TT_RETURN_IF(ctx, !queue, TT_ERR_NULL_ARGUMENT, "attention: queue is NULL");
    cl_context qc = NULL;
    cl_device_id qd = NULL;
    cl_int err = clGetCommandQueueInfo(queue, CL_QUEUE_CONTEXT, sizeof qc, &qc, NULL);
    TT_RETURN_IF(ctx, err != CL_SUCCESS, TT_INVALID_COMMAND_QUEUE,
                 "attention: not a valid command queue (%s)", tt_status_name(err));
    clGetCommandQueueInfo(queue, CL_QUEUE_DEVICE, sizeof qd, &qd, NULL);
    TT_RETURN_IF(ctx, qc != ctx->context || qd != ctx->device, TT_INVALID_COMMAND_QUEUE,
                 "attention: the queue belongs to another context or device");
    TT_RETURN_IF(ctx, (num_wait > 0) != (wait_list != NULL), TT_INVALID_EVENT_WAIT_LIST,
                 "attention: num_wait %u does not match wait_list %s", num_wait,
                 wait_list ? "non-NULL" : "NULL");
    const int d = s->head_dim;
    const size_t kv_elem = s->kv_dtype == TT_DTYPE_F16 ? 2 : 4;
    if ((st = check_tensor(ctx, "Q", q, s->batch, s->n_heads, s->q_len, d, 4, 0, plan->layout)) ||
        (st = check_tensor(ctx, "K", k, s->batch, s->n_kv_heads, s->kv_len, d, kv_elem, 0,
                           plan->layout + 4)) ||
        (st = check_tensor(ctx, "V", v, s->batch, s->n_kv_heads, s->kv_len, d, kv_elem, 0,
                           plan->layout + 8)) ||
        (st = check_tensor(ctx, "O", o, s->batch, s->n_heads, s->q_len, d, 4, 1,
                           plan->layout + 12)))
        return st;
    TT_RETURN_IF(ctx, o->buf == q->buf || o->buf == k->buf || o->buf == v->buf, TT_INVALID_VALUE,
                 "attention: O must not share a buffer with Q, K or V");
    if (vsum && (st = check_plain(ctx, "vsum", vsum,
                                  (size_t)s->batch * s->n_kv_heads * d * sizeof(float))))
        return st;
    if (stats && (st = check_plain(ctx, "stats", stats, tt_stats_size(s))))
        return st;

    plan->group = s->n_heads / s->n_kv_heads;
    TT_RETURN_IF(ctx, plan->group > TT_MAX_GROUP, TT_ERR_UNSUPPORTED,
                 "attention: %d query heads per KV head; at most %d are supported", plan->group,
                 TT_MAX_GROUP);
    /* Work-group size and decode chunk from the per-device database (tune_db.c), TT_WG on top as
     * a developer override; a power of two is clamped to the device's limits. */
    tt__tune_params tuned;
    if ((st = tt__tune_context(ctx, &tuned)))
        return st;
    int wg = env_int("TT_WG", tuned.wg);
    if (wg >= 1 && (wg & (wg - 1)) == 0)
        wg = tt__tune_clamp_wg(&ctx->info, wg, d, plan->group);
    TT_RETURN_IF(ctx, wg < 1 || (wg & (wg - 1)) != 0, TT_INVALID_WORK_GROUP_SIZE,
                 "attention: work-group size %d is not a power of two", wg);
    size_t local = tt__attention_local_bytes(d, plan->group, wg);
    TT_RETURN_IF(ctx, local > ctx->info.local_mem_size, TT_ERR_LOCAL_MEMORY,
                 "attention: needs %zu bytes of local memory (head size %d, %d heads per group, "
                 "work-group %d); the device has %llu",
                 local, d, plan->group, wg, (unsigned long long)ctx->info.local_mem_size);
    plan->wg = wg;

    /* Chunking: enough work-groups to fill the device, scratch within a budget. Prefill rows
     * already give parallelism, so long chunks suffice there. */
    const size_t grows = (size_t)s->batch * s->n_kv_heads * s->q_len;
    const size_t rows = (size_t)s->batch * s->n_heads * s->q_len;
    size_t target = 8u * (ctx->info.compute_units ? ctx->info.compute_units : 1);
    size_t max_chunks = ((size_t)s->kv_len + wg - 1) / wg;
    size_t nc = (target + grows - 1) / grows;
    if (nc > max_chunks)
        nc = max_chunks;
    while (nc > 1 && rows * nc * (size_t)(d + 4) * 4 > TT_SCRATCH_BUDGET)
        nc /= 2;
    if (nc < 1)
        nc = 1;
    size_t per = ((size_t)s->kv_len + nc - 1) / nc;
    per = (per + wg - 1) / wg * wg;
    if (s->q_len == 1 && tuned.chunk > 0) { /* tuned decode chunk: a multiple of WG */
        const size_t max_per = ((size_t)s->kv_len + wg - 1) / wg * wg;
        per = ((size_t)tuned.chunk + wg - 1) / wg * wg;
        while (per < max_per && rows * ((s->kv_len + per - 1) / per) * (size_t)(d + 4) * 4 >
                                    TT_SCRATCH_BUDGET)
            per *= 2;
        per = per < max_per ? per : max_per;
    }
    plan->chunk_len = (int)per;
    plan->n_chunks = (int)(((size_t)s->kv_len + per - 1) / per);
    plan->store_scores = s->q_len == 1;

    char opts[256];
    snprintf(opts, sizeof opts, "-DD=%d -DGROUP=%d -DWG=%d -DKV_F16=%d", d, plan->group, wg,
             s->kv_dtype == TT_DTYPE_F16);
    const char *srcs[] = {"scores.cl", "select.cl", "attend.cl", "merge.cl", "vmean.cl"};
    st = tt__get_program(ctx, srcs, 5, opts, &plan->program);
    if (st != TT_SUCCESS)
        return st;
    /* Refuse a launch the compiled kernels cannot take, before anything is enqueued. */
    static const char *const names[] = {"tt_scores", "tt_select", "tt_attend", "tt_merge"};
    for (int x = 0; x < 4; x++) {
        cl_kernel kern;
        st = tt__create_kernel(ctx, plan->program, names[x], &kern);
        if (st != TT_SUCCESS)
            break;
        size_t kwg = 0;
        cl_ulong klocal = 0;
        clGetKernelWorkGroupInfo(kern, ctx->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof kwg, &kwg,
                                 NULL);
        clGetKernelWorkGroupInfo(kern, ctx->device, CL_KERNEL_LOCAL_MEM_SIZE, sizeof klocal,
                                 &klocal, NULL);
        tt__put_kernel(ctx, plan->program, names[x], kern);
        if (kwg && kwg < (size_t)wg)
            st = tt__fail(ctx, TT_INVALID_WORK_GROUP_SIZE,
                          "attention: kernel %s allows work-groups of %zu, the launch needs %d "
                          "(set TT_WG lower)",
                          names[x], kwg, wg);
        else if (klocal > ctx->info.local_mem_size)
            st = tt__fail(ctx, TT_ERR_LOCAL_MEMORY,
                          "attention: kernel %s needs %llu bytes of local memory, the device has "
                          "%llu",
                          names[x], (unsigned long long)klocal,
                          (unsigned long long)ctx->info.local_mem_size);
        if (st != TT_SUCCESS)
            break;
    }
    if (st != TT_SUCCESS) {
        clReleaseProgram(plan->program);
        plan->program = NULL;
    }
    return st;
}

int tt__plan_kv_aligned(const tt__plan *plan, unsigned elems)
{
    for (int x = 4; x < 12; x++) /* K then V entries (common.cl LAY_K, LAY_V) */
        if (plan->layout[x] % elems != 0)
            return 0;
    return 1;
}
