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
/* Context teardown: releases the pools' buffers and queues. */
void tt__scratch_destroy(tt_context *ctx);

#endif
