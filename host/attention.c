/* attention.c — tt_attention_enqueue: validates a call, picks the program for its (head size,
 * GQA group, KV type, work-group size) or hands it to decode.c / prefill.c; the generic path
 * splits the keys into chunks, uploads the per-row thresholds and enqueues the passes vmean →
 * scores → select → attend → merge, chained by events so the caller's queue may be in-order or
 * out-of-order. Scratch buffers come from the queue's pool (scratch.c). */
#include "internal.h"
#include "attention_plan.h"
#include "decode.h"
#include "prefill.h"
#include "scratch.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Per-row θ and D̂ for the rows of this call (same for every sequence of the batch). */
static tt_status row_thresholds(tt_context *ctx, const tt_attn_shape *s, const tt_attn_params *p,
                                float **theta, float **dhat)
{
    size_t rows = (size_t)s->n_heads * s->q_len;
    *theta = calloc(rows, sizeof **theta);
    *dhat = p->sdc == TT_SDC_OFFLINE ? calloc(rows, sizeof **dhat) : NULL;
    TT_RETURN_IF(ctx, !*theta || (p->sdc == TT_SDC_OFFLINE && !*dhat), TT_OUT_OF_HOST_MEMORY,
                 "attention: out of memory");
    if (!p->table)
        return TT_SUCCESS;
    int p0 = s->kv_len - s->q_len;
    for (int h = 0; h < s->n_heads; h++) {
        for (int i = 0; i < s->q_len; i++) {
            float th = 0.0f, dh = 0.0f;
            tt_status st = tt_table_lookup(p->table, p->layer, h, p0 + i + 1, &th,
                                           *dhat ? &dh : NULL);
            TT_RETURN_IF(ctx, st != TT_SUCCESS, st, "attention: %s", tt_last_error(NULL));
            (*theta)[(size_t)h * s->q_len + i] = th;
            if (*dhat)
                (*dhat)[(size_t)h * s->q_len + i] = dh;
        }
    }
    return TT_SUCCESS;
}

#define SET(kern, idx, val)                                                                        \
    do {                                                                                           \
        __typeof__(val) v_ = (val);                                                                \
        cl_int e_ = clSetKernelArg((kern), (idx), sizeof v_, &v_);                                 \
        if (e_ != CL_SUCCESS) {                                                                    \
            st = tt__fail(ctx, (tt_status)e_, "clSetKernelArg(%s, %d): %s", #kern, (idx),          \
                          tt_status_name(e_));                                                     \
            goto done;                                                                             \
        }                                                                                          \
    } while (0)

#define ENQ(kern, gx, gy, nw, wl, ev)                                                              \
    do {                                                                                           \
        size_t g_[2] = {(gx), (gy)}, l_[2] = {(size_t)plan.wg, 1};                                 \
        cl_int e_ = clEnqueueNDRangeKernel(queue, (kern), 2, NULL, g_, l_, (nw), (wl), (ev));      \
        if (e_ != CL_SUCCESS) {                                                                    \
            st = tt__fail(ctx, (tt_status)e_, "enqueue %s: %s", #kern, tt_status_name(e_));        \
            goto done;                                                                             \
        }                                                                                          \
    } while (0)

tt_status tt_attention_enqueue(tt_context *ctx, cl_command_queue queue, const tt_attn_shape *s,
                               const tt_attn_params *p, const tt_tensor *q, const tt_tensor *k,
                               const tt_tensor *v, const tt_tensor *o, cl_mem vsum, cl_mem stats,
                               cl_uint num_wait, const cl_event *wait_list, cl_event *event)
{
    TT_RETURN_IF(NULL, !ctx, TT_ERR_NULL_ARGUMENT, "attention: context is NULL");
    tt__plan plan;
    tt_status st = tt__plan_attention(ctx, queue, s, p, q, k, v, o, vsum, stats, num_wait,
                                      wait_list, &plan);
    if (st != TT_SUCCESS)
        return st;
    if (tt__decode_eligible(ctx, s, plan.wg) && s->n_heads <= TT_MAX_HEADS_DECODE) {
        st = tt__decode_enqueue(ctx, queue, s, p, &plan, q, k, v, o, vsum, stats, num_wait,
                                wait_list, event);
        clReleaseProgram(plan.program);
        return st;
    }
    if (tt__prefill_eligible(ctx, s, p)) {
        st = tt__prefill_enqueue(ctx, queue, s, p, &plan, q, k, v, o, vsum, stats, num_wait,
                                 wait_list, event);
        clReleaseProgram(plan.program);
        return st;
    }

    cl_kernel kv = NULL, ks = NULL, ksel = NULL, ka = NULL, km = NULL;
    cl_mem lay = NULL, scores = NULL, part_m = NULL, part_z = NULL, rowinfo = NULL;
    cl_mem part_acc = NULL, part_ds = NULL, part_dm = NULL, part_kept = NULL, part_union = NULL;
    cl_mem thetas = NULL, dhats = NULL, vmean = NULL;
    float *th_host = NULL, *dh_host = NULL;
    cl_event ev[6] = {0};
    tt__scratch_set scr;
    memset(&scr, 0, sizeof scr);
    int n_ev = 0;

    const size_t rows = (size_t)s->batch * s->n_heads * s->q_len;
    const size_t grows = (size_t)s->batch * s->n_kv_heads * s->q_len;
    const size_t nc = (size_t)plan.n_chunks;
    if ((st = tt__create_kernel(ctx, plan.program, "tt_scores", &ks)) ||
        (st = tt__create_kernel(ctx, plan.program, "tt_select", &ksel)) ||
        (st = tt__create_kernel(ctx, plan.program, "tt_attend", &ka)) ||
        (st = tt__create_kernel(ctx, plan.program, "tt_merge", &km)))
        goto done;
    /* Scratch from the queue's pool (the slots decode and prefill use for the same kinds of
     * buffer; 11, decode's merge counters, stays untouched) and the layout and thresholds by
     * non-blocking writes: nothing is created per call and nothing waits for the device. */
    const int theta_rows = p->mode == TT_MODE_THETA && plan.k_eff > 0;
    if (theta_rows && (st = row_thresholds(ctx, s, p, &th_host, &dh_host)))
        goto done;
    const size_t rb = rows * nc * 4;
    const size_t sbytes[TT_SCRATCH_SLOTS] = {
        plan.store_scores ? rows * s->kv_len * 4 : 4, rb, rb, rb * s->head_dim, 0, rb, rb, rb,
        grows * nc * 4, rows * 5 * 4,
        p->vmc && p->mode != TT_MODE_DENSE ? grows * s->head_dim * 4 : 0, 0,
        sizeof plan.layout, theta_rows ? (size_t)s->n_heads * s->q_len * 4 : 0,
        dh_host ? (size_t)s->n_heads * s->q_len * 4 : 0};
    if ((st = tt__scratch_acquire(ctx, queue, sbytes, TT_SCRATCH_SLOTS, &scr)))
        goto done;
    scores = scr.mem[0], part_m = scr.mem[1], part_z = scr.mem[2], part_acc = scr.mem[3];
    part_ds = scr.mem[5], part_dm = scr.mem[6], part_kept = scr.mem[7], part_union = scr.mem[8];
    rowinfo = scr.mem[9], vmean = scr.mem[10];
    lay = scr.mem[12], thetas = scr.mem[13], dhats = scr.mem[14];
    {
        cl_command_queue_properties qprops = 0;
        clGetCommandQueueInfo(queue, CL_QUEUE_PROPERTIES, sizeof qprops, &qprops, NULL);
        const int chain = (qprops & CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE) != 0;
        void *owned[3] = {malloc(sizeof plan.layout), th_host, dh_host};
        th_host = dh_host = NULL;
        if (owned[0])
            memcpy(owned[0], plan.layout, sizeof plan.layout);
        const cl_mem dst[3] = {owned[0] ? lay : NULL, thetas, dhats};
        cl_event up = NULL;
        if (!owned[0])
            st = tt__fail(ctx, TT_OUT_OF_HOST_MEMORY, "attention: out of host memory");
        tt_status su = tt__scratch_upload(ctx, queue, chain, 3, dst, owned, &sbytes[12],
                                          num_wait, wait_list, &up);
        if (st == TT_SUCCESS)
            st = su;
        if (up)
            ev[n_ev++] = up;
        if (st != TT_SUCCESS)
            goto done;
    }
    const float scale = p->scale > 0 ? p->scale : 1.0f / sqrtf((float)s->head_dim);
    const int H = s->n_heads, G = s->n_kv_heads, QL = s->q_len, KL = s->kv_len;
    const int NC = plan.n_chunks, CL = plan.chunk_len, SS = plan.store_scores;
    const size_t wg = (size_t)plan.wg;
    const int use_vmc = p->vmc && p->mode != TT_MODE_DENSE;

    /* vmean (VMC only): running V means per new row, and the caller's running sum advanced. */
    if (use_vmc) {
        if ((st = tt__create_kernel(ctx, plan.program, "tt_vmean", &kv)))
            goto done;
        SET(kv, 0, v->buf);
        SET(kv, 1, lay);
        SET(kv, 2, G);
        SET(kv, 3, QL);
        SET(kv, 4, KL);
        SET(kv, 5, s->batch);
        SET(kv, 6, vsum);
        SET(kv, 7, (int)(vsum != NULL));
        SET(kv, 8, vmean);
        ENQ(kv, (s->head_dim + wg - 1) / wg * wg, (size_t)s->batch * G, n_ev ? 1 : num_wait,
            n_ev ? &ev[n_ev - 1] : wait_list, &ev[n_ev]);
        n_ev++;
    }
    int a = 0;
    SET(ks, a++, q->buf);
    SET(ks, a++, k->buf);
    SET(ks, a++, lay);
    SET(ks, a++, H);
    SET(ks, a++, G);
    SET(ks, a++, QL);
    SET(ks, a++, KL);
    SET(ks, a++, NC);
    SET(ks, a++, CL);
    SET(ks, a++, scale);
    SET(ks, a++, SS);
    SET(ks, a++, scores);
    SET(ks, a++, part_m);
    SET(ks, a++, part_z);
    /* The first pass waits for the caller's events, or for vmean or the uploads, which waited
     * for them; merge needs vmean's output and is ordered after it through this chain. */
    ENQ(ks, nc * wg, grows, n_ev ? 1 : num_wait, n_ev ? &ev[n_ev - 1] : wait_list, &ev[n_ev]);
    n_ev++;

    a = 0;
    SET(ksel, a++, q->buf);
    SET(ksel, a++, k->buf);
    SET(ksel, a++, lay);
    SET(ksel, a++, H);
    SET(ksel, a++, G);
    SET(ksel, a++, QL);
    SET(ksel, a++, KL);
    SET(ksel, a++, NC);
    SET(ksel, a++, CL);
    SET(ksel, a++, scale);
    SET(ksel, a++, SS);
    SET(ksel, a++, scores);
    SET(ksel, a++, part_m);
    SET(ksel, a++, part_z);
    SET(ksel, a++, (int)p->mode);
    SET(ksel, a++, plan.k_eff);
    SET(ksel, a++, thetas);
    SET(ksel, a++, dhats);
    SET(ksel, a++, rowinfo);
    ENQ(ksel, wg, rows, 1, &ev[n_ev - 1], &ev[n_ev]);
    n_ev++;

    a = 0;
    SET(ka, a++, q->buf);
    SET(ka, a++, k->buf);
    SET(ka, a++, v->buf);
    SET(ka, a++, lay);
    SET(ka, a++, H);
    SET(ka, a++, G);
    SET(ka, a++, QL);
    SET(ka, a++, KL);
    SET(ka, a++, NC);
    SET(ka, a++, CL);
    SET(ka, a++, scale);
    SET(ka, a++, SS);
    SET(ka, a++, scores);
    SET(ka, a++, rowinfo);
    SET(ka, a++, (int)p->placement);
    SET(ka, a++, part_acc);
    SET(ka, a++, part_ds);
    SET(ka, a++, part_dm);
    SET(ka, a++, part_kept);
    SET(ka, a++, part_union);
    ENQ(ka, nc * wg, grows, 1, &ev[n_ev - 1], &ev[n_ev]);
    n_ev++;

    a = 0;
    SET(km, a++, lay);
    SET(km, a++, H);
    SET(km, a++, G);
    SET(km, a++, QL);
    SET(km, a++, KL);
    SET(km, a++, NC);
    SET(km, a++, CL);
    SET(km, a++, rowinfo);
    SET(km, a++, (int)p->placement);
    SET(km, a++, (int)p->sdc);
    SET(km, a++, p->sdc_lambda);
    SET(km, a++, use_vmc);
    SET(km, a++, vmean);
    SET(km, a++, part_acc);
    SET(km, a++, part_ds);
    SET(km, a++, part_dm);
    SET(km, a++, part_kept);
    SET(km, a++, part_union);
    SET(km, a++, o->buf);
    SET(km, a++, stats);
    SET(km, a++, s->batch);
    ENQ(km, wg, rows, 1, &ev[n_ev - 1], &ev[n_ev]);
    n_ev++;
    if (event) {
        *event = ev[n_ev - 1];
        clRetainEvent(*event);
    }
    st = TT_SUCCESS;
done:
    for (int e = 0; e < n_ev; e++)
        clReleaseEvent(ev[e]);
    tt__put_kernel(ctx, plan.program, "tt_vmean", kv);
    tt__put_kernel(ctx, plan.program, "tt_scores", ks);
    tt__put_kernel(ctx, plan.program, "tt_select", ksel);
    tt__put_kernel(ctx, plan.program, "tt_attend", ka);
    tt__put_kernel(ctx, plan.program, "tt_merge", km);
    tt__scratch_release(ctx, &scr);
    clReleaseProgram(plan.program);
    free(th_host);
    free(dh_host);
    return st;
}
