/* blocks.h — kept-block occupancy: of the (query tile × 16-key block) pieces a causal prefill
 * visits, how many hold at least one kept score. A tensor-core P·V multiplies whole blocks, so
 * this fraction, not the kept fraction, bounds what Top-θ can skip there (kernels/prefill). */
#ifndef TT_TOOLS_BLOCKS_H
#define TT_TOOLS_BLOCKS_H

#include "toptheta.h"
#include <stddef.h>

#define TT_BLK_KEYS 16 /* the tensor-core P·V's key block (prefill.cl, PF_PVM) */

typedef struct tt_blk_counts {
    double pairs, kept;         /* visible (row, key) pairs and the kept ones */
    double blocks, blocks_kept; /* visible (tile, key block) pieces, those with a kept pair */
    double tiles, tiles_kept;   /* the same for 32-key blocks (the kernel's K/V tile) */
    double keys, keys_kept;     /* visible (tile, key) pieces, those some row of the tile kept */
    double compact;             /* Σ over 32-key tiles of ⌈kept-key union / 16⌉: the 16-key
                                 * blocks left once each tile's kept keys are packed together */
} tt_blk_counts;

/* Query positions per tile for a GQA group: the prefill kernel's BQ (32 rows = BQ × group). */
int tt_blk_tile_positions(int group);

/* Adds one tile of nrows rows: row r sees keys 0 .. n[r] − 1 and keeps key j where
 * kept[r · stride + j] != 0. A block counts as visible when some row of the tile sees a key of it. */
void tt_blk_add_tile(tt_blk_counts *c, int nrows, const int *n, const unsigned char *kept,
                     size_t stride);

/* Kept flags of one row of n scaled scores s of query head `head` under p (dense, top-k, or
 * Top-θ with the table's θ at length n and the pre / rel / exact post placement; k_eff is the
 * call's k: rows with n <= k_eff stay dense, as in the library). work: n doubles. Returns
 * TT_SUCCESS or the table lookup's status. */
tt_status tt_blk_row_kept(const tt_attn_params *p, int k_eff, int head, int n, const double *s,
                          unsigned char *kept, double *work);

/* The k a call of p uses (top-k: p->k; Top-θ: p->k, else the table's k for p->layer; dense 0). */
int tt_blk_k_eff(const tt_attn_params *p);

/* Sum of b into a. */
void tt_blk_merge(tt_blk_counts *a, const tt_blk_counts *b);

/* Host scratch of tt_blk_add_query_tile (zero-initialise; tt_blk_scratch_free releases it). */
typedef struct tt_blk_scratch {
    int cap_rows, cap_len;
    double *s, *work;
    unsigned char *kept;
    int *n;
} tt_blk_scratch;
void tt_blk_scratch_free(tt_blk_scratch *w);

/* Scores, cuts (p, k_eff) and adds to c one query tile of a causal chunk: query positions
 * i0 .. i1 − 1 (row i sees keys 0 .. p0 + i) of heads h0 .. h0 + group − 1. q is a sequence's
 * head-major fp32 Q (head stride q_head_stride, row stride d), k its KV head's rows (stride d),
 * fp32 or fp16 bits (k_f16). Returns TT_SUCCESS, TT_OUT_OF_HOST_MEMORY or a lookup's status. */
tt_status tt_blk_add_query_tile(tt_blk_counts *c, tt_blk_scratch *w, const tt_attn_params *p,
                                int k_eff, const float *q, size_t q_head_stride, int h0,
                                int group, int i0, int i1, int p0, const void *k, int k_f16,
                                int d);

/* A model runner observer (tools/model/model.h, tm_observer_fn) that cuts every row it sees with
 * params[layer] (not owned, kept for the observer's life) and counts each layer's tiles.
 * tt_blk_observe returns 0 or a tt_status (out of memory, a table lookup's failure). */
typedef struct tt_blk_observer tt_blk_observer;
tt_blk_observer *tt_blk_observer_create(int n_layers, const tt_attn_params *params);
void tt_blk_observer_destroy(tt_blk_observer *b);
int tt_blk_observe(void *user, int layer, int n_heads, int n_kv_heads, int head_dim, int T, int p0,
                   const float *q, const float *k);
int tt_blk_observer_layers(const tt_blk_observer *b);
const tt_blk_counts *tt_blk_observer_layer(const tt_blk_observer *b, int layer);

#endif
