/* prefill.h — the tiled prefill path (prefill.c ↔ kernels/prefill/prefill.cl), used by
 * tt_attention_enqueue for chunks of two or more query rows in dense and Top-θ modes. */
#ifndef TT_PREFILL_H
#define TT_PREFILL_H

#include "attention_plan.h"

/* Whether the tiled path takes this call; TT_PREFILL_GENERIC=1 forces the generic path. */
int tt__prefill_eligible(const tt_context *ctx, const tt_attn_shape *s, const tt_attn_params *p);

tt_status tt__prefill_enqueue(tt_context *ctx, cl_command_queue queue, const tt_attn_shape *s,
                              const tt_attn_params *p, const tt__plan *plan, const tt_tensor *q,
                              const tt_tensor *k, const tt_tensor *v, const tt_tensor *o,
                              cl_mem vsum, cl_mem stats, cl_uint num_wait,
                              const cl_event *wait_list, cl_event *event);

#endif
