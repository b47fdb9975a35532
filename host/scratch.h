/* scratch.h — device scratch buffers reused across attention calls on the same in-order queue
 * (scratch.c). Creating them per call costs host time and, on some drivers, allocation and
 * first-touch work on the device timeline before the first kernel starts. */
#ifndef TT_SCRATCH_H
#define TT_SCRATCH_H

#include "internal.h" /* tt__scratch, the pool itself, lives in the context */

/* A call's buffers: mem[i] holds at least bytes[i] (0 means "not needed": mem[i] = NULL). */
typedef struct tt__scratch_set {
    cl_mem mem[TT_SCRATCH_SLOTS];
    tt__scratch *pool; /* NULL: per-call buffers, released by tt__scratch_release */
    unsigned fresh;    /* bit i: mem[i] was created by this acquire (contents undefined) */
} tt__scratch_set;

/* Takes n (<= TT_SCRATCH_SLOTS) read-write buffers. They come from the queue's pool when the queue
 * is in order (the next call's commands cannot start before this call's finished) and no other
 * thread is using the pool, else they are created for this call. */
tt_status tt__scratch_acquire(tt_context *ctx, cl_command_queue queue, const size_t *bytes, int n,
                              tt__scratch_set *set);
/* Gives the buffers back once every command using them has been enqueued. */
void tt__scratch_release(tt_context *ctx, tt__scratch_set *set);
/* Enqueues a non-blocking write of bytes from owned (malloc'ed; this call takes it and frees it
 * once the write has completed, or at once if the write cannot be enqueued) into dst. The host
 * never waits for the device, unlike a buffer created per call with CL_MEM_COPY_HOST_PTR, which
 * some drivers fill synchronously behind the queue's pending work. ev (may be NULL) gets the
 * write's event. */
tt_status tt__scratch_write_owned(tt_context *ctx, cl_command_queue queue, cl_mem dst, void *owned,
                                  size_t bytes, cl_uint num_wait, const cl_event *wait_list,
                                  cl_event *ev);
/* Writes n host arrays (owned[i], malloc'ed, taken by this call in every case) into dst[i]
 * (entries with a NULL dst are only freed) with tt__scratch_write_owned. In order (chain 0) the
 * first write waits for the caller's events and *after is NULL: later commands follow anyway. Out
 * of order (chain 1) every write waits for them and *after is a marker for all writes, which the
 * first command that reads them must wait for. */
tt_status tt__scratch_upload(tt_context *ctx, cl_command_queue queue, int chain, int n,
                             const cl_mem *dst, void **owned, const size_t *bytes,
                             cl_uint num_wait, const cl_event *wait_list, cl_event *after);
/* Context teardown: releases the pools' buffers and queues. */
void tt__scratch_destroy(tt_context *ctx);

#endif
