/* bench_blocks.c — kept-block occupancy of a prefill workload (tools/common/blocks.h) on a sample
 * of its query tiles, with the timed call's mode and thresholds: how much of the tensor-core P·V a
 * Top-θ or top-k prefill can skip on this data. Every row of a 8K chunk would take minutes. */
#include "bench.h"
#include "common/blocks.h"
#include <math.h>

tt_status bench_blocks(const bench_data *d, const tt_attn_params *p, int n_tiles,
                       bench_block_fracs *f)
{
    const tt_attn_shape *s = &d->s;
    f->block = f->keys = f->packed = NAN;
    if (!d->q || !d->k || s->q_len < 2)
        return TT_SUCCESS; /* decode, or no host copy of K: nothing to estimate */
    const int G = s->n_kv_heads, group = s->n_heads / G, D = s->head_dim, KL = s->kv_len;
    const int bq = tt_blk_tile_positions(group), QL = s->q_len, p0 = KL - QL;
    const int per_seq = (QL + bq - 1) / bq, k_eff = tt_blk_k_eff(p);
    const long total = (long)s->batch * G * per_seq;
    tt_blk_scratch w = {0};
    tt_blk_counts c = {0};
    tt_status st = TT_SUCCESS;
    /* Tiles spread evenly over (sequence, KV head, tile), so early (short) and late rows mix. */
    for (int t = 0; t < n_tiles && t < total && st == TT_SUCCESS; t++) {
        long x = (long)((t + 0.5) * total / (n_tiles < total ? n_tiles : total));
        int tile = (int)(x % per_seq), bg = (int)(x / per_seq), b = bg / G, g = bg % G;
        const float *q = d->q + (size_t)b * s->n_heads * QL * D;
        const char *k = (const char *)d->k + ((size_t)b * G + g) * KL * D * d->elem;
        st = tt_blk_add_query_tile(&c, &w, p, k_eff, q, (size_t)QL * D, g * group, group,
                                   tile * bq, (tile + 1) * bq < QL ? (tile + 1) * bq : QL, p0, k,
                                   d->elem == 2, D);
    }
    if (st == TT_SUCCESS && c.blocks > 0) {
        f->block = c.blocks_kept / c.blocks;
        f->keys = c.keys_kept / c.keys;
        f->packed = c.compact / c.blocks;
    }
    tt_blk_scratch_free(&w);
    return st == TT_SUCCESS ? st : bench_fail(st, "block occupancy: %s", tt_status_name(st));
}
