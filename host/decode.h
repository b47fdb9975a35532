/* decode.h — the split-KV decode path (decode.c ↔ kernels/decode/), used by
 * tt_attention_enqueue for calls with one query row per head. */
#ifndef TT_DECODE_H
#define TT_DECODE_H

#include "attention_plan.h"

#define TT_MAX_HEADS_DECODE 1024

/* Whether the decode path takes this call (q_len == 1, head size fits the work-group);
 * TT_DECODE_GENERIC=1 forces the generic path, for comparisons. */
int tt__decode_eligible(const tt_context *ctx, const tt_attn_shape *s, int wg);

/* The chunk length a GPU launch takes, starting from ch (tuning database or built-in guess) for
 * seqs (sequence, KV head) pairs of kv_len keys on compute_units compute units: doubled once the
 * launch fills every unit four times over, halved (down to wg) while it has fewer work-groups
 * than units. */
int tt__decode_gpu_chunk(int ch, int wg, size_t compute_units, size_t seqs, size_t kv_len);

tt_status tt__decode_enqueue(tt_context *ctx, cl_command_queue queue, const tt_attn_shape *s,
                             const tt_attn_params *p, const tt__plan *plan, const tt_tensor *q,
                             const tt_tensor *k, const tt_tensor *v, const tt_tensor *o,
                             cl_mem vsum, cl_mem stats, cl_uint num_wait,
                             const cl_event *wait_list, cl_event *event);

#endif
