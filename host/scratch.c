/* scratch.c — per-(context, queue) pools of device scratch buffers for the attention paths.
 * Reuse is safe only where commands of consecutive calls are serialised: an in-order queue, and
 * one host thread at a time between acquire and release (the busy flag); anything else gets
 * buffers of its own, exactly as before pooling existed. Pools grow, never shrink. */
#include "scratch.h"
#include <stdlib.h>
#include <string.h>

static int in_order(cl_command_queue queue)
{
    cl_command_queue_properties props = 0;
    if (clGetCommandQueueInfo(queue, CL_QUEUE_PROPERTIES, sizeof props, &props, NULL) != CL_SUCCESS)
        return 0;
    return !(props & CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE);
}

/* The queue's pool, claimed for this call, or NULL. Caller holds ctx->lock. */
static tt__scratch *claim(tt_context *ctx, cl_command_queue queue)
{
    tt__scratch *free_slot = NULL;
    for (int i = 0; i < TT_SCRATCH_QUEUES; i++) {
        tt__scratch *p = &ctx->scratch[i];
        if (p->queue == queue)
            return p->busy ? NULL : (p->busy = 1, p);
        if (!p->queue && !free_slot)
            free_slot = p;
    }
    if (!free_slot)
        return NULL;
    clRetainCommandQueue(queue);
    free_slot->queue = queue;
    free_slot->busy = 1;
    return free_slot;
}

static cl_mem create(tt_context *ctx, size_t bytes, tt_status *st)
{
    cl_int err;
    cl_mem m = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE, bytes, NULL, &err);
    if (err != CL_SUCCESS)
        *st = tt__fail(ctx, (tt_status)err, "scratch buffer of %zu bytes: %s", bytes,
                       tt_status_name(err));
    return err == CL_SUCCESS ? m : NULL;
}

tt_status tt__scratch_acquire(tt_context *ctx, cl_command_queue queue, const size_t *bytes, int n,
                              tt__scratch_set *set)
{
    memset(set, 0, sizeof *set);
    if (n > TT_SCRATCH_SLOTS)
        return tt__fail(ctx, TT_ERR_INTERNAL, "scratch: %d buffers asked for", n);
    tt__scratch *p = NULL;
    if (in_order(queue)) {
        pthread_mutex_lock(&ctx->lock);
        p = claim(ctx, queue);
        pthread_mutex_unlock(&ctx->lock);
    }
    set->pool = p;
    tt_status st = TT_SUCCESS;
    for (int i = 0; i < n && st == TT_SUCCESS; i++) {
        if (!bytes[i])
            continue;
        if (!p) {
            set->mem[i] = create(ctx, bytes[i], &st);
            set->fresh |= 1u << i;
            continue;
        }
        if (p->cap[i] < bytes[i]) { /* grow: the old buffer's pending users keep it alive */
            if (p->mem[i])
                clReleaseMemObject(p->mem[i]);
            p->mem[i] = NULL;
            p->cap[i] = 0;
            size_t want = bytes[i] + bytes[i] / 4; /* headroom for a growing KV length */
            if ((p->mem[i] = create(ctx, want, &st)) != NULL)
                p->cap[i] = want;
            set->fresh |= 1u << i;
        }
        set->mem[i] = p->mem[i];
    }
    if (st != TT_SUCCESS)
        tt__scratch_release(ctx, set);
    return st;
}

void tt__scratch_release(tt_context *ctx, tt__scratch_set *set)
{
    if (set->pool) {
        pthread_mutex_lock(&ctx->lock);
        set->pool->busy = 0;
        pthread_mutex_unlock(&ctx->lock);
    } else {
        for (int i = 0; i < TT_SCRATCH_SLOTS; i++)
            if (set->mem[i])
                clReleaseMemObject(set->mem[i]);
    }
    memset(set, 0, sizeof *set);
}

static void CL_CALLBACK free_when_written(cl_event ev, cl_int status, void *owned)
{
    (void)ev, (void)status; /* also called when the write ended in an error */
    free(owned);
}

tt_status tt__scratch_write_owned(tt_context *ctx, cl_command_queue queue, cl_mem dst, void *owned,
                                  size_t bytes, cl_uint num_wait, const cl_event *wait_list,
                                  cl_event *ev)
{
    cl_event w = NULL;
    cl_int err = clEnqueueWriteBuffer(queue, dst, CL_FALSE, 0, bytes, owned, num_wait, wait_list,
                                      &w);
    if (err != CL_SUCCESS) {
        free(owned);
        return tt__fail(ctx, (tt_status)err, "write of %zu bytes to the device: %s", bytes,
                        tt_status_name(err));
    }
    if (clSetEventCallback(w, CL_COMPLETE, free_when_written, owned) != CL_SUCCESS) {
        clWaitForEvents(1, &w); /* no callback: the copy must outlive the write */
        free(owned);
    }
    if (ev)
        *ev = w;
    else
        clReleaseEvent(w);
    return TT_SUCCESS;
}

tt_status tt__scratch_upload(tt_context *ctx, cl_command_queue queue, int chain, int n,
                             const cl_mem *dst, void **owned, const size_t *bytes,
                             cl_uint num_wait, const cl_event *wait_list, cl_event *after)
{
    cl_event w[TT_SCRATCH_SLOTS];
    cl_uint nw = 0;
    tt_status st = TT_SUCCESS;
    *after = NULL;
    for (int i = 0; i < n; i++) {
        if (st != TT_SUCCESS || !dst[i]) {
            free(owned[i]);
            continue;
        }
        const int wait = chain || nw == 0;
        st = tt__scratch_write_owned(ctx, queue, dst[i], owned[i], bytes[i], wait ? num_wait : 0,
                                     wait ? wait_list : NULL, chain ? &w[nw] : NULL);
        nw += st == TT_SUCCESS && (chain || nw == 0); /* in order only the first counts */
    }
    if (chain && nw && st == TT_SUCCESS) {
        cl_int err = clEnqueueMarkerWithWaitList(queue, nw, w, after);
        if (err != CL_SUCCESS)
            st = tt__fail(ctx, (tt_status)err, "marker after the uploads: %s",
                          tt_status_name(err));
    }
    if (chain)
        for (cl_uint i = 0; i < nw; i++)
            clReleaseEvent(w[i]);
    return st;
}

void tt__scratch_destroy(tt_context *ctx)
{
    for (int i = 0; i < TT_SCRATCH_QUEUES; i++) {
        tt__scratch *p = &ctx->scratch[i];
        for (int j = 0; j < TT_SCRATCH_SLOTS; j++)
            if (p->mem[j])
                clReleaseMemObject(p->mem[j]);
        if (p->queue)
            clReleaseCommandQueue(p->queue);
        memset(p, 0, sizeof *p);
    }
}
