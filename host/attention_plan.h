/* attention_plan.h — what tt_attention_enqueue decides before it enqueues anything: checked
 * tensors and queue, the program for the call's compile-time parameters, the work-group size and
 * the key chunking (attention_plan.c). */
#ifndef TT_ATTENTION_PLAN_H
#define TT_ATTENTION_PLAN_H

#include "internal.h"

typedef struct tt__plan {
    cl_program program; /* retained; released by the caller */
    int wg;             /* work-group size (power of two) */
    int group;          /* query heads per KV head */
    int k_eff;          /* 0: every row dense */
    int n_chunks, chunk_len;
    int store_scores;   /* decode keeps scores instead of re-reading K */
    cl_uint layout[16]; /* (offset, stride_batch, stride_head, stride_row) for Q, K, V, O */
} tt__plan;

tt_status tt__plan_attention(tt_context *ctx, cl_command_queue queue, const tt_attn_shape *s,
                             const tt_attn_params *p, const tt_tensor *q, const tt_tensor *k,
                             const tt_tensor *v, const tt_tensor *o, cl_mem vsum, cl_mem stats,
                             cl_uint num_wait, const cl_event *wait_list, tt__plan *plan);

/* 1 when every K and V row starts on a multiple of elems elements (offsets and strides of the
 * layout; buffer bases are aligned far beyond that by OpenCL): the condition for vector loads. */
int tt__plan_kv_aligned(const tt__plan *plan, unsigned elems);

/* Local memory (bytes) the attention passes need for a head size, group and work-group size. */
size_t tt__attention_local_bytes(int head_dim, int group, int wg);

#endif
